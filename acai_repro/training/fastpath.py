"""The fast training path (`training.fast_path: true`): the same model and losses, computed in
fewer and bigger kernels.

The exact path (the default) runs PyTorch's eager kernels one by one; on a GPU a lines step
is ~885 tiny kernels. The fast path changes how the same arithmetic is scheduled, which
changes the bits (not the method), so it is part of a cell's spec:
- every network (each `nn.Sequential` of a model: encoders, decoders, critics, the VQ-VAE's
  MLP) is compiled as a unit by `torch.compile` (inductor): its convolutions, activations,
  poolings and upsamplings run inside one compiled graph forward and one backward
  (tests/test_fastpath.py profiles a fast step of every model and fails on any of them outside
  a compiled graph). What stays eager: the arithmetic between networks (the losses, the
  latent mixing, the VQ-VAE's codebook lookup and EMA update), the single dense layers outside
  a Sequential (the VAE's heads, the VQ-VAE's projection, the in-tandem classifier) and every
  random draw, which stays on the cell's own generators exactly as on the exact path. Each
  network is its own compiled region (its own autograd node), so each parameter group's
  backward still only computes its own loss's gradients. `compiled_summary()` counts what was
  compiled in the process;
- the weights and the batch are channels-last (NHWC, cuDNN's native layout: no NCHW<->NHWC
  conversion kernels around each convolution);
- Adam is fused (one kernel per parameter group and step instead of one per op);
- inductor runs deterministically (`torch._inductor.config.deterministic`: no autotuning
  that could change a reduction's order from run to run), so the same command gives the same
  bits (tested in two fresh processes).
Evaluations run the same weights eagerly (`torch.compiler.set_stance("force_eager")`): their
batch sizes differ from training's and would each cost a compilation.

What it gains: not measured yet where it is meant to gain, on a GPU (benchmarks/pack.py, the
next GPU session). On this repository's shared 2-core CPU two runs of the same pack.py command
gave fast / exact 0.68-1.09 and 1.51-2.90 (benchmarks/results/cpu-2026-12-07/): the machine's
load, not the path, decided; no CPU gain is claimed. (The 1.16-1.38x of cpu-2026-12-04 was
measured while `nn.Module.compile()` left the convolutions eager: channels-last and fused Adam.)

TF32 is a separate switch (`training.conv_tf32`). On CUDA the compiled step is captured in the
project's own CUDA graph (acai_repro.training.cuda_graphs) like the exact one.
"""

from __future__ import annotations

import contextlib

import torch
import torch._dynamo.config as dynamo_config
import torch._inductor.config as inductor_config
from torch import nn
from torch._dynamo.utils import counters

EXACT, FAST, FUSED = "exact", "fast", "fast-fused"


def is_fast(spec: dict) -> bool:
    """Whether `spec`'s cell trains on the fast path (absent = the exact path, as every cell
    trained before the fast path existed)."""
    return bool(spec["training"].get("fast_path", False))


def is_fused(spec: dict) -> bool:
    """Whether `spec`'s cell trains with its group's other seeds (seed fusion, acai_repro.training.fusion)."""
    return bool(spec["training"].get("seed_fusion", False))


def path_name(spec: dict) -> str:
    """How a cell was trained, as metrics.json, the tables' CSV and the scorecard name it."""
    if is_fused(spec):
        return FUSED
    return FAST if is_fast(spec) else EXACT


def accelerate(*modules: nn.Module) -> None:
    """Channels-last weights and every network (each `nn.Sequential`) of each module compiled.

    Each network's `forward` is replaced, on that instance, by its `torch.compile`d version: its
    convolutions, activations, poolings and upsamplings are one graph, forward and backward.
    Not `nn.Module.compile()`: that compiles `Module._call_impl`, which dynamo skips ("frame is
    in the skipfiles list"), so the layers ran eagerly and only the upsampling was compiled.
    Not `torch.compile(module)` either: the `OptimizedModule` it returns would put `_orig_mod.`
    into every state_dict key. An instance attribute leaves the keys as they are."""
    inductor_config.deterministic = True
    # One compiled graph per network structure and mode; an 18-cell pack has dozens of
    # networks of a few structures. Past the limit torch would fall back to eager silently:
    # fail instead.
    dynamo_config.recompile_limit = 256
    dynamo_config.fail_on_recompile_limit_hit = True
    for module in modules:
        module.to(memory_format=torch.channels_last)
        for network in networks(module):
            network.forward = torch.compile(network.forward, dynamic=False, backend=_counted_inductor)


def networks(module: nn.Module) -> list[nn.Sequential]:
    """The networks the fast path compiles: every `nn.Sequential` in `module` (encoders,
    decoders, critics, the VQ-VAE's MLP), outermost first."""
    return [sub for sub in module.modules() if isinstance(sub, nn.Sequential)]


def is_compiled(network: nn.Module) -> bool:
    """Whether `accelerate` compiled `network` (its forward is a compiled function)."""
    return "forward" in vars(network) and hasattr(network.forward, "_torchdynamo_orig_callable")


_COMPILED = {"graphs": 0, "ops": 0, "convolutions": 0}


def _counted_inductor(graph_module, example_inputs):
    """Inductor, as `torch.compile`'s default backend calls it, after tallying the graph dynamo
    hands it (what `compiled_summary` reports)."""
    from torch._inductor.compile_fx import compile_fx

    calls = [n for n in graph_module.graph.nodes if n.op in ("call_function", "call_method", "call_module")]
    _COMPILED["graphs"] += 1
    _COMPILED["ops"] += len(calls)
    _COMPILED["convolutions"] += sum(_is_convolution(graph_module, n) for n in calls)
    return compile_fx(graph_module, example_inputs)


def _is_convolution(graph_module, node) -> bool:
    if node.op == "call_module":
        return isinstance(graph_module.get_submodule(node.target), nn.Conv2d)
    return getattr(node.target, "__name__", "") in ("conv2d", "convolution", "_convolution")


def compiled_summary() -> dict:
    """What the fast path has compiled in this process so far: `graphs` (graphs handed to
    inductor, one per network structure and mode), `ops` (torch calls in them) and
    `convolutions` (of those, convolutions), with dynamo's own count of unique graphs
    (`dynamo_unique_graphs`, torch._dynamo.utils.counters["stats"]["unique_graphs"]: every
    graph compiled in the process, by any caller). A session script prints it in the process
    that trained a fast step (the counts are per process), e.g. after
    `acai_repro.training.training_run.build_run` and `one_step` on a fast spec:

        summary = fastpath.compiled_summary()
        print(f"compiled graphs: {summary['graphs']} ({summary['convolutions']} convolutions)")
    """
    return dict(_COMPILED, dynamo_unique_graphs=int(counters["stats"]["unique_graphs"]))


def adam(params, lr: float, device: torch.device, fast: bool) -> torch.optim.Adam:
    """The protocol's Adam (betas 0.9/0.999, eps 1e-8). `capturable` on CUDA, graphed or not
    (its update keeps the step count on the device, so a graph can hold it, and rounds
    differently from the host-side update: eager and graphed CUDA runs both use it to agree
    bit for bit). The fast path fuses each group's update into one kernel."""
    kwargs = {"fused": True} if fast else {}
    return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, capturable=device.type == "cuda", **kwargs)


def step_input(x: torch.Tensor, fast: bool) -> torch.Tensor:
    """The batch in the layout the networks expect (channels-last on the fast path)."""
    return x.contiguous(memory_format=torch.channels_last) if fast and x.dim() == 4 else x


def eager() -> contextlib.AbstractContextManager:
    """Compiled networks run their eager code inside (evaluations, audits)."""
    return torch.compiler.set_stance("force_eager")
