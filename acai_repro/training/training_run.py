"""A cell's training run: its live objects (`Run`, made by `build_run`: model, optimisers,
generators, data) and the step they take (`one_step` -> `train_step` -> `compute_gradients`).

The eager loop (acai_repro.training.train) and the CUDA-graph capture (acai_repro.training.cuda_graphs) both run
`one_step`; it lives here so that both import it and neither imports the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from acai_repro.config import spec_digest
from acai_repro.models import build_model
from acai_repro.nets import Architecture, dense
from acai_repro.training import fastpath


@dataclass
class Run:
    """The live objects of one training run and everything needed to resume it."""

    spec: dict
    device: torch.device
    model: torch.nn.Module
    classifier: torch.nn.Module
    groups: dict
    optimizers: dict
    data_generator: torch.Generator
    model_generator: torch.Generator
    step: int = 0
    evals: list = field(default_factory=list)
    train_seconds: float = 0.0
    wall_seconds: float = 0.0  # training loop time with evaluations and checkpoints

    def state(self) -> dict:
        return {
            "digest": spec_digest(self.spec),
            "model": self.model.state_dict(),
            "classifier": self.classifier.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "data_generator": self.data_generator.get_state(),
            "model_generator": self.model_generator.get_state(),
            "step": self.step,
            "evals": self.evals,
            "train_seconds": self.train_seconds,
            "wall_seconds": self.wall_seconds,
        }

    def generators(self) -> list[torch.Generator]:
        """The run's generators (data, model): a CUDA graph registers and snapshots them."""
        return [self.data_generator, self.model_generator]

    def set_generators(self, generators: list[torch.Generator]) -> None:
        self.data_generator, self.model_generator = generators

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor a step changes in place but the optimisers' state: weights and buffers."""
        return [t for m in (self.model, self.classifier) for t in list(m.parameters()) + list(m.buffers())]

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.classifier.load_state_dict(state["classifier"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            _adam_on(opt, self.device)  # a checkpoint may come from another device
        self.data_generator.set_state(state["data_generator"].cpu())
        self.model_generator.set_state(state["model_generator"].cpu())
        self.step = state["step"]
        self.evals = state["evals"]
        self.train_seconds = state["train_seconds"]
        self.wall_seconds = state.get("wall_seconds", 0.0)  # absent from older checkpoints


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return torch.device(name)


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _deterministic_cuda() -> None:
    """Same seed, same run on a GPU too: exact resume and reruns of single table cells.

    cuDNN's autotuner and its atomics-based convolution kernels vary between runs; cuBLAS
    needs a fixed workspace to be deterministic (set before its first handle). Deterministic
    algorithms on: an op without a deterministic CUDA kernel (e.g. a float `index_add_`)
    raises instead of silently changing results from run to run.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)


def set_conv_precision(conv_tf32: bool) -> None:
    """cuDNN convolutions in float32 (the protocol) or TF32. PyTorch's own default lets cuDNN
    use TF32 on Ampere and newer GPUs, which rounds every convolution's inputs to a 10-bit
    mantissa; matrix products stay float32 either way (torch's default). Process-wide: the
    cells of a pack share one setting (acai_repro.training.train refuses a mixed pack)."""
    torch.backends.cudnn.allow_tf32 = conv_tf32


def build_run(spec: dict, device: torch.device) -> Run:
    if device.type == "cuda":
        _deterministic_cuda()
        set_conv_precision(spec["training"]["conv_tf32"])
    torch.manual_seed(spec["seed"])  # weight initialisation
    arch = Architecture(**spec["architecture"])
    model = build_model(spec["model"], arch, spec["model_options"]).to(device)
    classifier = dense(arch.dz, spec["classes"]).to(device)
    fast = fastpath.is_fast(spec)
    if fast and not fastpath.is_fused(spec):  # fused seeds run under vmap (acai_repro.training.fusion)
        fastpath.accelerate(model, classifier)
    groups = dict(model.param_groups(), classifier=list(classifier.parameters()))
    lr = spec["training"]["learning_rate"]
    optimizers = {name: fastpath.adam(params, lr, device, fast) for name, params in groups.items()}
    return Run(
        spec,
        device,
        model,
        classifier,
        groups,
        optimizers,
        data_generator=make_generator(device, 2 * spec["seed"]),
        model_generator=make_generator(device, 2 * spec["seed"] + 1),
    )


def _adam_on(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Adam's `capturable` setting and step counts as `build_run` makes them for `device`
    (load_state_dict brings back the saved ones)."""
    capturable = device.type == "cuda"
    for group in opt.param_groups:
        group["capturable"] = capturable
    for state in opt.state.values():
        if "step" in state:
            step = state["step"].to(torch.float32)
            state["step"] = step.to(device) if capturable else step.cpu()


def compute_gradients(run: Run, x: torch.Tensor, y: torch.Tensor) -> dict:
    """Every loss from a single forward pass, and each parameter group's gradient of its own."""
    x = fastpath.step_input(x, fastpath.is_fast(run.spec))
    losses, features = run.model.training_losses(x, run.model_generator)
    losses["classifier"] = classifier_loss(run.classifier, features, y)
    for name, params in run.groups.items():
        for p in params:
            p.grad = None
        losses[name].backward(inputs=params)
    return losses


def classifier_loss(classifier: torch.nn.Module, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The in-tandem classifier's loss, on features detached from the model (docs/protocol.md §6)."""
    return F.cross_entropy(classifier(features.detach()), y)


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor) -> dict:
    """One simultaneous update of every parameter group from a single forward pass."""
    losses = compute_gradients(run, x, y)
    for opt in run.optimizers.values():
        opt.step()
    return losses


def one_step(run: Run, source, batch: int, worst: torch.Tensor) -> dict:
    """Draw a batch, update every group, raise the running max of |loss| in place: the unit
    that a CUDA graph captures (so all of it stays on the device)."""
    x, y = source.train_batch(batch, run.data_generator)
    losses = train_step(run, x, y)
    torch.maximum(worst, torch.stack([v.detach() for v in losses.values()]).abs().max(), out=worst)
    return losses
