"""Encoder, decoder and dense layers shared by every model (docs/protocol.md §3).

Traps handled here once: LeakyReLU slope 0.2, conv init N(0, σ²) with
σ = 1/sqrt((1 + 0.2²)·k·k·C_in) on every conv (outputs included), zero biases,
Glorot-uniform dense layers, 'same' zero padding, no normalisation layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

LEAK = 0.2


@dataclass(frozen=True)
class Architecture:
    """Sizes of one autoencoder: image colours, width, latent map shape."""

    colors: int
    depth: int
    latent_width: int
    latent_channels: int
    image_size: int = 32

    @property
    def scales(self) -> int:
        return int(round(math.log2(self.image_size / self.latent_width)))

    @property
    def dz(self) -> int:
        return self.latent_width * self.latent_width * self.latent_channels

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.latent_channels, self.latent_width, self.latent_width)


def conv(c_in: int, c_out: int, kernel: int) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
    std = 1.0 / math.sqrt((1 + LEAK**2) * kernel * kernel * c_in)
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.zeros_(layer.bias)
    return layer


def dense(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class _NearestUp2x(torch.autograd.Function):
    """2x nearest upsampling whose backward sums each input pixel's four output gradients in
    PyTorch's own order, ((0 + g[0,0]) + g[0,1]) + g[1,0]) + g[1,1] (row-major over the output,
    accumulated from zero, in the CPU and CUDA kernels alike), so its bits equal
    `F.interpolate(scale_factor=2, mode="nearest")`'s. PyTorch's CUDA backward kernel is a
    loop over the batch that took ~99 us per call at batch 64; this is four element-wise
    additions (one fused kernel when compiled)."""

    # vmap (seed fusion) runs the same forward and backward on each seed's slice
    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        out = x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
        # (a seed's slice under vmap cannot be asked its layout; seed fusion stays NCHW)
        batched = torch._C._functorch.is_batchedtensor(x)
        if not batched and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass  # the backward needs nothing but the gradient's shape

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        n, c, h2, w2 = grad.shape
        g = grad.reshape(n, c, h2 // 2, 2, w2 // 2, 2)
        # + 0.0 first: PyTorch starts from a zero accumulator, so an all -0.0 sum is +0.0
        return (((g[:, :, :, 0, :, 0] + 0.0) + g[:, :, :, 0, :, 1]) + g[:, :, :, 1, :, 0]) + g[:, :, :, 1, :, 1]


class NearestUpsample2x(nn.Module):
    """nn.Upsample(scale_factor=2, mode="nearest") with the same bits, forward and backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _NearestUp2x.apply(x)


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAK)


def encoder(arch: Architecture, out_channels: int | None = None) -> nn.Sequential:
    """1x1 conv, `scales` blocks of two 3x3 convs + avg-pool, a wide conv, a linear conv."""
    layers: list[nn.Module] = [conv(arch.colors, arch.depth, 1)]
    width = arch.depth
    for scale in range(arch.scales):
        channels = arch.depth << scale
        layers += [conv(width, channels, 3), _act(), conv(channels, channels, 3), _act()]
        layers.append(nn.AvgPool2d(2))
        width = channels
    top = arch.depth << arch.scales
    layers += [conv(width, top, 3), _act()]
    layers.append(conv(top, out_channels or arch.latent_channels, 3))
    return nn.Sequential(*layers)


def decoder(arch: Architecture) -> nn.Sequential:
    """`scales` blocks of two 3x3 convs + 2x nearest upsampling, a conv, a linear conv."""
    layers: list[nn.Module] = []
    width = arch.latent_channels
    for scale in reversed(range(arch.scales)):
        channels = arch.depth << scale
        layers += [conv(width, channels, 3), _act(), conv(channels, channels, 3), _act()]
        layers.append(NearestUpsample2x())
        width = channels
    layers += [conv(width, arch.depth, 3), _act(), conv(arch.depth, arch.colors, 3)]
    return nn.Sequential(*layers)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
