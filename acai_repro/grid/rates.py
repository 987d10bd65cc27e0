"""The measured rates the grid is costed at (benchmarks/rates.csv): images/s of a training
step, of a pack of cells, and seconds of a K-Means job, each with its source.

A setting never measured borrows the nearest measured one (marked extrapolated); a model never
measured borrows the rates of the model its class names in `rate_like` (marked ESTIMATE); a
step or precision not measured is costed at the next measured one (marked STAND-IN).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from pathlib import Path

from acai_repro.config import ROOT
from acai_repro.grid_cells import GridError
from acai_repro.models import MODELS

RATES = ROOT / "benchmarks" / "rates.csv"
# The rates measured on a CPU (this project's 2-core machine): a config whose device is the CPU
# is costed at them, in CPU-hours. A card whose name starts with "cpu" is a CPU.
CPU_CARD = "cpu2"
GPU_CARD = "h100"  # the default card of a config that trains on a GPU


# --step -> the kinds of benchmarks/rates.csv that measure it, the asked one first; a step not
# measured for a setting is costed at the next kind, and the estimate says so.
STEP_KINDS = {
    # seed fusion: a fused group's aggregate images/s (each seed's images over it is that seed's share)
    "fused": ("train_fused", "train_fast", "train_graphed", "train"),
    "fast": ("train_fast", "train_graphed", "train"),
    "graphed": ("train_graphed", "train"),
    "eager": ("train",),
}
KIND_STEPS = {"train_fused": "seed-fused", "train_fast": "fast-path", "train_graphed": "graphed", "train": "eager"}


@dataclass(frozen=True)
class Rate:
    value: float
    source: str
    extrapolated_from: str | None = None
    estimate_for: str | None = None  # a model never measured, costed at the rate of ...
    estimated_like: str | None = None  # ... the model its class names in `rate_like`
    kind: str = "train"  # the measurement used (rates.csv kind) ...
    asked: str = "train"  # ... and the one the step needs
    precision: str = ""  # the convolution precision of the measurement (tf32 / fp32)
    asked_precision: str = ""

    def note(self, sources: list[str]) -> str:
        """'measured <step> [n]', 'EXTRAPOLATED ...', 'ESTIMATE ...', and what stands in for what
        was asked, n indexing `sources` (appended when new)."""
        if self.source not in sources:
            sources.append(self.source)
        ref = f"[{sources.index(self.source) + 1}]"
        what = " ".join(filter(None, [KIND_STEPS.get(self.kind, self.kind), self.precision]))
        note = (
            f"EXTRAPOLATED: not measured; the {what} rate of {self.extrapolated_from} {ref}"
            if self.extrapolated_from
            else f"measured {what} {ref}"
        )
        if self.kind != self.asked:
            note += f"; STAND-IN: {KIND_STEPS.get(self.asked, self.asked)} step not measured here"
        if self.asked_precision and self.precision and self.precision != self.asked_precision:
            note += f"; STAND-IN: {self.asked_precision} convolutions not measured here"
        if self.estimate_for:
            return f"ESTIMATE: {self.estimate_for} never measured; costed as {self.estimated_like}, {note}"
        return note


def load_rates(path: Path = RATES) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def is_cpu_card(card: str) -> bool:
    return card.startswith("cpu")


def default_card(config: dict) -> str:
    """The rates a config is costed at: measured on a CPU for `device: cpu`, else on an H100."""
    return CPU_CARD if config.get("device") == "cpu" else GPU_CARD


def hours_unit(card: str) -> str:
    return "CPU-hours" if is_cpu_card(card) else "GPU-hours"


def train_cores(rates: list[dict], card: str) -> set[int]:
    """The cores (threads) the training rates of a CPU `card` were measured with."""
    return {int(r["cores"]) for r in rates if r["card"] == card and r["kind"].startswith("train") and r.get("cores")}


def config_step(config: dict) -> tuple[str, str]:
    """(step, precision) a config trains with on a GPU: the fast path (seed-fused or not), the
    captured graph or eager steps; TF32 or float32 convolutions."""
    training = config["training"]
    if config.get("device") == "cpu":
        step = "eager"
    elif training.get("seed_fusion"):
        step = "fused"
    elif training.get("fast_path"):
        step = "fast"
    else:
        step = "eager" if training.get("cuda_graphs") in ("off", False) else "graphed"
    return step, "tf32" if training.get("conv_tf32") else "fp32"


def _measured(rows: list[dict], precision: str) -> dict | None:
    """The row of the asked precision, else any (marked by the caller)."""
    return next((r for r in rows if r.get("precision") == precision), rows[0] if rows else None)


def _first_measured(rates: list[dict], kinds, matches, precision: str) -> Rate | None:
    """The Rate of the first of `kinds` with a row that `matches` (its asked precision first),
    named against the first kind asked; None where no kind has one."""
    for kind in kinds:
        row = _measured([r for r in rates if r["kind"] == kind and matches(r)], precision)
        if row is not None:
            return Rate(
                float(row["value"]),
                row["source"],
                kind=kind,
                asked=kinds[0],
                precision=row.get("precision", ""),
                asked_precision=precision,
            )
    return None


def train_rate(
    rates: list[dict], card: str, dataset: str, dz: int, model: str, step: str = "eager", precision: str = ""
) -> Rate:
    """Measured images/s of a training step (`step`: eager, graphed or fast, where measured,
    else the next of STEP_KINDS, named); else the nearest measured eager setting, marked."""
    asked = STEP_KINDS[step][0]

    def same_cell(r):
        return r["card"] == card and r["model"] == model and r["dataset"] == dataset and int(r["dz"]) == dz

    rate = _first_measured(rates, STEP_KINDS[step], same_cell, precision)
    if rate is not None:
        return rate
    measured = [
        [r for r in rates if r["card"] == card and r["kind"] == kind and r["model"] == model]
        for kind in STEP_KINDS[step]
    ]
    stand_in = getattr(MODELS.get(model), "rate_like", None)
    if not any(measured) and stand_in and stand_in != model:
        rate = train_rate(rates, card, dataset, dz, stand_in, step, precision)
        return replace(rate, estimate_for=model, estimated_like=stand_in)
    if not any(measured):
        cards = sorted({r["card"] for r in rates if r["kind"] == "train"})
        raise GridError(f"no measured training rate for model {model!r} on card {card!r}; cards: {', '.join(cards)}")

    # The asked step's nearest setting: same dataset first, then the image dataset measured
    # (never the synthetic lines for images), then the nearest dz.
    def distance(r):
        other_kind = (r["dataset"] == "lines") != (dataset == "lines")
        return (r["dataset"] != dataset, other_kind, abs(math.log2(int(r["dz"]) / dz)))

    nearest = min(next(rows for rows in measured if rows), key=distance)
    return Rate(
        float(nearest["value"]),
        nearest["source"],
        f"{nearest['dataset']} dz{nearest['dz']} {model}",
        kind=nearest["kind"],
        asked=asked,
        precision=nearest.get("precision", ""),
        asked_precision=precision,
    )


def kmeans_seconds(rates: list[dict], card: str, dz: int, restarts: int) -> tuple[float, int, str] | None:
    """(seconds, cores, source) of one K-Means job, linear in restarts from the measured 1,000."""
    rows = [r for r in rates if r["card"] == card and r["kind"] == "kmeans" and int(r["dz"]) == dz]
    if not rows:
        return None
    row = rows[0]
    return float(row["value"]) * restarts / 1000, int(row["cores"] or 1), row["source"]  # GPU: 1 device


def packed_rate(
    rates: list[dict], card: str, dataset: str, size: int, step: str = "graphed", precision: str = ""
) -> Rate | None:
    """Measured aggregate images/s of a pack of `size` cells on `dataset` (rows of kind
    train_packed, train_packed_fast on the fast path, train_packed_fused with seed fusion; model
    "pack<size>"), or None where never measured. A path not measured falls back to the next
    (fused, fast, exact), named."""
    kinds = {
        "fused": ("train_packed_fused", "train_packed_fast", "train_packed"),
        "fast": ("train_packed_fast", "train_packed"),
    }.get(step, ("train_packed",))
    return _first_measured(
        rates,
        kinds,
        lambda r: r["card"] == card and r["dataset"] == dataset and r["model"] == f"pack{size}",
        precision,
    )
