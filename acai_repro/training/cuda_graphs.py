"""One whole training step as a CUDA graph, replayed.

At batch 64 the lines and MNIST networks are tiny: an eager step spends its time launching
~hundreds of kernels from Python, not computing. On CUDA the trainer therefore records one
step once and replays it: drawing the batch (the lines renderer, or indexing the on-device
uint8 dataset), every parameter group's forward and backward, every Adam update (Adam is
built with `capturable=True` on CUDA, for eager runs too, so both run the same arithmetic),
the VQ-VAE's EMA codebook update, the in-tandem classifier, and the running max of |loss|
that the divergence check reads. Nothing is read back to the host between evaluations.

Same numbers as eager, by construction:
- The cell's two generators are registered with the graph, so each replay draws from the
  Philox offset where the previous step left it and advances it by the whole step's draws,
  exactly as the eager calls would (torch's "CUDA graph-safe RNG states").
- The capture needs a few eager warm-up steps (lazy cuBLAS/cuDNN set-up, Adam's state, the
  allocator). They run on a side stream from a snapshot of every weight, buffer, optimiser
  state and generator state; after the capture the snapshot is copied back *in place* (the
  graph holds those addresses), so the first replay is the run's next step.
- Capture and replay only record and relaunch the eager kernels: with cuDNN and cuBLAS
  deterministic (acai_repro.training.training_run) a replay computes what the eager step computes.
  tests/test_cuda.py checks weights and evaluation histories bit for bit.

A step that cannot be captured (it reads a value back, or an op's output shape depends on
the data) falls back to eager with a log line naming the op and the line of code.
`step_blockers` finds such ops by running the step under a dispatch mode, on a CPU too:
`python -m acai_repro.cuda_graphs` lists which models capture.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from acai_repro.config import DEFAULT_CONFIG, cell_spec, load_config
from acai_repro.data import build_source
from acai_repro.models import MODELS
from acai_repro.training import fastpath
from acai_repro.training.training_run import build_run, compute_gradients

WARMUP_STEPS = 3
SETTINGS = ("auto", "off")
_PACKAGE = Path(__file__).resolve().parent.parent
aten = torch.ops.aten

# Ops that read a value back to the host or whose output shape depends on the data: a CUDA
# graph cannot contain them (the capture fails, or it would freeze one step's shape).
_BLOCKING = {
    aten._local_scalar_dense: "reads a value back to the host (.item(), float(), bool(), `if tensor`)",
    aten.nonzero: "output shape depends on the data (nonzero)",
    aten.masked_select: "output shape depends on the data (masked_select)",
    aten.bincount: "reads the largest index back to size its output (bincount)",
    aten._unique: "output shape depends on the data (unique)",
    aten._unique2: "output shape depends on the data (unique)",
    aten.unique_dim: "output shape depends on the data (unique)",
    aten.unique_consecutive: "output shape depends on the data (unique_consecutive)",
    aten.equal: "reads a comparison back to the host (torch.equal)",
    aten.is_nonzero: "reads a value back to the host (bool of a tensor)",
    aten.repeat_interleave: "output shape depends on the data (repeat_interleave without output_size)",
}
_MASK_INDEXING = {aten.index, aten.index_put, aten.index_put_, aten._index_put_impl_}


def resolve_cuda_graphs(setting: str, device: torch.device) -> bool:
    """`training.cuda_graphs`: auto = on for CUDA devices, off elsewhere; off = eager always."""
    if setting not in SETTINGS:
        raise ValueError(f"training.cuda_graphs must be one of {SETTINGS}, got {setting!r}")
    return setting == "auto" and torch.device(device).type == "cuda"


# ---- which steps capture --------------------------------------------------------------
def _caller() -> str:
    """The innermost frame of this package outside this module: where the op was called."""
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_PACKAGE) and path != Path(__file__).resolve():
            return f"{path.relative_to(_PACKAGE.parent)}:{frame.lineno} ({frame.name})"
    return "outside acai_repro"


def _devices(values) -> set[str]:
    return {v.device.type for v in values if isinstance(v, torch.Tensor) and v.dim() > 0}


def _blocking_reason(func, args, kwargs) -> str | None:
    packet = func.overloadpacket
    if packet in _BLOCKING:
        if packet is aten.repeat_interleave and kwargs.get("output_size") is not None:
            return None
        return _BLOCKING[packet]
    if packet in _MASK_INDEXING:
        indices = args[1] if len(args) > 1 else kwargs.get("indices", [])
        if any(i is not None and i.dtype in (torch.bool, torch.uint8) for i in indices):
            return f"boolean-mask indexing: output shape depends on the data ({packet.__name__})"
    if packet in (aten._to_copy, aten.copy_) and len(_devices(list(args) + list(kwargs.values()))) > 1:
        return f"copies between the host and the device ({packet.__name__})"
    if packet is aten._to_copy and "device" in kwargs and args and isinstance(args[0], torch.Tensor):
        if torch.device(kwargs["device"]).type != args[0].device.type and args[0].dim() > 0:
            return "copies between the host and the device (.to(device))"
    return None


class CaptureAudit(TorchDispatchMode):
    """Records every op run under it that a CUDA graph cannot contain, with its call site."""

    def __init__(self):
        super().__init__()
        self.blockers: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        reason = _blocking_reason(func, args, kwargs)
        if reason is not None:
            entry = f"{_caller()}: {reason}"
            if entry not in self.blockers:
                self.blockers.append(entry)
        return func(*args, **kwargs)


def capture_blockers(fn: Callable[[], object]) -> list[str]:
    """Run `fn` once and name every op in it that stops a CUDA graph capture (empty: none).
    Compiled networks (the fast path) run their eager code here: the audit reads the ops the
    Python code calls, and a compilation under a dispatch mode would see that mode's ops."""
    with fastpath.eager(), CaptureAudit() as audit:
        fn()
    return audit.blockers


def step_blockers(spec: dict) -> list[str]:
    """What stops one training step of `spec`'s cell from being captured, checked on the CPU.

    Runs the batch draw, every loss and every backward of one eager step on a fresh CPU copy
    of the cell. The Adam updates are left out: on the CPU Adam keeps its step count on the
    host by design, while on CUDA it runs with capturable=True, whose updates stay on the
    device (torch's documented capturable path).
    """
    spec = copy.deepcopy(spec)
    spec["device"] = "cpu"
    cpu = torch.device("cpu")
    run, source = build_run(spec, cpu), build_source(spec, cpu)
    batch = spec["training"]["batch_size"]

    def gradients():
        x, y = source.train_batch(batch, run.data_generator)
        compute_gradients(run, x, y)

    return capture_blockers(gradients)


def capture_report(config: dict, dataset: str = "lines", dz: int | None = None) -> dict[str, list[str]]:
    """Model name -> what stops its step from being captured ([] = it captures)."""
    report = {}
    for model in MODELS:
        own = config["table1"].get("dz_by_model", {}).get(model, config["table1"]["dz"])
        spec = cell_spec(config, dataset, model, dz or own, 0)
        spec["training"]["batch_size"] = 4  # the ops, not the sizes, decide
        report[model] = step_blockers(spec)
    return report


# ---- the steppers -----------------------------------------------------------------------
class EagerStep:
    """The reference: one eager step per call (the CPU path, and CUDA with graphs off)."""

    graphed = False

    def __init__(self, step: Callable[[], dict]):
        self.step = step

    def __call__(self) -> dict:
        return self.step()


class CaptureRefused(RuntimeError):
    """The step cannot be captured; the message says why."""


class GraphedStep:
    """One captured step; each call replays it. Its losses are the graph's static outputs."""

    graphed = True

    def __init__(self, run, step: Callable[[], dict], running: list[torch.Tensor], warmup: int = WARMUP_STEPS):
        # The graph reads and writes these objects' tensors by address: keep them alive as long
        # as the graph (freed, their memory would be handed out again while replays use it).
        self.run, self.step, self.running = run, step, running
        saved = snapshot(run, running)
        try:
            blockers = _warm_up(step, run.device, warmup)
            if blockers:
                raise CaptureRefused("; ".join(blockers))
            for params in run.groups.values():
                for p in params:
                    p.grad = None  # the captured backward allocates its gradients in the graph's pool
            self.graph = torch.cuda.CUDAGraph()
            for generator in run.generators():
                self.graph.register_generator_state(generator)
            self.losses = _capture(self.graph, step)
        except Exception:
            self.graph = None
            restore(run, running, saved, fresh_generators=True)
            raise
        restore(run, running, saved)

    def __call__(self) -> dict:
        self.graph.replay()
        return self.losses


def _capture(graph, step: Callable[[], dict]) -> dict:
    """Record one step into `graph` (nothing runs); returns its static output tensors.

    The capture runs on the current stream (a cell's own, see acai_repro.training.train) unless that is
    the default stream, which cannot capture. cuBLAS keeps one workspace per stream and a graph
    keeps the address it captured: graphs captured on one shared stream would share that
    workspace, and replayed concurrently on the streams of a pack they would race on it.
    """
    current = torch.cuda.current_stream()
    stream = None if current == torch.cuda.default_stream() else current
    with torch.cuda.graph(graph, stream=stream):
        return step()


def _warm_up(step, device, steps: int) -> list[str]:
    """Eager steps on a side stream (lazy set-up and allocations before the capture); the
    first one runs under the audit. Returns what would stop the capture.

    A cell of a pack already runs on its own stream: it warms up there. torch hands out
    streams from a pool of 32 in turn, so a second stream per cell would make the cells of an
    18-cell pack share streams (and wait for each other)."""
    current = torch.cuda.current_stream(device)
    side = current if current != torch.cuda.default_stream(device) else torch.cuda.Stream(device)
    side.wait_stream(current)
    with torch.cuda.stream(side):
        blockers = capture_blockers(step)
        for _ in range(steps - 1):
            step()
    torch.cuda.current_stream(device).wait_stream(side)
    torch.cuda.synchronize(device)
    return blockers


def build_stepper(run, step: Callable[[], dict], running: list[torch.Tensor], enabled: bool, log):
    """A GraphedStep when `enabled` and the step captures, else an EagerStep (logged why)."""
    if not enabled:
        return EagerStep(step)
    try:
        stepper = GraphedStep(run, step, running)
    except Exception as error:  # any failure to capture leaves the run exactly as it was
        log(f"CUDA graph: not captured, training eagerly: {error}")
        return EagerStep(step)
    log(f"CUDA graph: the training step is captured ({WARMUP_STEPS} warm-up steps, then replays)")
    return stepper


# ---- exact snapshot and in-place restore ------------------------------------------------
def snapshot(run, running: list[torch.Tensor]) -> dict:
    """Copies of everything a training step changes: weights, buffers, optimiser states,
    generator states, and the running tensors (e.g. the max of |loss|)."""
    clone = lambda tensors: [t.detach().clone() for t in tensors]  # noqa: E731
    return {
        "tensors": clone(run.tensors()),
        "optimizers": {
            name: {p: {k: v.detach().clone() for k, v in opt.state[p].items()} for p in opt.state}
            for name, opt in run.optimizers.items()
        },
        "generators": [g.get_state() for g in run.generators()],
        "running": clone(running),
    }


@torch.no_grad()
def restore(run, running: list[torch.Tensor], saved: dict, fresh_generators: bool = False) -> None:
    """Put `saved` back in place (the graph reads and writes these very tensors).

    Optimiser state that the warm-up created (a run's first steps) is zeroed: Adam starts
    from zero moments and a zero step count, so that is its state before any step.
    `fresh_generators` replaces the generators (after a failed capture their state may be
    left mid-capture) by new ones at the saved states.
    """
    for tensor, value in zip(run.tensors(), saved["tensors"]):
        tensor.copy_(value)
    for name, opt in run.optimizers.items():
        before = saved["optimizers"][name]
        for p, state in opt.state.items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    value.copy_(before[p][key]) if p in before else value.zero_()
    for tensor, value in zip(running, saved["running"]):
        tensor.copy_(value)
    if fresh_generators:
        run.set_generators([torch.Generator(device=run.device) for _ in saved["generators"]])
    for generator, state in zip(run.generators(), saved["generators"]):
        generator.set_state(state)


def main() -> None:
    """Print which models' training steps capture (a CPU check), at the paper's lines setting."""
    config = load_config(DEFAULT_CONFIG)
    for model, blockers in capture_report(config).items():
        print(f"{model:<10} {'captures' if not blockers else 'eager: ' + '; '.join(blockers)}")


if __name__ == "__main__":
    main()
