"""Figures as PNG: lines interpolations (paper Fig. 3) and VAE samples (Fig. 5)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from acai_repro.data.lines import render_lines  # noqa: E402
from acai_repro.train import load_trained  # noqa: E402

N_POINTS = 16


@torch.no_grad()
def lines_interpolation(model, endpoints, n_points: int = N_POINTS) -> np.ndarray:
    """[n_points, 32, 32] decoded interpolation between two rendered lines."""
    ends = render_lines(torch.tensor(endpoints, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    images = model.interpolate(ends[:1], ends[1:], n_points, generator)
    return images[0, :, 0].numpy()


def _show(ax, image) -> None:
    # Display only: decoder outputs are unclipped, metrics never see this clipping.
    ax.imshow(np.clip(image, -1, 1), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def lines_interpolation_figure(model_paths, out_path, endpoints) -> None:
    """One row per model: the same two test lines interpolated in each latent space."""
    rows, labels = [], []
    for path in model_paths:
        model, _, spec = load_trained(path)
        rows.append(lines_interpolation(model, endpoints))
        labels.append(spec["model"])
    fig, axes = plt.subplots(
        len(rows), N_POINTS, figsize=(N_POINTS * 0.6, len(rows) * 0.7 + 0.3), squeeze=False
    )
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c, image in enumerate(row):
            _show(axes[r, c], image)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"Interpolations from θ={endpoints[0]:.3f} to θ={endpoints[1]:.3f}", fontsize=9)
    fig.savefig(out_path, dpi=100, bbox_inches="tight")
    plt.close(fig)


@torch.no_grad()
def vae_samples(model, n: int, seed: int) -> np.ndarray:
    """Decoded draws z ~ N(0, I) from the VAE's prior: [n, 32, 32]."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn((n, *model.arch.latent_shape), generator=generator)
    return model.decode(z)[:, 0].numpy()


def vae_sample_figure(model_path, out_path, n: int, seed: int) -> None:
    model, _, _ = load_trained(model_path)
    images = vae_samples(model, n, seed)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, images):
        _show(ax, image)
    fig.suptitle("VAE samples on lines", fontsize=9)
    fig.savefig(out_path, dpi=100, bbox_inches="tight")
    plt.close(fig)
