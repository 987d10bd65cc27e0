"""The fast training path (`training.fast_path: true`): the same model and losses, computed in
fewer and bigger kernels.

The exact path (the default) runs PyTorch's eager kernels one by one; on a GPU a lines step
is ~885 tiny kernels. The fast path changes how the same arithmetic is scheduled, which
changes the bits (not the method), so it is part of a cell's spec:
- every network (each `nn.Sequential` of a model: encoders, decoders, critics) is compiled in
  place with `torch.compile` (`nn.Module.compile`, so state_dict keys are unchanged and
  checkpoints load either way). Each network is its own compiled region: the autograd graph
  between them is the eager one, so each parameter group's backward still only computes its
  own loss's gradients. Random draws stay outside the compiled regions, on the cell's own
  generators, exactly as on the exact path;
- the weights and the batch are channels-last (NHWC, cuDNN's native layout: no NCHW<->NHWC
  conversion kernels around each convolution);
- Adam is fused (one kernel per parameter group and step instead of one per op);
- inductor runs deterministically (`torch._inductor.config.deterministic`: no autotuning
  that could change a reduction's order from run to run), so the same command gives the same
  bits.
Evaluations run the same weights eagerly (`torch.compiler.set_stance("force_eager")`): their
batch sizes differ from training's and would each cost a compilation.

TF32 is a separate switch (`training.conv_tf32`). On CUDA the compiled step is captured in the
project's own CUDA graph (acai_repro.graphs) like the exact one.
"""

from __future__ import annotations

import contextlib

import torch
import torch._dynamo.config as dynamo_config
import torch._inductor.config as inductor_config
from torch import nn

EXACT, FAST, FUSED = "exact", "fast", "fast-fused"


def is_fast(spec: dict) -> bool:
    """Whether `spec`'s cell trains on the fast path (absent = the exact path, as every cell
    trained before the fast path existed)."""
    return bool(spec["training"].get("fast_path", False))


def is_fused(spec: dict) -> bool:
    """Whether `spec`'s cell trains with its group's other seeds (seed fusion, acai_repro.fusion)."""
    return bool(spec["training"].get("seed_fusion", False))


def path_name(spec: dict) -> str:
    """How a cell was trained, as metrics.json, the tables' CSV and the scorecard name it."""
    if is_fused(spec):
        return FUSED
    return FAST if is_fast(spec) else EXACT


def accelerate(*modules: nn.Module) -> None:
    """Channels-last weights and every `nn.Sequential` compiled in place, for each module."""
    inductor_config.deterministic = True
    # One compiled graph per network structure and mode; an 18-cell pack has dozens of
    # networks of a few structures. Past the limit torch would fall back to eager silently:
    # fail instead.
    dynamo_config.recompile_limit = 256
    dynamo_config.fail_on_recompile_limit_hit = True
    for module in modules:
        module.to(memory_format=torch.channels_last)
        for sub in module.modules():
            if isinstance(sub, nn.Sequential):
                sub.compile(dynamic=False)


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
