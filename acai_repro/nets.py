"""Encoder, decoder and dense layers shared by every model (PROTOCOL §3).

Traps handled here once: LeakyReLU slope 0.2, conv init N(0, σ²) with
σ = 1/sqrt((1 + 0.2²)·k·k·C_in) on every conv (outputs included), zero biases,
Glorot-uniform dense layers, 'same' zero padding, no normalisation layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        width = channels
    layers += [conv(width, arch.depth, 3), _act(), conv(arch.depth, arch.colors, 3)]
    return nn.Sequential(*layers)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
