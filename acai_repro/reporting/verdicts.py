"""Published values against ours: one row per value the paper publishes in Tables 1-3, with one
verdict each.

One row per value of acai_repro/reporting/paper_values.csv (the only copy of the paper's values), with ours
from the same summary frames the tables print (acai_repro.reporting.tables), under the same reporting rule
(`tables.report_rule`, from each cell's evaluation history). The verdict:

- `quoted`: a value the paper quotes from other work (Table 3's pixels and prior methods): shown
  with its source, never judged;
- `not run`: the config has no such cell;
- `diverged` / `undefined`: a seed diverged / the value is undefined (every evaluation collapsed);
- `reduced scale`: the cell trained on fewer images than the protocol (2^24, the schema's default
  `training.total_images`), or on a number its records do not say: our number is shown, with no
  numeric verdict;
- `agrees` when |ours - paper| <= 2 combined std, else `differs`; the combined std is
  sqrt(our std^2 + paper std^2), each std over seeds as printed (ours with the tables' ddof).
  A cell with **one seed** has no spread of its own: its combined std is the paper's std alone,
  and the row's note says `one seed`. A side without a std (Table 3 prints none; a raw-pixel
  baseline is one measurement) adds nothing; where neither side has one, the verdict is `no std`:
  the data cannot say whether the difference is within the spread.

The paper's findings are judged on these rows (acai_repro.reporting.findings); the pages that show both are
acai_repro.reporting.scorecard's.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from acai_repro.models import MODELS
from acai_repro.reporting.tables import OWN_SOURCES, PAPER_VALUES, PROTOCOL_IMAGES, column_title, paper_columns
from acai_repro.results import DamagedRecordError, read_record
from acai_repro.table_registry import SCORECARD

# Every registered model, in the tables' order, then the raw pixels: name -> column title.
MODEL_TITLES = {name: column_title(name) for name in [*MODELS, "pixels"]}


def paper_models() -> list[str]:
    """The autoencoders the paper reports (the models of paper_values.csv), in the registry's order:
    the models the scorecard ranks and judges. Another registered model is shown beside them, never
    in their verdicts or counts."""
    listed = set(pd.read_csv(PAPER_VALUES, comment="#", usecols=["model"]).model)
    return [name for name in MODELS if name in listed]


AUTOENCODERS = paper_models()
TABLES = SCORECARD.judged  # ("table1", "table2", "table3")


class Verdict(str, Enum):
    """Every verdict the scorecard gives, as the pages and the CSV print it: a published value's
    against our cell (NUMBER_VERDICTS), a finding's as the paper words it (FINDING_VERDICTS)."""

    AGREES = "agrees"
    DIFFERS = "differs"
    REDUCED_SCALE = "reduced scale"
    UNDEFINED = "undefined"
    DIVERGED = "diverged"
    NOT_RUN = "not run"
    NO_STD = "no std"
    QUOTED = "quoted"
    HOLDS = "holds"
    FAILS = "fails"
    PARTLY = "partly"
    NOT_ENOUGH_CELLS = "not enough cells"

    __str__ = str.__str__  # its text, wherever it is printed
    __format__ = str.__format__


NUMBER_VERDICTS = [
    Verdict.AGREES,
    Verdict.DIFFERS,
    Verdict.REDUCED_SCALE,
    Verdict.UNDEFINED,
    Verdict.DIVERGED,
    Verdict.NOT_RUN,
    Verdict.NO_STD,
    Verdict.QUOTED,
]
FINDING_VERDICTS = [Verdict.HOLDS, Verdict.FAILS, Verdict.PARTLY, Verdict.NOT_ENOUGH_CELLS]
ROW_COLUMNS = [
    "table",
    "dataset",
    "dz",
    "model",
    "metric",
    "mean",
    "std",
    "n_seeds",
    "n_undefined",
    "images",
    "scale",
    "path",
    "report_last",
    "evaluations",
    "paper_mean",
    "paper_std",
    "paper_source",
    "diff",
    "diff_paper_std",
    "combined_std",
    "diff_combined_std",
    "verdict",
    "note",
]


def cell_images(sources: str) -> float:
    """Images each seed of a cell trained on (the smallest, from each record's metrics.json `spec`);
    NaN where a record has none."""
    images = []
    for source in str(sources).split(";"):
        metrics = Path(source).with_name("metrics.json")
        spec = read_record(metrics).get("spec") if metrics.exists() else None
        images.append(_spec_images(spec, metrics) if spec is not None else np.nan)
    return float(min(images))


def _spec_images(spec, path) -> int:
    images = spec.get("training", {}).get("total_images") if isinstance(spec, dict) else None
    if isinstance(images, bool) or not isinstance(images, int):
        raise DamagedRecordError(f"{path}: damaged record: 'spec.training.total_images' is {images!r}, not an integer")
    return images


def with_images(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary frame with each autoencoder cell's `images` (pixel rows: NaN, nothing trained)."""
    trained = summary.model != "pixels"
    images = [cell_images(s) if t else np.nan for s, t in zip(summary.sources, trained)]
    return summary.assign(images=images)


def recorded_scale(frames: dict) -> str | None:
    """The scale names the records carry (each cell's `spec.scale_name`, the tables' `scale`
    column), joined when several; None for records written before cells recorded one."""
    names = {
        name
        for frame in frames.values()
        if "scale" in frame
        for joined in frame.scale.dropna()
        for name in str(joined).split(";")
        if name
    }
    return "; ".join(sorted(names)) if names else None


def scale_name(config: dict, images) -> str:
    """The scale's name for records that carry none: the config's `scale_name`, else the last
    folder of its `results_dir`, else derived from the images per cell against the protocol's."""
    if config.get("scale_name"):
        return str(config["scale_name"])
    if config.get("results_dir") and Path(config["results_dir"]).name not in ("", "results"):
        return Path(config["results_dir"]).name
    counts = sorted({int(i) for i in images if not pd.isna(i)})
    if not counts:
        return "nothing trained"
    if counts[0] >= PROTOCOL_IMAGES:
        return "protocol"
    return "reduced: " + ", ".join(power_of_two_text(n) for n in counts) + " images per cell"


def power_of_two_text(n: int) -> str:
    """A number of images as the protocol writes it: '2^17' for a power of two, else '100,000'."""
    return f"2^{n.bit_length() - 1}" if n & (n - 1) == 0 else f"{n:,}"


def _ours(table: str, summary: pd.DataFrame | None) -> pd.DataFrame:
    columns = [
        "dataset",
        "dz",
        "model",
        "metric",
        "mean",
        "std",
        "n_seeds",
        "n_undefined",
        "status",
        "images",
        "path",
        "report_last",
        "evaluations",
    ]
    if summary is None or summary.empty:
        return pd.DataFrame(columns=columns).astype({"dz": "Int64"})
    ours = summary.assign(dataset=summary.get("dataset", "lines"))
    for column in ("path", "report_last", "evaluations"):  # summaries made without them (hand-made frames)
        ours[column] = ours.get(column, "")
    if table != "table1":
        ours = ours.drop(columns="metric", errors="ignore").assign(metric="accuracy")
    return ours[columns]


def number_rows(summaries: dict, scale: str, protocol_images: int = PROTOCOL_IMAGES) -> pd.DataFrame:
    """One row per published value (ROW_COLUMNS). `summaries`: table -> its summary frame (as
    tables.table1_summary / accuracy_summary give, plus `images`); an absent table: nothing run."""
    parts = []
    for table in TABLES:
        paper = paper_columns(table)
        ours = _ours(table, summaries.get(table))
        on = ["model", "metric"] if table == "table1" else ["dataset", "dz", "model", "metric"]
        merged = paper.merge(ours.drop(columns=["dataset", "dz"] if table == "table1" else []), on=on, how="left")
        if table == "table1":  # each model's own dz, as the table prints it
            merged["dz"] = merged.model.map(ours.set_index("model")["dz"].to_dict()).astype("Int64")
        parts.append(merged)
    rows = pd.concat(parts, ignore_index=True)
    rows["scale"] = scale
    rows["n_seeds"] = rows.n_seeds.astype("Int64")
    rows["n_undefined"] = rows.n_undefined.astype("Int64")
    rows["diff"] = rows["mean"] - rows.paper_mean
    rows["diff_paper_std"] = rows["diff"] / rows.paper_std
    rows["combined_std"] = [_combined_std(r) for r in rows.itertuples()]
    rows["diff_combined_std"] = rows["diff"] / rows.combined_std.where(rows.combined_std > 0)
    verdicts = [verdict(r, protocol_images) for r in rows.itertuples()]
    rows["verdict"], rows["note"] = [v for v, _ in verdicts], [n for _, n in verdicts]
    return rows[ROW_COLUMNS]


def _combined_std(row) -> float:
    """sqrt(ours^2 + paper^2) over the stds that exist; one seed contributes none of its own."""
    ours = row.std if not pd.isna(row.n_seeds) and row.n_seeds > 1 and row.model != "pixels" else np.nan
    stds = [s for s in (ours, row.paper_std) if not pd.isna(s)]
    return math.sqrt(sum(s * s for s in stds)) if stds else np.nan


def verdict(row, protocol_images: int = PROTOCOL_IMAGES) -> tuple[Verdict, str]:
    """(verdict, note) of one published value against our cell (a row of number_rows)."""
    source = getattr(row, "paper_source", "")
    if isinstance(source, str) and source not in OWN_SOURCES:  # another work's number: nothing of the paper's
        return Verdict.QUOTED, f"quoted by the paper from {source}: no verdict"
    if pd.isna(row.status):
        return Verdict.NOT_RUN, "" if row.model in MODEL_TITLES else "prior method: not part of this workflow"
    if row.status == "diverged":
        return Verdict.DIVERGED, f"{row.n_seeds} seed(s), at least one diverged"
    if row.status == "undefined":
        return Verdict.UNDEFINED, f"{int(row.n_undefined)} of {int(row.n_seeds)} seeds undefined"
    if row.status != "ok":  # a record status the tables print as n/a: no value either
        return Verdict.UNDEFINED, f"record status {row.status}"
    notes = ["one measurement" if row.model == "pixels" else "one seed" if row.n_seeds == 1 else ""]
    if row.model != "pixels" and not row.images >= protocol_images:
        trained = "unknown images" if pd.isna(row.images) else f"{power_of_two_text(int(row.images))} images"
        return Verdict.REDUCED_SCALE, _join(
            *notes, f"{trained} per cell, the protocol {power_of_two_text(protocol_images)}"
        )
    if not row.combined_std > 0:
        return Verdict.NO_STD, _join(*notes, "no std on either side")
    if pd.isna(row.paper_std):
        notes.append("the paper gives no std: ours alone")
    return (Verdict.AGREES if abs(row.diff) <= 2 * row.combined_std else Verdict.DIFFERS), _join(*notes)


def _join(*notes) -> str:
    return "; ".join(n for n in notes if n)
