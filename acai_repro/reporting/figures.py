"""Figures as PNG: lines interpolations (paper Fig. 3), VAE samples (Fig. 5), image
interpolations (Fig. 6-11) and training curves.

A value that is undefined (Smoothness when every interpolation collapsed to one line) or the
weights of a cell that diverged are never drawn as data: the figure says so in words (a row's
label and a note in place of its images, a marker on the axis, the legend)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from acai_repro.data import read_split, to_float  # noqa: E402
from acai_repro.data.lines import render_lines  # noqa: E402
from acai_repro.models import MODELS, title_of  # noqa: E402
from acai_repro.reporting.tables import (  # noqa: E402
    PAPER_RULE,
    ReportRule,
    median_of_last,
    paper_values,  # noqa: E402
)
from acai_repro.training.checkpoints import load_trained  # noqa: E402

N_POINTS = 16
DPI = 100


def read_record(model_path) -> dict:
    """The metrics.json train_cell writes beside a cell's model.pt."""
    return json.loads(Path(model_path).with_name("metrics.json").read_text())


def is_undefined(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def stopped_text(record: dict) -> str:
    """Why a cell has no trained model, in a few words: 'diverged after 1.0 kimg'."""
    kimg = record.get("images", 0) / 1000
    return f"{record['status']} after {kimg:.1f} kimg: not a trained model, not drawn"


def title_with_status(model_path, name: str) -> str:
    """`name`, marked when the cell diverged (train_cell writes metrics.json beside model.pt)."""
    record = read_record(model_path)
    return name if record["status"] == "ok" else f"{name} ({record['status']})"


def reported_values(record: dict, rule: ReportRule = PAPER_RULE) -> dict:
    """A trained cell's values under the tables' reporting rule, read from its history (the
    `reported` values it stored itself where a record holds no history)."""
    evals = record.get("evals") or []
    return median_of_last(evals, rule.count(evals)) if evals else (record.get("reported") or {})


def reported_text(record: dict, rule: ReportRule = PAPER_RULE) -> str:
    """A Table 1 cell's Mean Distance and Smoothness, as the tables print them."""
    reported = reported_values(record, rule)
    values = []
    for key, title, scale, unit in (
        ("mean_distance", "Mean Distance", 1e3, "×10⁻³"),
        ("smoothness", "Smoothness", 1, ""),
    ):
        value = reported.get(key)
        values.append(f"{title} {'undef.' if is_undefined(value) else f'{value * scale:.2f}{unit}'}")
    return "\n".join(values)


def provenance_text(records, rule: ReportRule = PAPER_RULE) -> str:
    """Scale, seeds, reporting rule (the tables', `tables.report_rule`) and training commit of the
    records a figure shows."""

    def joined(values):
        return ", ".join(sorted({str(v) for v in values if v is not None})) or "not recorded"

    scales = joined((r.get("spec") or {}).get("scale_name") for r in records)
    seeds = joined(r["cell"]["seed"] for r in records)
    rules = joined(
        f"median of the last {rule.count(r['evals'])} of {len(r['evals'])} evaluations"
        for r in records
        if r.get("evals") and r.get("status") == "ok"
    )
    commits = joined((r.get("provenance") or {}).get("code_version") for r in records)
    return f"scale {scales}; seeds {seeds}; a cell's value: {rules}; trained by commit {commits}"


@torch.no_grad()
def lines_interpolation(model, endpoints, n_points: int = N_POINTS) -> np.ndarray:
    """[n_points, 32, 32] decoded interpolation between two rendered lines."""
    ends = render_lines(torch.tensor(endpoints, dtype=torch.float64))
    generator = torch.Generator().manual_seed(0)
    images = model.interpolate(ends[:1], ends[1:], n_points, generator)
    return images[0, :, 0].numpy()


def _show(ax, image) -> None:
    # Display only: decoder outputs are unclipped, metrics never see this clipping.
    image = np.clip(image, -1, 1)
    if image.ndim == 3:  # colour: imshow wants [0, 1]
        ax.imshow((image + 1) / 2, interpolation="nearest")
    else:
        ax.imshow(image, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _note_row(axes_row, text: str) -> None:
    """A row without images: every cell blank, one note across the row (why it is not drawn)."""
    for ax in axes_row:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    middle = axes_row[len(axes_row) // 2]
    middle.text(0.0, 0.5, text, transform=middle.transAxes, ha="center", va="center", fontsize=8, color="firebrick")


def _strip_figure(rows, labels, title: str, out_path, footer: str = "", label_width: float = 0.0) -> None:
    """One labelled row per entry of `rows`: images ([n_points, H, W] or [n_points, H, W, 3]), or a
    string, written across the row instead of images (a cell that is not a trained model)."""
    n_points = max((len(row) for row in rows if not isinstance(row, str)), default=N_POINTS)
    fig, axes = plt.subplots(
        len(rows), n_points, figsize=(n_points * 0.6 + label_width, len(rows) * 0.7 + 0.5), squeeze=False
    )
    fig.subplots_adjust(wspace=0.05, hspace=0.1)  # the images of a row side by side, as in the paper
    for r, (row, label) in enumerate(zip(rows, labels)):
        if isinstance(row, str):
            _note_row(axes[r], row)
        else:
            for c, image in enumerate(row):
                _show(axes[r, c], image)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    if footer:
        fig.text(0.5, 0.0, footer, ha="center", va="top", fontsize=7, color="dimgray")
    fig.savefig(out_path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def lines_interpolation_figure(model_paths, out_path, endpoints, rule: ReportRule = PAPER_RULE) -> None:
    """Paper Fig. 3: one row per model, (a)-(f) in the table's order, the same two test lines
    interpolated in each latent space; each row labelled with the model's title and its
    reported Mean Distance and Smoothness. A diverged cell's row holds a note, not images."""
    rows, labels, records = [], [], []
    for letter, path in zip("abcdefghijklmnopqrstuvwxyz", model_paths):
        record = read_record(path)
        model, _, spec = load_trained(path)
        name = f"({letter}) {title_of(spec['model'])}"
        if record["status"] == "ok":
            rows.append(lines_interpolation(model, endpoints))
            labels.append(f"{name}\n{reported_text(record, rule)}")
        else:
            rows.append(stopped_text(record))
            labels.append(f"{name} ({record['status']})")
        records.append(record)
    title = f"Interpolations from θ={endpoints[0]:.3f} to θ={endpoints[1]:.3f} (lines, paper Fig. 3)"
    _strip_figure(rows, labels, title, out_path, provenance_text(records, rule), label_width=1.5)


@torch.no_grad()
def image_interpolation_figure(
    model_paths, out_path, pairs, n_points: int = N_POINTS, rule: ReportRule = PAPER_RULE
) -> None:
    """Paper Fig. 6-11: for each model, one row per pair of test images (same pairs for all)."""
    rows, labels, records = [], [], []
    for path in model_paths:
        record = read_record(path)
        model, _, spec = load_trained(path)
        label = title_with_status(path, title_of(spec["model"]))
        records.append(record)
        if record["status"] != "ok":
            rows.append(stopped_text(record))
            labels.append(label)
            continue
        data = spec["data"]
        images, _ = read_split(data["path"], data["test_split"])
        x = to_float(torch.from_numpy(images))
        a, b = (x[[p[i] for p in pairs]] for i in (0, 1))
        strips = model.interpolate(a, b, n_points, torch.Generator().manual_seed(0))
        for strip in strips:  # [n_points, C, H, W] -> [n_points, H, W(, C)]
            pictures = strip.permute(0, 2, 3, 1).numpy()
            rows.append(pictures[..., 0] if pictures.shape[-1] == 1 else pictures)
            labels.append(label)
    title = f"{spec['dataset']} dz={spec['dz']}: interpolations between test images {pairs}"
    _strip_figure(rows, labels, title, out_path, provenance_text(records, rule))


@torch.no_grad()
def vae_samples(model, n: int, seed: int) -> np.ndarray:
    """Decoded draws z ~ N(0, I) from the VAE's prior: [n, 32, 32]."""
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn((n, *model.arch.latent_shape), generator=generator)
    return model.decode(z)[:, 0].numpy()


def vae_sample_figure(model_path, out_path, n: int, seed: int, rule: ReportRule = PAPER_RULE) -> None:
    """Paper Fig. 5: a grid of samples of the model's N(0, I) prior (the VAE's in the paper),
    titled with the model's title; a note instead if the cell diverged."""
    record = read_record(model_path)
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6 + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if record["status"] == "ok":
        model, _, _ = load_trained(model_path)
        for ax, image in zip(axes.flat, vae_samples(model, n, seed)):
            _show(ax, image)
    else:
        fig.text(0.5, 0.5, stopped_text(record), ha="center", va="center", fontsize=8, color="firebrick", wrap=True)
    fig.suptitle(
        title_with_status(model_path, f"{title_of(record['cell']['model'])} samples on lines (paper Fig. 5)"),
        fontsize=9,
    )
    fig.text(
        0.5,
        0.0,
        provenance_text([record], rule).replace("; a cell", ";\na cell"),
        ha="center",
        va="top",
        fontsize=6,
        color="dimgray",
    )
    fig.savefig(out_path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


# ---- Training curves ----
# key -> (panel title, factor to the unit of the title, log axis). Losses span orders of
# magnitude between models (the VAE's summed NLL against the others' MSE), and so do the early,
# untrained evaluations of Mean Distance and Smoothness against the paper's values: log axes.
PANELS = {
    "loss_ae": ("autoencoder loss (training, log axis)", 1.0, True),
    "test_recon_mse": ("test reconstruction MSE (log axis)", 1.0, True),
    "classifier_accuracy": ("in-tandem classifier accuracy", 1.0, False),
    "mean_distance": ("Mean Distance ×10⁻³ (log axis)", 1e3, True),
    "smoothness": ("Smoothness (log axis)", 1.0, True),
}
CURVES = tuple(PANELS)
PAPER_METRICS = ("mean_distance", "smoothness")  # Table 1's: the paper's final value is a reference line
SEED_STYLES = ("-", "--", "-.", ":")
UNDEFINED_MARKER = dict(marker="x", s=14, lw=1)
PAPER_LINE = dict(lw=4, alpha=0.3, solid_capstyle="butt")


def _model_index(model: str) -> int:
    names = list(MODELS)
    return names.index(model) if model in names else len(names)


def model_colour(model: str):
    """One colour per model, the same in every figure (order of the registry)."""
    return plt.get_cmap("tab10")(_model_index(model) % 10)


def paper_references(records) -> dict:
    """{(model, metric): the paper's final value in the panel's unit} for Table 1 cells shown."""
    cells = {(r["cell"]["dataset"], r["cell"]["model"]) for r in records}
    paper = paper_values("table1")
    return {
        (row.model, row.metric): row.mean
        for row in paper.itertuples()
        if (row.dataset, row.model) in cells and row.metric in PAPER_METRICS
    }


def _curve(record, key: str):
    """(kimg, value) of every evaluation of `key`, NaN where undefined (the line breaks there:
    nothing is drawn between two defined values across an undefined one), and the kimg of the
    undefined ones."""
    factor = PANELS[key][1]
    points = [(e["kimg"], e[key]) for e in record["evals"] if key in e]
    curve = [(k, math.nan if is_undefined(v) else v * factor) for k, v in points]
    return curve, [k for k, v in points if is_undefined(v)]


def _panel(ax, key: str, records, seed_styles: dict, references: dict) -> bool:
    """Draw one metric for every record; True when some evaluation left it undefined."""
    title, _, log = PANELS[key]
    undefined = {}
    for record in records:
        cell = record["cell"]
        colour = model_colour(cell["model"])
        curve, undefined[id(record)] = _curve(record, key)
        defined = [point for point in curve if not math.isnan(point[1])]
        if defined:  # dots: a value between two undefined ones has no line to show it
            ax.plot(*zip(*curve), color=colour, ls=seed_styles[cell["seed"]], lw=1.2, marker=".", ms=3)
            if record["status"] != "ok":  # where it stopped: the last evaluation before it diverged
                ax.plot(*defined[-1], color=colour, marker="X", ms=8, ls="none")
    for (model, metric), value in references.items():
        if metric == key:
            ax.axhline(value, color=model_colour(model), **PAPER_LINE)
    if log and ax.has_data():
        ax.set_yscale("log" if _all_positive(ax) else "symlog")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, which="both", lw=0.5)
    axis = _undefined_strip(ax, records, undefined) if any(undefined.values()) else ax
    axis.set_xlabel("images seen (kimg)", fontsize=8)
    return any(undefined.values())


def _undefined_strip(ax, records, undefined: dict):
    """A strip under the panel, outside its value axis: an × per evaluation where the value is
    undefined, one row per model (so none hides another). Returns the strip (it holds the x labels)."""
    strip = ax.inset_axes([0, -0.2, 1, 0.16], sharex=ax)
    for record in records:
        kimg = undefined[id(record)]
        model = record["cell"]["model"]
        strip.scatter(kimg, [_model_index(model)] * len(kimg), color=model_colour(model), **UNDEFINED_MARKER)
    strip.set_ylim(-1, len(MODELS))
    strip.set_yticks([])
    strip.set_ylabel("undef.", rotation=0, ha="right", va="center", fontsize=7)
    strip.tick_params(labelsize=7)
    ax.tick_params(labelbottom=False)
    return strip


def _all_positive(ax) -> bool:
    values = [float(y) for line in ax.get_lines() for y in np.atleast_1d(line.get_ydata())]
    return all(y > 0 for y in values if not math.isnan(y))


def _legend(ax, records, seed_styles: dict, references: dict, any_undefined: bool) -> None:
    """A panel of its own: a model's colour, a seed's line style, every stopped cell by name
    (with why), then the keys of the reference lines and markers."""
    show_dz = len({r["cell"]["dz"] for r in records}) > 1
    models = dict.fromkeys((r["cell"]["model"], r["cell"]["dz"]) for r in records)
    handles = [
        Line2D([], [], color=model_colour(m), lw=1.5, label=title_of(m) + (f" (dz {dz})" if show_dz else ""))
        for m, dz in models
    ]
    if len(seed_styles) > 1:
        handles += [Line2D([], [], color="gray", ls=style, label=f"seed {seed}") for seed, style in seed_styles.items()]
    for record in records:
        if record["status"] != "ok":
            colour = model_colour(record["cell"]["model"])
            handles.append(Line2D([], [], color=colour, marker="X", ls="none", label=_stopped_label(record)))
    if references:
        handles.append(Line2D([], [], color="gray", label="paper's final value (2^24 images)", **PAPER_LINE))
    if any_undefined:
        handles.append(
            Line2D(
                [],
                [],
                color="gray",
                marker="x",
                ls="none",
                label="× in the strip 'undef.': undefined at that evaluation\n(every interpolation collapsed), no value",
            )
        )
    ax.axis("off")
    ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=False)


def _stopped_label(record) -> str:
    """A cell that stopped: where, and why its curve ends there (or is absent)."""
    cell = record["cell"]
    name = f"{title_of(cell['model'])} s{cell['seed']}"
    if not record["evals"]:
        return f"{name} ({record['status']} before its first evaluation: no curve)"
    return f"{name} ({record['status']} after {record.get('images', 0) / 1000:.1f} kimg: curve ends at ✕)"


def training_curves_figure(metrics_paths, out_path, rule: ReportRule = PAPER_RULE) -> None:
    """Losses and evaluation metrics against images seen: one panel per quantity, one line per
    model (colour) and seed (line style), the paper's final Mean Distance and Smoothness as
    reference lines, undefined evaluations marked on the axis, and a legend panel."""
    records = [json.loads(Path(p).read_text()) for p in metrics_paths]
    keys = [k for k in CURVES if any(k in e for r in records for e in r["evals"])]
    if not keys:
        return _nothing_to_plot(records, out_path)
    seeds = sorted({r["cell"]["seed"] for r in records})
    seed_styles = {seed: SEED_STYLES[i % len(SEED_STYLES)] for i, seed in enumerate(seeds)}
    references = paper_references(records)
    cols = min(len(keys) + 1, 4) if len(keys) < 4 else 3  # the panels and the legend: one row, or rows of 3
    rows = math.ceil((len(keys) + 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.0 * rows), squeeze=False)
    panels = list(axes.flat)
    undefined = [_panel(ax, key, records, seed_styles, references) for ax, key in zip(panels, keys)]
    for ax in panels[len(keys) + 1 :]:
        ax.axis("off")
    _legend(panels[len(keys)], records, seed_styles, references, any(undefined))
    datasets, dzs = ({str(r["cell"][key]) for r in records} for key in ("dataset", "dz"))
    fig.suptitle(f"Training curves: {', '.join(sorted(datasets))}, dz {', '.join(sorted(dzs, key=int))}", fontsize=10)
    fig.text(0.5, 0.0, provenance_text(records, rule), ha="center", va="top", fontsize=7, color="dimgray")
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _nothing_to_plot(records, out_path) -> None:
    """A figure that says why there are no curves (no cell reached its first evaluation)."""
    lines = [
        f"{title_of(r['cell']['model'])} seed {r['cell']['seed']}: {r['status']}"
        + (f" ({r['reason']})" if r.get("reason") else "")
        for r in records
    ]
    fig, ax = plt.subplots(figsize=(7, 1 + 0.22 * len(lines)))
    ax.axis("off")
    text = "No training curves: no cell reached its first evaluation.\n\n" + "\n".join(lines)
    ax.text(0, 1, text, va="top", ha="left", fontsize=8, family="monospace", wrap=True)
    fig.savefig(out_path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
