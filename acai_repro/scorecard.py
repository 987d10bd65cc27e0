"""What came out again: every published number of Tables 1-3 and every claim the paper makes from
them, against our cells, with one verdict each.

Numbers. One row per value of acai_repro/paper_values.csv (the only copy of the paper's values),
with ours from the same summary frames the tables print (acai_repro.tables), under the same
reporting rule (`tables.report_rule`, from each cell's evaluation history). The verdict:

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

Findings. Each claim the paper draws from its tables is a check with the sentence quoted and its
place in the paper, judged as it is worded: `holds`, `fails`, `partly` or `not enough cells`. A
check ranks our means (defined cells only: an undefined or diverged cell cannot be ranked),
whatever the scale. Every setting the claim names counts: one not run is `not enough cells`
there. "Significantly higher" is each named model above each other one; "very good / very poor"
is measured against the Baseline first. `below_protocol` says whether a verdict at a reduced
scale says anything about the claim; where it does not, the page marks the verdict `(not
meaningful at this scale)` and the summary line counts it apart.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from acai_repro.config import load_config, load_schema
from acai_repro.models import MODELS
from acai_repro.results import DamagedRecordError, read_record
from acai_repro.tables import (
    DATASET_TITLES,
    GRID_TABLES,
    LATEX_PREAMBLE,
    OWN_SOURCES,
    PAPER_RULE,
    PAPER_VALUES,
    TABLE1_METRICS,
    MissingCellError,
    ReportRule,
    collect,
    column_title,
    grid_cell_paths,
    grid_summary,
    latex_text,
    source_text,
    table1_cell_paths,
    table1_summary,
)

PROTOCOL_IMAGES = load_schema()["properties"]["training"]["properties"]["total_images"]["default"]
# Every registered model, in the tables' order, then the raw pixels: name -> column title.
MODEL_TITLES = {name: column_title(name) for name in [*MODELS, "pixels"]}


def paper_models() -> list[str]:
    """The autoencoders the paper reports (the models of paper_values.csv), in the registry's order:
    the models the scorecard ranks and judges. Another registered model is shown beside them, never
    in their verdicts or counts."""
    listed = set(pd.read_csv(PAPER_VALUES, comment="#", usecols=["model"]).model)
    return [name for name in MODELS if name in listed]


AUTOENCODERS = paper_models()
TABLES = ("table1", "table2", "table3")
TABLE_TITLES = {"table1": "Table 1 (lines)", "table2": "Table 2 (single-layer classifier, in tandem)",
                "table3": "Table 3 (K-Means)"}  # fmt: skip
# What each table reads from a cell's records: the record file, its key and the pixels' record.
TABLE_RECORDS = {table: GRID_TABLES[table][1:4] for table in ("table2", "table3")}
# Every verdict with its symbol: the pages print both, never a colour alone.
SYMBOLS = {"agrees": "✓", "differs": "✗", "reduced scale": "↓", "undefined": "∅", "diverged": "‼",
           "not run": "–", "no std": "?", "quoted": "❞", "holds": "✓", "fails": "✗", "partly": "◐",
           "not enough cells": "…"}  # fmt: skip
NUMBER_VERDICTS = ["agrees", "differs", "reduced scale", "undefined", "diverged", "not run", "no std", "quoted"]
FINDING_VERDICTS = ["holds", "fails", "partly", "not enough cells"]
NOT_MEANINGFUL = "not meaningful at this scale"
ROW_COLUMNS = ["table", "dataset", "dz", "model", "metric", "mean", "std", "n_seeds", "images", "scale",
               "path", "report_last", "evaluations", "paper_mean", "paper_std", "paper_source", "diff", "diff_paper_std",
               "combined_std", "diff_combined_std", "verdict", "note"]  # fmt: skip
SENSITIVITY_LAST = (1, 2, 4, 8)  # the fixed rules the Table 1 sensitivity lines read


# ---------------------------------------------------------------- numbers


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
    names = {name for frame in frames.values() if "scale" in frame
             for joined in frame.scale.dropna() for name in str(joined).split(";") if name}  # fmt: skip
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
    return "reduced: " + ", ".join(_power_of_two(n) for n in counts) + " images per cell"


def _power_of_two(n: int) -> str:
    return f"2^{n.bit_length() - 1}" if n & (n - 1) == 0 else f"{n:,}"


def _paper_rows() -> pd.DataFrame:
    paper = pd.read_csv(PAPER_VALUES, comment="#", dtype={"dz": "Int64", "source": str}, keep_default_na=False,
                        na_values={"mean": [""], "std": [""], "dz": [""]})  # fmt: skip
    return paper.rename(columns={"mean": "paper_mean", "std": "paper_std", "source": "paper_source"})


def _ours(table: str, summary: pd.DataFrame | None) -> pd.DataFrame:
    columns = ["dataset", "dz", "model", "metric", "mean", "std", "n_seeds", "n_undefined", "status", "images",
               "path", "report_last", "evaluations"]  # fmt: skip
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
    tables.table1_summary / grid_summary give, plus `images`); an absent table: nothing run."""
    parts = []
    for table in TABLES:
        paper = _paper_rows().query("table == @table")
        ours = _ours(table, summaries.get(table))
        on = ["model", "metric"] if table == "table1" else ["dataset", "dz", "model", "metric"]
        merged = paper.merge(ours.drop(columns=["dataset", "dz"] if table == "table1" else []), on=on, how="left")
        if table == "table1":  # each model's own dz, as the table prints it
            merged["dz"] = merged.model.map(ours.set_index("model")["dz"].to_dict()).astype("Int64")
        parts.append(merged)
    rows = pd.concat(parts, ignore_index=True)
    rows["scale"] = scale
    rows["n_seeds"] = rows.n_seeds.astype("Int64")
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


def verdict(row, protocol_images: int = PROTOCOL_IMAGES) -> tuple[str, str]:
    """(verdict, note) of one published value against our cell (a row of number_rows)."""
    source = getattr(row, "paper_source", "")
    if isinstance(source, str) and source not in OWN_SOURCES:  # another work's number: nothing of the paper's
        return "quoted", f"quoted by the paper from {source}: no verdict"
    if pd.isna(row.status):
        return "not run", "" if row.model in MODEL_TITLES else "prior method: not part of this workflow"
    if row.status == "diverged":
        return "diverged", f"{row.n_seeds} seed(s), at least one diverged"
    if row.status == "undefined":
        return "undefined", f"{int(row.n_undefined)} of {int(row.n_seeds)} seeds undefined"
    if row.status != "ok":  # a record status the tables print as n/a: no value either
        return "undefined", f"record status {row.status}"
    notes = ["one measurement" if row.model == "pixels" else "one seed" if row.n_seeds == 1 else ""]
    if row.model != "pixels" and not row.images >= protocol_images:
        trained = "unknown images" if pd.isna(row.images) else f"{_power_of_two(int(row.images))} images"
        return "reduced scale", _join(*notes, f"{trained} per cell, the protocol {_power_of_two(protocol_images)}")
    if not row.combined_std > 0:
        return "no std", _join(*notes, "no std on either side")
    if pd.isna(row.paper_std):
        notes.append("the paper gives no std: ours alone")
    return ("agrees" if abs(row.diff) <= 2 * row.combined_std else "differs"), _join(*notes)


def _join(*notes) -> str:
    return "; ".join(n for n in notes if n)


# ---------------------------------------------------------------- findings


@dataclass(frozen=True)
class Finding:
    name: str
    quote: str
    location: str
    table: str  # the paper table whose cells the check reads
    below_protocol: bool
    why: str  # why a verdict below the protocol scale does (not) speak to the claim
    check: Callable[[pd.DataFrame], tuple[str, str]]  # number rows -> (verdict, what it was evaluated on)


def defined(rows: pd.DataFrame, table: str, **where) -> pd.Series:
    """model -> our mean, for the autoencoder cells of `table` (and `where`) with a defined value."""
    chosen = rows[(rows.table == table) & rows.model.isin(AUTOENCODERS) & rows["mean"].notna()]
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    return chosen.set_index("model")["mean"]


def rank(values: pd.Series, model: str, lower_is_better: bool) -> int | None:
    """1 for the best of `values`; None when `model` has no value or nothing to be ranked against."""
    if model not in values or len(values) < 2:
        return None
    better = values < values[model] if lower_is_better else values > values[model]
    return int(better.sum()) + 1


def _detail(results) -> str:
    return "; ".join(f"{where}: {'yes' if ok else 'no' if ok is not None else 'not enough cells'}"
                     for where, ok in results)  # fmt: skip


def combine(results: list[tuple[str, bool | None]], every_part: bool = False) -> tuple[str, str]:
    """Outcomes per part of a claim (None: not enough cells there) -> (verdict, which gave what): holds
    when every part holds, partly when some do, fails when none; with `every_part`, a claim with a part
    that cannot be judged does not hold (not enough cells, or partly / fails by the others)."""
    judged = [(where, ok) for where, ok in results if ok is not None]
    if not judged:
        return "not enough cells", "no setting run has the cells it needs" if results else "no setting run"
    verdict = "holds" if all(ok for _, ok in judged) else "fails" if not any(ok for _, ok in judged) else "partly"
    if every_part and len(judged) < len(results):
        verdict = "not enough cells" if verdict == "holds" else "partly" if verdict == "partly" else "fails"
    return verdict, _detail(results)


def combine_settings(results: list[tuple[str, bool | None]], universal: bool) -> tuple[str, str]:
    """Outcomes per setting the claim names (None: not run, or not enough cells there) -> (verdict,
    which gave what). A `universal` claim ("in all settings", "on MNIST and SVHN") fails on one setting
    that contradicts it; one worded "in general" holds partly when some settings do. A claim with no
    contradiction but a named setting not judged has not enough cells."""
    judged = [ok for _, ok in results if ok is not None]
    if not judged:
        return "not enough cells", _detail(results) or "no setting"
    if not all(judged):
        return ("fails" if universal or not any(judged) else "partly"), _detail(results)
    return ("holds" if len(judged) == len(results) else "not enough cells"), _detail(results)


def paper_settings(rows: pd.DataFrame, table: str, datasets=None) -> list[tuple[str, int]]:
    """(dataset, dz) rows of a paper table (optionally of some datasets), run or not, in the paper's order."""
    chosen = rows[(rows.table == table) & rows.model.isin(AUTOENCODERS)]
    if datasets:
        chosen = chosen[chosen.dataset.isin(datasets)]
    return list(dict.fromkeys(zip(chosen.dataset, chosen.dz)))


def _run(rows, table, dataset, dz) -> bool:
    cells = rows[(rows.table == table) & (rows.dataset == dataset) & (rows.dz == dz) & rows.model.isin(AUTOENCODERS)]
    return bool((cells.verdict != "not run").any())


def _setting(dataset: str, dz) -> str:
    return f"{DATASET_TITLES.get(dataset, dataset)} dz {dz}"


def _is(value: int | None, test) -> bool | None:
    return None if value is None else bool(test(value))


def _per_setting(rows, table, datasets, judge, universal: bool = True) -> tuple[str, str]:
    """`judge(values)` on each (dataset, dz) setting of `table`'s `datasets` the claim names; a setting
    not run is not enough cells there, never left out."""
    results = []
    for dataset, dz in paper_settings(rows, table, datasets):
        if not _run(rows, table, dataset, dz):
            results.append((f"{_setting(dataset, dz)} (not run)", None))
            continue
        values = defined(rows, table, dataset=dataset, dz=dz)
        results.append((f"{_setting(dataset, dz)} ({len(values)} ranked)", judge(values)))
    return combine_settings(results, universal)


def _lines_part(rows, metric, model, test, without=()):
    """One part of a Table 1 claim: `test(rank, n)` of `model` among the defined values of `metric`."""
    values = defined(rows, "table1", metric=metric).drop(list(without), errors="ignore")
    where = f"{metric}{' without ' + ', '.join(without) if without else ''} ({len(values)} ranked)"
    return where, _is(rank(values, model, True), lambda r: test(r, len(values)))


def _acai_best_lines(rows):
    return combine([_lines_part(rows, m, "acai", lambda r, n: r == 1) for m in TABLE1_METRICS], every_part=True)


def _baseline_worst_distance(rows):
    return combine([_lines_part(rows, "mean_distance", "baseline", lambda r, n: r == n)])


def _against_baseline(rows, metric: str, model: str, good: bool):
    """A part "a very good / very poor `metric` score" of `model` (lower is better): very good is better
    than the Baseline or in the best third, never worse than the Baseline; very poor is worse than the
    Baseline or in the worst third, never better than the Baseline."""
    values = defined(rows, "table1", metric=metric)
    n, place = len(values), rank(values, model, True)
    label = f"{metric} {'very good' if good else 'very poor'} ({n} ranked)"
    if place is None:
        return label, None
    third = place <= n / 3 if good else place > n - n / 3
    if "baseline" not in values or model == "baseline":
        return label, third
    better, worse = values[model] < values["baseline"], values[model] > values["baseline"]
    return label, bool(not worse and (better or third)) if good else bool(not better and (worse or third))


def _vae_good_distance_poor_smoothness(rows):
    return combine([_against_baseline(rows, "mean_distance", "vae", good=True),
                    _against_baseline(rows, "smoothness", "vae", good=False)], every_part=True)  # fmt: skip


def _aae_best_smoothness_of_the_others(rows):
    return combine([_lines_part(rows, "smoothness", "aae", lambda r, n: r == 1, ["acai"]),
                    _lines_part(rows, "mean_distance", "aae", lambda r, n: r > 1, ["acai"])], every_part=True)  # fmt: skip


def _vqvae_worst_smoothness(rows):
    return combine([_lines_part(rows, "smoothness", "vqvae", lambda r, n: r == n)])


def _above(first: str, second: str):
    return lambda v: bool(v[first] > v[second]) if first in v and second in v else None


AHEAD, BEHIND = ["denoising", "vae", "acai"], ["baseline", "aae", "vqvae"]


def _each_above_each(v):
    """Each of AHEAD above each of BEHIND: "significantly higher" is not a group mean."""
    if not set(AHEAD + BEHIND) <= set(v.index):
        return None
    return bool(v[AHEAD].min() > v[BEHIND].max())


def _within(models: list[str], places: int):
    """Each of `models` among the `places` best (highest) of a setting with more than `places` values."""

    def judge(v):
        ranks = [rank(v, m, False) for m in models]
        return None if None in ranks or len(v) <= places else all(r <= places for r in ranks)

    return judge


def _acai_above_pixels(rows):
    results = []
    for dataset, dz in paper_settings(rows, "table2"):
        if not _run(rows, "table2", dataset, dz):
            results.append((f"{_setting(dataset, dz)} (not run)", None))
            continue
        ours = defined(rows, "table2", dataset=dataset, dz=dz)
        pixels = rows[(rows.table == "table2") & (rows.model == "pixels") & (rows.dataset == dataset)]["mean"].dropna()
        above = bool(ours["acai"] > pixels.iloc[0]) if "acai" in ours and len(pixels) else None
        results.append((_setting(dataset, dz), above))
    return combine_settings(results, universal=True)


FINDINGS = [
    Finding("acai_best_on_lines",
            "We found dramatically improved performance on the lines benchmark when using ACAI — it achieved "
            "the best Mean Distance and Smoothness score among the autoencoders we considered.",
            "Section 3.2, Table 1", "table1", True,
            "a ranking of the six models trained on the same images; ACAI's lead over the others grows with "
            "training in every run we have (docs/protocol.md §8), so a lead at a reduced scale is evidence for "
            "the claim and a deficit against it",
            _acai_best_lines),
    Finding("baseline_worst_mean_distance",
            "After training our baseline autoencoder, we achieved a Mean Distance score which was the worst "
            "(highest) of all of the autoencoders we studied, though the Smoothness was on par with various other "
            "approaches.",
            "Section 3.2 (Base Model), Table 1", "table1", False,
            "below ~100k images most models still decode every interpolant to one line, at similar Mean Distances",
            _baseline_worst_distance),
    Finding("vae_good_distance_poor_smoothness",
            "This resulted in a very good Mean Distance score but a very poor Smoothness score.",
            "Section 3.2 (Variational Autoencoder), Table 1", "table1", False,
            "a ranking among models that have not all left the collapsed state; checked as: Mean Distance better "
            "than the Baseline's or in the best third, never worse than the Baseline's; Smoothness worse than the "
            "Baseline's or in the worst third, never better than the Baseline's",
            _vae_good_distance_poor_smoothness),
    Finding("aae_best_smoothness_of_existing",
            "This behavior produced the best Smoothness score among existing autoencoders, but a relatively poor "
            "Mean Distance score.",
            "Section 3.2 (Adversarial Autoencoder), Table 1", "table1", False,
            "a ranking among models that have not all left the collapsed state", _aae_best_smoothness_of_the_others),
    Finding("vqvae_poor_interpolations",
            "On the lines task, we found that this procedure produced poor interpolations.",
            "Section 3.2 (VQ-VAE), Table 1", "table1", False,
            "the VQ-VAE's EMA codebook stays collapsed until ~650 kimg (docs/quick-scale.md): no Smoothness before "
            "that; checked as: the worst Smoothness",
            _vqvae_worst_smoothness),
    Finding("acai_beats_baseline_classifier",
            "In all settings, using ACAI instead of the baseline autoencoder upon which it is based produced "
            "significant gains",
            "Section 4 (Single-Layer Classifier), Table 2", "table2", True,
            "ACAI against the same autoencoder without its regularizer at an equal budget; checked as: a higher "
            "mean in every setting of Table 2 (significance is not tested)",
            lambda rows: _per_setting(rows, "table2", None, _above("acai", "baseline"))),
    Finding("denoising_vae_acai_ahead_classifier",
            "In general, we found the denoising autoencoder, VAE, and ACAI obtained significantly higher "
            "performance compared to the remaining models.",
            "Section 4 (Single-Layer Classifier), Table 2", "table2", False,
            "the in-tandem classifier is still rising at the last evaluation of a reduced run (docs/quick-scale.md); "
            "checked as: each of the three above each of the other three, per setting ('in general': partly "
            "when some settings hold)",
            lambda rows: _per_setting(rows, "table2", None, _each_above_each, universal=False)),
    Finding("acai_best_classifier_mnist_svhn",
            "On MNIST and SVHN, ACAI achieved the best accuracy by a significant margin;",
            "Section 4 (Single-Layer Classifier), Table 2", "table2", False,
            "the in-tandem classifier is still rising at the last evaluation of a reduced run; checked as: ACAI "
            "first in every MNIST and SVHN setting",
            lambda rows: _per_setting(rows, "table2", ["mnist", "svhn"], _within(["acai"], 1))),
    Finding("acai_denoising_similar_cifar10",
            "on CIFAR-10, the performance of ACAI and the denoising autoencoder was similar.",
            "Section 4 (Single-Layer Classifier), Table 2", "table2", False,
            "the in-tandem classifier is still rising at the last evaluation of a reduced run; checked as: ACAI "
            "and Denoising are the two best, per setting",
            lambda rows: _per_setting(rows, "table2", ["cifar10"], _within(["acai", "denoising"], 2))),
    Finding("acai_beats_pixels_classifier",
            "By way of comparison, we found a single-layer classifier applied directly to (flattened) image pixels "
            "achieved an accuracy of 92.31%, 23.48%, and 39.70% on MNIST, SVHN, and CIFAR-10 respectively, so "
            "classifying using the representation learned by ACAI provides a huge benefit.",
            "Section 4 (Single-Layer Classifier), Table 2", "table2", False,
            "the pixel classifier is trained to convergence, the in-tandem one only for the reduced run",
            _acai_above_pixels),
    Finding("acai_top_two_kmeans",
            "On both MNIST and SVHN, ACAI achieved the best or second-best performance for both dz = 32 and dz = 256.",
            "Section 4 (Clustering), Table 3", "table3", False,
            "a ranking of the latents of partly trained autoencoders",
            lambda rows: _per_setting(rows, "table3", ["mnist", "svhn"], _within(["acai"], 2))),
]  # fmt: skip


def meaningful_here(rows: pd.DataFrame, finding: Finding) -> bool:
    """Whether a verdict on `rows` speaks to the claim: at the protocol scale always; at a reduced
    scale (a cell of the finding's table trained on fewer images) only where the finding says so."""
    part = rows[(rows.table == finding.table) & rows.model.isin(AUTOENCODERS)]
    return finding.below_protocol or not (part.verdict == "reduced scale").any()


def finding_rows(rows: pd.DataFrame, findings=FINDINGS) -> pd.DataFrame:
    """One row per finding: its verdict on the cells in `rows`, what it was evaluated on, and whether
    that verdict is meaningful at the scale of those cells."""
    out = []
    for finding in findings:
        verdict, evaluated_on = finding.check(rows)
        out.append({"finding": finding.name, "verdict": verdict, "evaluated_on": evaluated_on,
                    "meaningful": "yes" if meaningful_here(rows, finding) else "no",
                    "location": finding.location, "quote": finding.quote,
                    "below_protocol": "yes" if finding.below_protocol else "no", "why": finding.why})  # fmt: skip
    return pd.DataFrame(out)


def verdict_label(finding) -> str:
    """'holds', or 'holds (not meaningful at this scale)' for a judged finding the scale cannot speak to."""
    apart = finding.meaningful == "no" and finding.verdict != "not enough cells"
    return f"{finding.verdict} ({NOT_MEANINGFUL})" if apart else finding.verdict


def _counts(verdicts: pd.Series) -> str:
    f = verdicts.value_counts()
    return f"{f.get('holds', 0)} hold, {f.get('fails', 0)} fail, {f.get('partly', 0)} partly"


def summary_line(rows: pd.DataFrame, findings: pd.DataFrame) -> str:
    """One line: how many findings hold (those not meaningful at this scale counted apart), and how many
    of the autoencoders' published numbers were compared at the protocol scale."""
    judged = findings[findings.verdict != "not enough cells"]
    apart = judged[judged.meaningful == "no"]
    parts = f"{_counts(judged[judged.meaningful == 'yes'].verdict)}, " \
            f"{int((findings.verdict == 'not enough cells').sum())} need more cells"  # fmt: skip
    if len(apart):
        parts += f"; {NOT_MEANINGFUL}: {_counts(apart.verdict)}"
    n = rows[rows.model.isin(AUTOENCODERS)].verdict.value_counts()
    compared = n.get("agrees", 0) + n.get("differs", 0) + n.get("no std", 0)
    numbers = (f"{compared} of {int(n.sum())} at protocol scale "
               f"({n.get('agrees', 0)} agree, {n.get('differs', 0)} differ), "
               f"{n.get('reduced scale', 0)} at a reduced scale, {n.get('undefined', 0) + n.get('diverged', 0)} "
               f"undefined or diverged, {n.get('not run', 0)} not run")  # fmt: skip
    return f"findings: {parts}; numbers: {numbers}"


# ---------------------------------------------------------------- pages


def _mark(verdict: str) -> str:
    return f"{SYMBOLS[verdict]} {verdict}"


def _value(mean, std, n_seeds=1) -> str:
    """'0.24 ± 0.01'; a value with no std (one seed, one measurement) shows none."""
    if pd.isna(mean):
        return ""
    return f"{mean:.2f}" + (f" ± {std:.2f}" if not pd.isna(std) and n_seeds != 1 else "")


def _paper_text(row) -> str:
    source = row.get("paper_source", "")
    named = f", {source_text(source, row.model)}" if isinstance(source, str) and source else ""
    return _value(row.paper_mean, row.paper_std, 0) + named


def _cell_text(row) -> str:
    ours = _value(row["mean"], row["std"], row.n_seeds) or "—"
    return f"{ours} / {_paper_text(row)} {_mark(row.verdict)}"


def _md_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def own_dz_titles(rows: pd.DataFrame, table: str) -> dict:
    """Column titles of a paper table, naming the dz of a model that ran at another dz than the others
    (Table 1's VQ-VAE at 256)."""
    titles = dict(MODEL_TITLES)
    if table == "table1":
        dz = rows[(rows.table == "table1") & rows.dz.notna()].drop_duplicates("model").set_index("model").dz
        if len(dz):
            usual = dz.mode().iloc[0]
            titles.update({m: f"{MODEL_TITLES[m]} (dz {z})" for m, z in dz.items() if z != usual})
    return titles


def compact_table(rows: pd.DataFrame, table: str) -> pd.DataFrame:
    """A paper table as the paper lays it out (only the rows with a cell run): `ours / paper verdict`."""
    part = rows[(rows.table == table) & rows.model.isin(MODEL_TITLES)]
    keys = ["metric"] if table == "table1" else ["dataset", "dz"]
    run = part[part.verdict != "not run"]
    if table != "table1":  # a dataset's pixel row belongs to each of its (dataset, dz) rows
        settings = run[run.model != "pixels"][keys].drop_duplicates()
        pixels = part[part.model == "pixels"].drop(columns="dz").merge(settings, on="dataset")
        part, run = pd.concat([part[part.model != "pixels"], pixels]), settings
    shown = part.merge(run[keys].drop_duplicates(), on=keys)
    if shown.empty:
        return pd.DataFrame()
    shown = shown.assign(text=[_cell_text(r) for _, r in shown.iterrows()])
    order = list(dict.fromkeys(shown.set_index(keys).index))  # the paper's row order
    columns = [m for m in MODEL_TITLES if m in set(shown.model)]
    wide = shown.pivot(index=keys, columns="model", values="text").reindex(index=order, columns=columns)
    wide = wide.fillna("– not run").rename(columns=own_dz_titles(rows, table)).reset_index()
    if table == "table1":
        wide["metric"] = wide.metric.map({"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"})
    else:
        wide["dataset"] = wide.dataset.map(lambda d: DATASET_TITLES.get(d, d))
    return wide


def _where(key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return " ".join(f"dz {k}" if i == 1 else DATASET_TITLES.get(k, k) for i, k in enumerate(key) if not pd.isna(k))


def not_run_text(rows: pd.DataFrame) -> list[str]:
    """The published values without a cell of ours, grouped: one line per paper table."""
    lines = []
    for table in TABLES:
        part = rows[(rows.table == table) & (rows.verdict == "not run")]
        if part.empty:
            continue
        groups = part.groupby(["dataset", "dz"] if table != "table1" else ["metric"], sort=False, dropna=False)
        items = []
        for key, group in groups:
            every = set(AUTOENCODERS) <= set(group.model)
            rest = [MODEL_TITLES.get(m, m) for m in group.model if not (every and m in AUTOENCODERS)]
            items.append(f"{_where(key)}: " + ", ".join(["every autoencoder"] * every + rest))
        lines.append(f"- **{TABLE_TITLES[table]}**: " + "; ".join(items) + ".")
    return lines


def quoted_text(rows: pd.DataFrame) -> list[str]:
    """The values the paper quotes from other work, with their sources: shown, never judged."""
    part = rows[rows.verdict == "quoted"]
    return [f"- **{TABLE_TITLES[r.table]}**, {_where((r.dataset,))}: {source_text(r.paper_source, r.model)}: "
            f"{r.paper_mean:.1f}" + (f" (ours: {r['mean']:.2f})" if not pd.isna(r["mean"]) else "")
            for _, r in part.iterrows()]  # fmt: skip


LEGEND = ("✓ agrees (within 2 combined std) · ✗ differs · ↓ reduced scale (fewer images than the protocol: "
          "our number, no verdict) · ∅ undefined (every evaluation collapsed) · ‼ diverged · – not run · "
          "? no std on either side · ❞ quoted (a value the paper quotes from other work: no verdict). "
          "Findings: ✓ holds · ✗ fails · ◐ partly · … not enough cells; a verdict the scale cannot speak to "
          f"says ({NOT_MEANINGFUL}) and is counted apart.")  # fmt: skip
COMPARES = ("What this page compares: each value the paper publishes in Tables 1-3 (and the values it quotes "
            "beside them, shown with their source, not judged) against ours, read from the same records as our "
            "tables under the same reporting rule; and each finding the paper draws from those tables, checked "
            "as it is worded on the cells we ran (a setting the claim names that was not run: not enough cells).")


def markdown(rows: pd.DataFrame, findings: pd.DataFrame, context: str, sensitivity: list[str] = ()) -> str:
    """results/reproduction.md: the summary, the findings, a compact table per paper table, the
    reporting rule's sensitivity, what was not run and what is quoted."""
    scale = ", ".join(sorted(set(rows.scale.dropna()))) or "nothing run"
    out = [f"# Reproduction scorecard: the paper against our {scale} run", "", f"**{summary_line(rows, findings)}**",
           "", COMPARES, "", context, "", LEGEND, "", "## The paper's findings", ""]  # fmt: skip
    for f in findings.itertuples():
        out += [f"- **{SYMBOLS[f.verdict]} {verdict_label(f)}**: \"{f.quote}\" ({f.location})",
                f"  - evaluated on: {f.evaluated_on}",
                f"  - meaningful below the protocol scale: {f.below_protocol} ({f.why})"]  # fmt: skip
    for table in TABLES:
        wide = compact_table(rows, table)
        out += ["", f"## {TABLE_TITLES[table]}: ours / paper", ""]
        out += [_md_table(wide) if not wide.empty else "No cell of this table was run."]
    if sensitivity:
        out += ["", "## Table 1 under other reporting rules", "", *sensitivity]
    out += ["", "## Not run", "", *not_run_text(rows)]
    quoted = quoted_text(rows)
    if quoted:
        out += ["", "## Quoted by the paper from other work (no verdict)", "", *quoted]
    return "\n".join(out) + "\n"


def latex(rows: pd.DataFrame, findings: pd.DataFrame, caption: str = "") -> str:
    """Two booktabs tables: the findings (verdict in words) and the verdicts per paper table, each kept
    within the text width; the preamble and a caption in the header comment."""
    body = [f"{latex_text(f.location)} & {latex_text(f.quote)} & {latex_text(verdict_label(f))} & {f.below_protocol} \\\\"
            for f in findings.itertuples()]  # fmt: skip
    counts = rows[rows.model.isin(AUTOENCODERS)].groupby("table").verdict.value_counts().unstack(fill_value=0)
    counts = counts.reindex(index=list(TABLES), columns=NUMBER_VERDICTS[:-1], fill_value=0)  # no quoted autoencoder
    number_body = [f"{TABLE_TITLES[t].split(' (')[0]} & " + " & ".join(str(int(v)) for v in counts.loc[t]) + " \\\\"
                   for t in TABLES]  # fmt: skip
    fit = r"\noindent\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"
    return "\n".join([
        f"% Generated by the ACAI reproduction workflow (rule reproduction). {latex_text(summary_line(rows, findings))}",
        f"% Needs in the preamble: {LATEX_PREAMBLE}",
        r"% Use inside \begin{table}[t]\centering ... \end{table}; uncomment the caption below to use it:",
        f"% \\caption{{{caption}}}",
        fit, r"\begin{tabular}{p{2.1cm}p{5.5cm}p{1.8cm}p{1.0cm}}", r"\toprule",
        r"Where & The paper's finding & Verdict & Below protocol \\", r"\midrule", *body, r"\bottomrule",
        r"\end{tabular}}", "", r"\medskip", "",
        fit, r"\begin{tabular}{l" + "r" * (len(NUMBER_VERDICTS) - 1) + "}", r"\toprule",
        "Published values & " + " & ".join(NUMBER_VERDICTS[:-1]) + r" \\", r"\midrule", *number_body, r"\bottomrule",
        r"\end{tabular}}", ""])  # fmt: skip


# ---------------------------------------------------------------- records -> pages


def summaries(records: dict, std_ddof: int = 0, rule: ReportRule = PAPER_RULE) -> dict:
    """table -> summary frame with `images`, from each table's record paths: records[table] is a
    list of paths (table1) or a (cell paths, pixel paths) pair; a table with no cell paths is absent.
    Each trained cell's value under `rule`, from its evaluation history, as the tables read it."""
    out = {}
    if records.get("table1"):
        out["table1"] = with_images(table1_summary(collect(records["table1"], TABLE1_METRICS, rule), std_ddof))
    for table in ("table2", "table3"):
        cells, pixels = records.get(table) or ([], [])
        if cells:
            key = TABLE_RECORDS[table][1]
            out[table] = with_images(grid_summary(collect(cells, [key], rule), pixels, key, table, std_ddof))
    return out


def sensitivity_lines(records: dict, std_ddof: int, scale: str) -> list[str]:
    """Table 1 under each fixed rule of SENSITIVITY_LAST (a rule needing more evaluations than a cell
    made: '—'): one line per Table 1 value (our value and its verdict under each), then the Table 1
    findings' verdicts under each."""
    if not records.get("table1"):
        return []
    rules = {}
    for last in SENSITIVITY_LAST:
        try:
            frames = {"table1": with_images(table1_summary(collect(records["table1"], TABLE1_METRICS,
                                                                   ReportRule(last, None)), std_ddof))}  # fmt: skip
        except MissingCellError:  # fewer evaluations than `last`
            continue
        rows = number_rows(frames, scale)
        titles = own_dz_titles(rows, "table1")
        rules[last] = (rows[(rows.table == "table1") & (rows.verdict != "not run")].set_index(["metric", "model"]),
                       finding_rows(rows, [f for f in FINDINGS if f.table == "table1"]).set_index("finding"))  # fmt: skip
    if not rules:
        return []
    header = ["Table 1 value", *(f"last {n}" if n in rules else f"last {n} (too few evaluations)" for n in SENSITIVITY_LAST)]
    first_values, first_findings = next(iter(rules.values()))
    lines = []
    for metric, model in first_values.index:
        cells = [_sensitivity_value(rules[n][0].loc[(metric, model)]) if n in rules else "—" for n in SENSITIVITY_LAST]
        lines.append([f"{TABLE1_MARKDOWN[metric]}, {titles[model]}", *cells])
    for name in first_findings.index:
        lines.append([f"finding `{name}`", *(_mark(rules[n][1].loc[name, "verdict"]) if n in rules else "—"
                                              for n in SENSITIVITY_LAST)])  # fmt: skip
    intro = ("Each seed's value as the median of a fixed number of its last evaluations instead of the rule "
             "above, from the same histories: our value and its verdict, then the Table 1 findings' verdicts.")
    return [intro, "", _md_table(pd.DataFrame(lines, columns=header))]


TABLE1_MARKDOWN = {"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"}


def _sensitivity_value(row) -> str:
    return f"{_value(row['mean'], row['std'], row.n_seeds) or '—'} {SYMBOLS[row.verdict]}"


def _power_text(images) -> str:
    counts = sorted({int(i) for i in images if not pd.isna(i)})
    return ", ".join(_power_of_two(n) for n in counts) or "unknown"


def _seed_count(summary: pd.DataFrame) -> str:
    counts = sorted(set(summary[summary.model != "pixels"].n_seeds))
    return " or ".join(map(str, counts)) + f" seed{'s' if max(counts) > 1 else ''}"


def _rule_pairs(summary: pd.DataFrame) -> str:
    pairs = sorted({(n, m) for n, m in zip(summary.report_last, summary.evaluations) if isinstance(n, str) and n})
    return " or ".join(f"last {n} of {m}" for n, m in pairs) or "final weights"


def kmeans_restarts(sources) -> list[int]:
    """The K-Means restarts each Table 3 record says it ran."""
    found = set()
    for joined in sources:
        for source in str(joined).split(";"):
            path = Path(source)
            if path.name == "kmeans.json" and path.exists():
                found.add(read_record(path).get("restarts"))
    return sorted(r for r in found if r is not None)


def _path_text(frame: pd.DataFrame) -> str:
    """The training paths (training.fast_path) the frame's cells were trained on."""
    paths = sorted({p for joined in frame.get("path", pd.Series(dtype=str)).dropna() for p in str(joined).split(";") if p})
    return f"the {' and '.join(paths)} path{'s' if len(paths) > 1 else ''}" if paths else "path not recorded"


def run_size_line(frames: dict, rule: ReportRule) -> str:
    """This run's size in one line: per table run, the datasets and dz, images per cell, seeds, the
    reporting rule with its N, K-Means restarts; the VQ-VAE's dz where it differs; against the protocol's."""
    parts = []
    if "table1" in frames:
        t1 = frames["table1"]
        own = {m: z for m, z in t1.drop_duplicates("model").set_index("model").dz.items() if z != t1.dz.mode().iloc[0]}
        dz = "".join(f", {MODEL_TITLES.get(m, m)} at dz {z}" for m, z in own.items())
        parts.append(f"Table 1 on lines ({_power_text(t1.images)} images per cell, {_seed_count(t1)}, "
                     f"{_path_text(t1)}, each seed the median of its {_rule_pairs(t1)} evaluations{dz})")  # fmt: skip
    for table in ("table2", "table3"):
        if table not in frames:
            continue
        grid = frames[table][frames[table].model != "pixels"]
        settings = ", ".join(f"{DATASET_TITLES.get(d, d)} dz {z}" for d, z in dict.fromkeys(zip(grid.dataset, grid.dz)))
        what = f"each seed the median of its {_rule_pairs(grid)} evaluations" if table == "table2" else \
            f"K-Means with {', '.join(map(str, kmeans_restarts(grid.sources))) or 'unrecorded'} restarts"  # fmt: skip
        parts.append(f"{TABLE_TITLES[table].split(' (')[0]} on {settings} ({_power_text(grid.images)} images per "
                     f"cell, {_seed_count(grid)}, {_path_text(grid)}, {what})")  # fmt: skip
    protocol = (f"the protocol: {_power_of_two(PROTOCOL_IMAGES)} images per cell, 3 seeds, the last 20 of 256 "
                "evaluations, 1,000 K-Means restarts, lines, MNIST, SVHN and CIFAR-10")
    return f"This run: {'; '.join(parts) or 'nothing'} ({rule.describe()}; {protocol})."


def write_scorecard(records: dict, csv_path, md_path, tex_path=None, std_ddof: int = 0, config=None,
                    rule: ReportRule = PAPER_RULE) -> str:  # fmt: skip
    """Every output of the scorecard from the record files; returns the summary line."""
    frames = summaries(records, std_ddof, rule)
    images = [i for s in frames.values() for i in s.images]
    # read from the results themselves; the config names it only for records that do not
    scale = recorded_scale(frames) or scale_name(config or {}, images)
    rows = number_rows(frames, scale)
    findings = finding_rows(rows)
    rows.to_csv(csv_path, index=False)
    std = "population std (ddof 0, as the authors)" if std_ddof == 0 else f"sample std (ddof {std_ddof})"
    size = run_size_line(frames, rule)
    context = (f"Scale: **{scale}**. {size} Ours as mean ± {std} over seeds; a cell with one seed has no std of its "
               f"own (none is shown), so its combined std is the paper's alone (note `one seed`). Every number, "
               f"with both differences in std, is in `{Path(csv_path).name}`.")  # fmt: skip
    Path(md_path).write_text(markdown(rows, findings, context, sensitivity_lines(records, std_ddof, scale)))
    if tex_path:
        caption = latex_text(f"The paper's findings and published values against our {scale} run. {size}")
        Path(tex_path).write_text(latex(rows, findings, caption))
    return summary_line(rows, findings)


def record_paths(config: dict, root) -> dict:
    """The record files of every cell the config's tables need, under `root` (the rules' layout,
    results/{dataset}/{model}/dz{dz}/seed{seed}), that exist: whatever cells were run."""

    def existing(paths):
        return [str(p) for p in paths if p.exists()]

    records = {"table1": existing(table1_cell_paths(config, root))}
    for table in TABLE_RECORDS:
        paths, pixels = grid_cell_paths(config, Path(root), table)
        records[table] = (existing(paths), existing(pixels))
    return records


def merged_record_paths(config: dict, roots: list) -> dict:
    """record_paths over several results folders, merged per table. A cell (the same record path
    below its root) in two folders raises: which of the two a table would show is not ours to pick."""
    merged = {"table1": [], **{table: ([], []) for table in TABLE_RECORDS}}
    seen = {}
    for root in roots:
        found = record_paths(config, root)
        paths = found["table1"] + [p for table in TABLE_RECORDS for part in found[table] for p in part]
        for path in paths:
            cell = Path(path).relative_to(root).as_posix()
            if cell in seen:
                raise ValueError(f"{cell} is in two results folders ({seen[cell]} and {root}): pass one of them")
            seen[cell] = root
        merged["table1"] += found["table1"]
        for table in TABLE_RECORDS:
            merged[table] = tuple(a + b for a, b in zip(merged[table], found[table]))
    return merged


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, nargs="+",
                        help="results folders (cells: DATASET/MODEL/dzDZ/seedSEED), e.g. one run's Table 1 and "
                             "another's Tables 2-3; a cell found in two of them is an error")  # fmt: skip
    parser.add_argument("--configfile", nargs="+", default=[], help="config overlays on config/config.yaml")
    parser.add_argument("--out", required=True, help="output prefix: writes PREFIX.csv, PREFIX.md, PREFIX.tex")
    args = parser.parse_args(argv)
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "config.yaml", *args.configfile)
    records = merged_record_paths(config, args.results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        print(write_scorecard(records, out.with_suffix(".csv"), out.with_suffix(".md"), out.with_suffix(".tex"),
                              config["tables"]["std_ddof"], config, ReportRule.from_config(config)))  # fmt: skip
    except (DamagedRecordError, MissingCellError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
