"""Seed fusion (`training.seed_fusion`, on the fast path): the seeds of one cell trained as one
stacked model.

Cells that differ only by their seed run the same networks on tensors of the same shapes. Fused,
their weights are stacked along a new leading dimension (`torch.func.stack_module_state`) and one
step computes every seed's losses at once under `torch.func.vmap`: each convolution of S seeds is
one grouped convolution, each matrix product one batched product, each Adam update one fused
kernel over the S seeds' tensors. The step makes the kernels of one cell, each S times bigger.

What stays each seed's own:
- its initial weights: each seed's `Run` is built exactly as its cell alone builds it, then
  stacked;
- its generators: each seed draws its batch from its own data generator and its step's noise
  (`model.noise`, acai_repro.models.base) from its own model generator, outside vmap, in the
  order its cell alone draws them;
- its arithmetic: nothing crosses seeds (a seed's gradient is that of its own loss; Adam is
  element-wise), so a seed that diverges leaves the others as they were;
- its evaluations, checkpoint, outputs and divergence check (acai_repro.training.train): before each, the
  seed's slice of the stacked state (weights, buffers, Adam's moments) is copied into its `Run`,
  which is then saved and evaluated as a cell alone.

The bits differ from the cell trained alone (a grouped convolution sums in another order), and
may depend on which seeds share the group: the group's seeds are in each member's spec
(`fused_seeds`), one job trains the whole group, and a rerun of one seed trains its group again.
Same group, same command: same bits (tests/test_fusion.py).

The networks run uncompiled under vmap (the fast path's per-network `torch.compile` is for cells
trained alone); fused Adam and, on CUDA, the captured CUDA graph of the whole step apply.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from acai_repro.models import build_model
from acai_repro.models.base import unfusable_reason
from acai_repro.nets import Architecture, dense
from acai_repro.training import fastpath
from acai_repro.training.training_run import classifier_loss


class OneSeedStep(nn.Module):
    """One seed's losses (the model's and the in-tandem classifier's), as a module holding that
    seed's model and classifier: `functional_call` runs it on one slice of the stacked state."""

    def __init__(self, model: nn.Module, classifier: nn.Module):
        super().__init__()
        self.model, self.classifier = model, classifier

    def forward(self, x: torch.Tensor, y: torch.Tensor, noise: dict) -> dict:
        losses, features = self.model.losses(x, noise)
        losses["classifier"] = classifier_loss(self.classifier, features, y)
        return losses


def _template(spec: dict) -> OneSeedStep:
    """A seed's step module without storage (on the meta device): the code vmap runs."""
    arch = Architecture(**spec["architecture"])
    with torch.device("meta"):
        return OneSeedStep(build_model(spec["model"], arch, spec["model_options"]), dense(arch.dz, spec["classes"]))


class FusedGroup:
    """The stacked state of a group of seeds' runs (acai_repro.training.training_run.Run, one per seed, in
    the group's order) and its step. Duck-types the parts of a `Run` that the CUDA-graph capture
    reads (device, groups, optimizers, generators(), tensors())."""

    def __init__(self, runs: list, sources: list, batch: int):
        self.runs, self.sources, self.batch = runs, sources, batch
        self.device = runs[0].device
        reason = unfusable_reason(type(runs[0].model))
        if reason:
            raise ValueError(reason)
        self.template = _template(runs[0].spec)
        own = [OneSeedStep(run.model, run.classifier) for run in runs]
        params, buffers = stack_module_state(own)
        self.params = {name: p.contiguous().detach().requires_grad_() for name, p in params.items()}
        self.buffers = {name: b.contiguous() for name, b in buffers.items()}
        self.stacked = self.params | self.buffers
        named = [dict(step.named_parameters()) | dict(step.named_buffers()) for step in own]
        # (stacked tensor, the seed's own tensor) of each seed: what pull and push copy
        self.member_tensors = [[(self.stacked[name], mine[name]) for name in self.stacked] for mine in named]
        # each parameter group's names, in the order of the seeds' own optimisers (their state's indices)
        names = {id(p): name for name, p in own[0].named_parameters()}
        group_names = {group: [names[id(p)] for p in params] for group, params in runs[0].groups.items()}
        self.groups = {group: [self.params[name] for name in names] for group, names in group_names.items()}
        self.member_params = [
            {group: [mine[name] for name in names] for group, names in group_names.items()} for mine in named
        ]
        lr = runs[0].spec["training"]["learning_rate"]
        self.optimizers = {name: fastpath.adam(params, lr, self.device, True) for name, params in self.groups.items()}
        self.worst = torch.zeros(len(runs), device=self.device)
        # stack_module_state copied every seed's weights and buffers; a resumed group's Adam
        # state comes in through push(), which the trainer calls

    # -- the step ---------------------------------------------------------------------------
    def _one_seed(self, params, buffers, x, y, noise):
        return functional_call(self.template, (params, buffers), (x, y, noise))

    def step(self) -> dict:
        """One step of every seed: each draws its batch and noise from its own generators, one
        vmapped forward and backward computes all, one fused Adam update per parameter group.
        Returns each loss as a [seeds] tensor; raises each seed's running max of |loss|."""
        xs, ys, noises = [], [], []
        for run, source in zip(self.runs, self.sources):
            x, y = source.train_batch(self.batch, run.data_generator)
            xs.append(x)
            ys.append(y)
            noises.append(run.model.noise(x, run.model_generator))
        noise = {key: torch.stack([n[key] for n in noises]) for key in noises[0]}
        losses = vmap(self._one_seed, randomness="error")(
            self.params, self.buffers, torch.stack(xs), torch.stack(ys), noise
        )
        for name, params in self.groups.items():
            for p in params:
                p.grad = None
            # a seed's slice of the sum's gradient is its own loss's gradient
            losses[name].sum().backward(inputs=params)
        for opt in self.optimizers.values():
            opt.step()
        per_seed = torch.stack([v.detach() for v in losses.values()]).abs().amax(0)
        torch.maximum(self.worst, per_seed, out=self.worst)
        return losses

    # -- what the CUDA-graph capture snapshots and restores ------------------------------------
    def generators(self) -> list[torch.Generator]:
        return [g for run in self.runs for g in run.generators()]

    def set_generators(self, generators: list[torch.Generator]) -> None:
        """New generators in the order of `generators()`: each run takes as many as it has."""
        rest = iter(generators)
        for run in self.runs:
            run.set_generators([next(rest) for _ in run.generators()])

    def tensors(self) -> list[torch.Tensor]:
        return list(self.stacked.values())

    # -- each seed's own Run ------------------------------------------------------------------
    @torch.no_grad()
    def pull(self, index: int) -> None:
        """Seed `index`'s slice of the stacked state into its Run: weights, buffers, Adam."""
        for stacked, mine in self.member_tensors[index]:
            mine.copy_(stacked[index])
        for group, opt in self.optimizers.items():
            own = self.runs[index].optimizers[group]
            for stacked, mine in zip(self.groups[group], self.member_params[index][group]):
                state = opt.state.get(stacked, {})
                own.state[mine] = {key: _slice(key, value, index) for key, value in state.items()}

    @torch.no_grad()
    def push(self, counts_from: int = 0) -> None:
        """Every seed's Run into the stacked state (at the start: fresh, or resumed from each
        seed's checkpoint). Adam keeps one step count per stacked tensor: seed `counts_from`'s
        (the trainer passes a seed still training; the group's live seeds agree on it)."""
        for index, pairs in enumerate(self.member_tensors):
            for stacked, mine in pairs:
                stacked[index].copy_(mine)
        for group, opt in self.optimizers.items():
            for position, stacked in enumerate(self.groups[group]):
                states = [
                    run.optimizers[group].state.get(self.member_params[i][group][position], {})
                    for i, run in enumerate(self.runs)
                ]
                if not states[counts_from]:
                    continue  # no step taken yet: Adam makes its state at the first one
                opt.state[stacked] = {
                    key: value.clone() if key == STEP else torch.stack([s[key] for s in states]).contiguous()
                    for key, value in states[counts_from].items()
                }


STEP = "step"  # Adam's step count, shared by a stacked tensor's seeds; its other entries are moments


def _slice(key: str, value: torch.Tensor, index: int) -> torch.Tensor:
    """A seed's part of one Adam state entry: the shared step count, or its slice of a moment."""
    return value.clone() if key == STEP else value[index].clone()
