"""Does seed fusion keep each seed its own? Each seed of a fused group (acai_repro.training.fusion) against
the same seed trained alone, after a few steps.

`compare(model, device)` builds a tiny lines cell (config/smoke.yaml; dz 16, a batch of 8,
networks of base width 4) for a group of seeds with seed fusion (on the fast path, which fusion
is part of), trains the group `steps` fused steps as the trainer does (`FusedGroup` and its
stepper: a captured CUDA graph on CUDA; then each seed's slice pulled into its `Run`, as before a
checkpoint), trains each seed's own `Run`, built from the same spec, the same steps alone by the
unfused loop (`one_step`), and returns per seed the largest relative gap (`relative_gap`) of its
weights (on the scale of how far the steps moved them), of Adam's moments (exp_avg, exp_avg_sq)
and of its buffers (the VQ-VAE's EMA codebook, counts and sums).

The seeds alone are built from the same specs (`build_run`, as their cells build them) and
compared by parameter and buffer names, so the check holds whichever networks the fast path
compiles. What separates fused from alone on clean code is how fusion schedules the arithmetic
(grouped convolutions, batched products, one Adam kernel over the stacked seeds): rounding.

Why float64 (the default; torch's default dtype while the comparison builds and trains, the
batches cast): in float32 that rounding, amplified by Adam's normalised steps where a gradient
nearly cancels, reaches 2.7e-2 on clean code while a leak of 1e-4 of the neighbouring seed's
gradient can give as little as 3.3e-2, so no tolerance could tell them apart. In float64 the
clean gaps are <= 6.1e-13 and every known-bad control (CONTROLS) gives >= 4.7e-2 on every seed
of every model it applies to (benchmarks/results/fusion-check-cpu-2026-12-07/): TOLERANCE lies
over four decades from each.

Command line (exit 0: every model within tolerance, 1: one is not, 2: usage error):

    python -m acai_repro.fusion_check --device cpu --models acai vqvae --steps 5

`--control NAME` injects one of the known-bad CONTROLS into the fused step first: the check
must then fail (exit 1); that is how the leaked gaps were measured.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from acai_repro.config import CONFIG_DIR, DEFAULT_CONFIG, cell_spec, load_config, with_run_settings
from acai_repro.data import build_source
from acai_repro.models import MODELS
from acai_repro.models.base import unfusable_reason
from acai_repro.training.cuda_graphs import build_stepper, resolve_cuda_graphs
from acai_repro.training.fusion import FusedGroup, OneSeedStep
from acai_repro.training.train import on_stream
from acai_repro.training.training_run import Run, build_run, one_step, resolve_device

SEEDS = (0, 1, 2)
DZ = 16
BATCH = 8
DEPTH = 4  # the networks' base width (smoke: 16): the leaks show at any width, and 5 steps cost ~1 s
KINDS = ("weights", "adam", "buffers")
MOMENTS = ("exp_avg", "exp_avg_sq")
# Measured in float64 on the CPU (benchmarks/results/fusion-check-cpu-2026-12-07/): clean code
# <= 6.1e-13 for every model and seed; each known-bad control >= 4.7e-2 on every seed of every
# model it applies to. Over four decades each side.
TOLERANCE = 1e-6


@dataclass
class Gaps:
    """One seed's largest relative gaps, fused against alone, per kind of state."""

    seed: int
    weights: float
    adam: float
    buffers: float

    def largest(self) -> float:
        return max(self.weights, self.adam, self.buffers)


def relative_gap(fused: torch.Tensor, alone: torch.Tensor, start: torch.Tensor | None = None) -> float:
    """max |fused - alone| over max |alone - start| (start: zero): the gap on the scale of the
    tensor's values, or of how far training moved it from `start` (for weights, whose few steps
    move them by ~1e-4 of their size). 0 for equal tensors; against a scale of 0, absolute."""
    fused, alone = fused.detach().double(), alone.detach().double()
    if alone.numel() == 0:
        return 0.0
    scale = (alone - start.detach().double() if start is not None else alone).abs().max().item()
    gap = (fused - alone).abs().max().item()
    return gap / scale if scale > 0 else gap


def tiny_specs(model: str, device: str, seeds=SEEDS, batch: int = BATCH, depth: int | None = DEPTH) -> list[dict]:
    """Each seed's spec of a fused lines group at smoke scale (config/smoke.yaml), dz 16, a batch
    of `batch` and the networks' base width `depth` (None: the config's): what a training job
    receives, on `device`."""
    config = load_config(DEFAULT_CONFIG, CONFIG_DIR / "smoke.yaml")
    if depth is not None:
        config["datasets"]["lines"]["depth"] = depth
    config["seeds"] = list(seeds)
    config["device"] = device
    config["training"].update(fast_path=True, seed_fusion=True, batch_size=batch)
    return [with_run_settings(cell_spec(config, "lines", model, DZ, seed), config) for seed in seeds]


class InDtype:
    """A data source whose training batches come in `dtype` (the lines renderer makes float32)."""

    def __init__(self, source, dtype: torch.dtype):
        self.source, self.dtype = source, dtype

    def train_batch(self, batch: int, generator: torch.Generator):
        x, y = self.source.train_batch(batch, generator)
        return x.to(self.dtype), y


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """torch's default dtype set to `dtype` inside (weights, buffers, draws and running tensors
    are then made in it), restored after."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def _source(spec: dict, device: torch.device) -> InDtype:
    return InDtype(build_source(spec, device), torch.get_default_dtype())


def state_of(run: Run) -> dict[str, dict[str, torch.Tensor]]:
    """A run's weights, Adam moments and buffers, each kind by name (OneSeedStep's names; a
    moment as `group:parameter:moment`)."""
    step = OneSeedStep(run.model, run.classifier)
    params = dict(step.named_parameters())
    names = {id(p): name for name, p in params.items()}
    moments = {}
    for group, opt in run.optimizers.items():
        for p, state in opt.state.items():
            moments.update({f"{group}:{names[id(p)]}:{key}": state[key] for key in MOMENTS if key in state})
    return {"weights": params, "adam": moments, "buffers": dict(step.named_buffers())}


def train_fused(specs: list[dict], steps: int, log) -> tuple[list[Run], bool]:
    """The group trained `steps` fused steps as FusedGroupTrainer trains it (on its own stream,
    by its stepper: a captured graph on CUDA when the spec's cuda_graphs allows), each seed's
    slice then pulled into its Run. Returns the runs and whether the step was graphed."""
    device = resolve_device(specs[0]["device"])
    runs = [build_run(spec, device) for spec in specs]
    stream = torch.cuda.Stream(device) if device.type == "cuda" else None
    with on_stream(stream):
        group = FusedGroup(runs, [_source(spec, device) for spec in specs], specs[0]["training"]["batch_size"])
        group.push()
        graphs = resolve_cuda_graphs(specs[0]["training"].get("cuda_graphs", "auto"), device)
        stepper = build_stepper(group, group.step, [group.worst], graphs, log)
        for _ in range(steps):
            stepper()
        for index in range(len(runs)):
            group.pull(index)
    if stream is not None:
        stream.synchronize()
    return runs, stepper.graphed


def train_alone(spec: dict, steps: int) -> tuple[Run, dict[str, torch.Tensor]]:
    """One seed trained `steps` steps alone by the unfused loop (`one_step`), eagerly; the run and
    its initial weights."""
    device = resolve_device(spec["device"])
    run = build_run(spec, device)
    start = {name: p.detach().clone() for name, p in state_of(run)["weights"].items()}
    source = _source(spec, device)
    worst = torch.zeros((), device=device)
    for _ in range(steps):
        one_step(run, source, spec["training"]["batch_size"], worst)
    return run, start


def _check_request(model: str, steps: int, seeds) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    reason = unfusable_reason(MODELS[model])
    if reason:
        raise ValueError(reason)
    if steps < 1 or len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"the comparison needs at least 1 step and 2 distinct seeds, got {steps} steps and seeds {list(seeds)}"
        )


def compare(
    model: str,
    device: str = "cpu",
    steps: int = 5,
    seeds=SEEDS,
    batch: int = BATCH,
    depth: int | None = DEPTH,
    dtype: torch.dtype = torch.float64,
    log: Callable[[str], None] = lambda message: None,
) -> list[Gaps]:
    """Per seed, the largest relative gaps between the seed trained `steps` steps fused with
    `seeds` and the same seed trained alone (weights: on the scale of their movement)."""
    _check_request(model, steps, seeds)
    specs = tiny_specs(model, device, seeds, batch, depth)
    with default_dtype(dtype):
        fused, graphed = train_fused(specs, steps, log)
        alone = [train_alone(spec, steps) for spec in specs]
    log(
        f"{model}: {len(specs)} seeds, {steps} steps of {batch}, {dtype}, fused step {'graphed' if graphed else 'eager'}"
    )
    return [_seed_gaps(model, spec, run, *solo) for spec, run, solo in zip(specs, fused, alone)]


def _seed_gaps(model: str, spec: dict, fused: Run, alone: Run, start: dict) -> Gaps:
    together, own = state_of(fused), state_of(alone)
    largest = {}
    for kind in KINDS:
        if together[kind].keys() != own[kind].keys():
            raise AssertionError(
                f"{model} seed {spec['seed']}: the fused run's {kind} are "
                f"{sorted(together[kind])}, alone {sorted(own[kind])}"
            )
        gaps = [
            relative_gap(together[kind][n], own[kind][n], start.get(n) if kind == "weights" else None)
            for n in own[kind]
        ]
        largest[kind] = max(gaps, default=0.0)
    return Gaps(spec["seed"], **largest)


# ---- known-bad controls: leaks between neighbouring seeds the check must catch ---------------
def _mix_with_neighbour(tensor: torch.Tensor, share: float) -> None:
    """Each seed's slice (leading dimension) takes `share` of the previous seed's, in place."""
    tensor.mul_(1 - share).add_(tensor.roll(1, 0), alpha=share)


def ema_mixing_step(step: Callable) -> Callable:
    """FusedGroup.step, then half of each seed's VQ-VAE EMA buffers mixed with its neighbour's."""

    def leaky(self):
        losses = step(self)
        with torch.no_grad():
            for name, buffer in self.buffers.items():
                if "ema" in name:
                    _mix_with_neighbour(buffer, 0.5)
        return losses

    return leaky


def adam_mixing_step(step: Callable) -> Callable:
    """FusedGroup.step, then half of each seed's Adam exp_avg_sq mixed with its neighbour's."""

    def leaky(self):
        losses = step(self)
        with torch.no_grad():
            for opt in self.optimizers.values():
                for state in opt.state.values():
                    _mix_with_neighbour(state["exp_avg_sq"], 0.5)
        return losses

    return leaky


def gradient_leaking_init(init: Callable, share: float = 1e-4) -> Callable:
    """FusedGroup.__init__, then each stacked weight's gradient gets `share` of the neighbouring
    seed's (a hook on the stacked parameter: every backward)."""

    def leaky(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for param in self.params.values():
            param.register_hook(lambda grad: grad + share * grad.roll(1, 0))

    return leaky


CONTROLS = {  # name: (FusedGroup attribute replaced, its faulty replacement's maker)
    "ema-mix": ("step", ema_mixing_step),
    "adam-mix": ("step", adam_mixing_step),
    "gradient-leak": ("__init__", gradient_leaking_init),
}


@contextlib.contextmanager
def injected(control: str) -> Iterator[None]:
    """The known-bad `control` in FusedGroup inside, the real code restored after."""
    attribute, make = CONTROLS[control]
    original = getattr(FusedGroup, attribute)
    setattr(FusedGroup, attribute, make(original))
    try:
        yield
    finally:
        setattr(FusedGroup, attribute, original)


# ---- command line --------------------------------------------------------------------------
def _number(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


def report_line(model: str, gaps: list[Gaps], tolerance: float = TOLERANCE) -> tuple[str, bool]:
    """`model: weights W, adam A, buffers B (tolerance T) ok|FAIL ...`, the largest of each
    kind over the seeds; and whether every seed is within the tolerance."""
    worst = {kind: max(getattr(g, kind) for g in gaps) for kind in KINDS}
    over = [g.seed for g in gaps if not g.largest() <= tolerance]  # NaN fails too
    line = f"{model}: " + ", ".join(f"{kind} {_number(worst[kind])}" for kind in KINDS) + f" (tolerance {tolerance:g})"
    if over:
        return (
            line
            + f" FAIL: seed{'s' if len(over) > 1 else ''} {', '.join(map(str, over))} differ from the seed trained alone",
            False,
        )
    return line + " ok", True


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m acai_repro.fusion_check",
        description="Each seed of a fused group against the same seed trained alone (acai_repro.training.fusion_check). "
        "Exit 0: every model within tolerance; 1: a model is not; 2: usage error.",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument(
        "--models", nargs="+", default=list(MODELS), metavar="MODEL", help=f"default: all of {', '.join(MODELS)}"
    )
    p.add_argument("--steps", type=int, default=5, help="fused steps (default 5)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="the group's seeds (default 0 1 2)")
    p.add_argument("--batch", type=int, default=BATCH, help=f"batch size (default {BATCH})")
    p.add_argument("--depth", type=int, default=DEPTH, help=f"the networks' base width (default {DEPTH}; smoke: 16)")
    p.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default="float64",
        help="float64 (default); float32 only to measure its rounding gaps, which exceed the tolerance",
    )
    p.add_argument("--control", choices=sorted(CONTROLS), help="inject this known-bad leak first (the check must fail)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # a usage error exits 2
    try:
        device = str(resolve_device(args.device))
        for model in args.models:
            _check_request(model, args.steps, args.seeds)
        if args.batch < 1 or args.depth < 1:
            raise ValueError(f"--batch and --depth must be at least 1, got {args.batch} and {args.depth}")
    except (ValueError, RuntimeError) as error:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(
        f"fusion check on {device} (torch {torch.__version__}): seeds {args.seeds}, {args.steps} steps of "
        f"{args.batch}, depth {args.depth}, {args.dtype}{', control ' + args.control if args.control else ''}",
        file=sys.stderr,
    )
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    passed = True
    with injected(args.control) if args.control else contextlib.nullcontext():
        for model in args.models:
            gaps = compare(
                model, device, args.steps, tuple(args.seeds), args.batch, args.depth, getattr(torch, args.dtype), log
            )
            for g in gaps:
                log(
                    f"  seed {g.seed}: weights {_number(g.weights)}, adam {_number(g.adam)}, buffers {_number(g.buffers)}"
                )
            line, ok = report_line(model, gaps)
            print(line, flush=True)
            passed &= ok
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
