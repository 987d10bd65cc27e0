"""Figures as PNG: lines interpolations (paper Fig. 3), VAE samples (Fig. 5), image
interpolations (Fig. 6-11) and training curves. A figure drawn from the weights of a cell that
diverged says so in that row's label or the title: those weights are not a trained model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from acai_repro.data import read_split, to_float  # noqa: E402
from acai_repro.data.lines import render_lines  # noqa: E402
from acai_repro.models import title_of  # noqa: E402
from acai_repro.train import load_trained  # noqa: E402

N_POINTS = 16


@torch.no_grad()
def lines_interpolation(model, endpoints, n_points: int = N_POINTS) -> np.ndarray:
    """[n_points, 32, 32] decoded interpolation between two rendered lines."""
    ends = render_lines(torch.tensor(endpoints, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    images = model.interpolate(ends[:1], ends[1:], n_points, generator)
    return images[0, :, 0].numpy()


def cell_label(model_path, name: str) -> str:
    """`name`, marked when the cell diverged (train_cell writes metrics.json beside model.pt)."""
    metrics = json.loads(Path(model_path).with_name("metrics.json").read_text())
    return name if metrics["status"] == "ok" else f"{name} ({metrics['status']})"


def _show(ax, image) -> None:
    # Display only: decoder outputs are unclipped, metrics never see this clipping.
    image = np.clip(image, -1, 1)
    if image.ndim == 3:  # colour: imshow wants [0, 1]
        ax.imshow((image + 1) / 2, interpolation="nearest")
    else:
        ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _strip_figure(rows, labels, title: str, out_path) -> None:
    """One labelled row of images per entry of `rows` ([n_points, H, W] or [n_points, H, W, 3])."""
    n_points = len(rows[0])
    fig, axes = plt.subplots(
        len(rows), n_points, figsize=(n_points * 0.6, len(rows) * 0.7 + 0.3), squeeze=False
    )
    for r, (row, label) in enumerate(zip(rows, labels)):
        for c, image in enumerate(row):
            _show(axes[r, c], image)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.savefig(out_path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def lines_interpolation_figure(model_paths, out_path, endpoints) -> None:
    """One row per model: the same two test lines interpolated in each latent space."""
    rows, labels = [], []
    for path in model_paths:
        model, _, spec = load_trained(path)
        rows.append(lines_interpolation(model, endpoints))
        labels.append(cell_label(path, title_of(spec["model"])))
    title = f"Interpolations from θ={endpoints[0]:.3f} to θ={endpoints[1]:.3f}"
    _strip_figure(rows, labels, title, out_path)


@torch.no_grad()
def image_interpolation_figure(model_paths, out_path, pairs, n_points: int = N_POINTS) -> None:
    """Paper Fig. 6-11: for each model, one row per pair of test images (same pairs for all)."""
    rows, labels = [], []
    for path in model_paths:
        model, _, spec = load_trained(path)
        data = spec["data"]
        images, _ = read_split(data["path"], data["test_split"])
        x = to_float(torch.from_numpy(images))
        a, b = (x[[p[i] for p in pairs]] for i in (0, 1))
        strips = model.interpolate(a, b, n_points, torch.Generator().manual_seed(0))
        for strip in strips:  # [n_points, C, H, W] -> [n_points, H, W(, C)]
            pictures = strip.permute(0, 2, 3, 1).numpy()
            rows.append(pictures[..., 0] if pictures.shape[-1] == 1 else pictures)
            labels.append(cell_label(path, title_of(spec["model"])))
    title = f"{spec['dataset']} dz={spec['dz']}: interpolations between test images {pairs}"
    _strip_figure(rows, labels, title, out_path)


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
    fig.suptitle(cell_label(model_path, "VAE samples on lines"), fontsize=9)
    fig.savefig(out_path, dpi=100, bbox_inches="tight")
    plt.close(fig)


CURVES = ("loss_ae", "test_recon_mse", "classifier_accuracy", "mean_distance", "smoothness")


def training_curves_figure(metrics_paths, out_path) -> None:
    """Losses and evaluation metrics against kimg, one line per model and seed."""
    records = [json.loads(Path(p).read_text()) for p in metrics_paths]
    keys = [k for k in CURVES if any(k in e for r in records for e in r["evals"])]
    if not keys:
        return _nothing_to_plot(records, out_path)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for record in records:
            points = [(e["kimg"], e[key]) for e in record["evals"] if key in e]
            if points:
                cell = record["cell"]
                mark = "" if record["status"] == "ok" else f" ({record['status']})"
                ax.plot(*zip(*points), label=f"{title_of(cell['model'])} s{cell['seed']}{mark}", lw=1)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("kimg", fontsize=8)
        ax.tick_params(labelsize=7)
    for record in records:  # no point to draw: named in the legend all the same, with why
        if not record["evals"]:
            axes[0, -1].plot([], [], ls="none", marker="x", label=_no_curve_label(record))
    axes[0, -1].legend(fontsize=6, loc="best")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)


def _no_curve_label(record) -> str:
    cell = record["cell"]
    return f"{title_of(cell['model'])} s{cell['seed']} ({record['status']} before its first evaluation: no curve)"


def _nothing_to_plot(records, out_path) -> None:
    """A figure that says why there are no curves (no cell reached its first evaluation)."""
    lines = [f"{title_of(r['cell']['model'])} seed {r['cell']['seed']}: {r['status']}"
             + (f" ({r['reason']})" if r.get("reason") else "") for r in records]  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 1 + 0.22 * len(lines)))
    ax.axis("off")
    text = "No training curves: no cell reached its first evaluation.\n\n" + "\n".join(lines)
    ax.text(0, 1, text, va="top", ha="left", fontsize=8, family="monospace", wrap=True)
    fig.savefig(out_path, dpi=100, bbox_inches="tight")
    plt.close(fig)
