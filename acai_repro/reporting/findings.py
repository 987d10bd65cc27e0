"""The paper's findings from its Tables 1-3, each judged as it is worded on our number rows.

Each claim the paper draws from its tables is a check with the sentence quoted and its place in
the paper, judged as it is worded: `holds`, `fails`, `partly` or `not enough cells`. A check ranks
our means whatever the scale. A collapsed cell (Smoothness undefined in every seed: every
interpolation decodes to one line) interpolates as poorly as a model can, so it ranks last on that
metric (tied with any other collapsed cell), never as a missing run; a diverged cell, or one
undefined in some seeds only, is not ranked. Every setting the claim names counts: one not run is
`not enough cells` there. "Significantly higher" is each named model above each other one; "very
good / very poor" is measured against the Baseline first.

One rule says whether a verdict is evidence about the claim (MEANINGFUL_RULE): only where every
cell of the finding's table trained on the protocol's images. At a reduced scale the page marks the
verdict `(not meaningful at this scale)` and the summary line counts it apart (acai_repro.reporting.scorecard).

The number rows are acai_repro.reporting.verdicts' (`number_rows`): one per published value, with ours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from acai_repro.config import dataset_title
from acai_repro.reporting.tables import TABLE1_METRICS
from acai_repro.reporting.verdicts import AUTOENCODERS, PROTOCOL_IMAGES, Verdict

MEANINGFUL_RULE = (
    "A finding's verdict is evidence about the paper's claim only where every cell of the table it "
    "reads trained on the protocol's 2^24 images; at a reduced scale it describes our partly trained "
    "models, is marked (not meaningful at this scale) and is counted apart."
)
COLLAPSED = np.inf  # a collapsed cell's Smoothness, for ranking: the worst a model can interpolate


@dataclass(frozen=True)
class Finding:
    """A claim of the paper and its check. The check reads the number rows and the config (for the
    datasets' titles in what it was evaluated on: a Table 1 check names no dataset, and needs none)."""

    name: str
    quote: str
    location: str
    table: str  # the paper table whose cells the check reads
    checked_as: str  # how the check reads the claim's words
    # (number rows, config) -> (verdict, what it was evaluated on)
    check: Callable[[pd.DataFrame, dict | None], tuple[str, str]]


def defined(rows: pd.DataFrame, table: str, **where) -> pd.Series:
    """model -> our mean, for the autoencoder cells of `table` (and `where`) that can be ranked: a
    defined value, or COLLAPSED for a cell undefined in every seed (lower is better there: Table 1)."""
    chosen = rows[(rows.table == table) & rows.model.isin(AUTOENCODERS)]
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    collapsed = _collapsed(chosen)
    return chosen[chosen["mean"].notna() | collapsed].set_index("model")["mean"].fillna(COLLAPSED)


def _collapsed(rows: pd.DataFrame) -> pd.Series:
    """Cells whose value is undefined in every seed: every interpolation decoded to one line."""
    return (rows.verdict == Verdict.UNDEFINED) & (rows.n_undefined == rows.n_seeds) & (rows.n_seeds > 0)


def _ranked_text(values: pd.Series) -> str:
    collapsed = int((values == COLLAPSED).sum())
    return f"{len(values)} ranked" + (f", {collapsed} collapsed ranked last" if collapsed else "")


def rank(values: pd.Series, model: str, lower_is_better: bool) -> int | None:
    """1 for the best of `values`; None when `model` has no value or nothing to be ranked against."""
    if model not in values or len(values) < 2:
        return None
    better = values < values[model] if lower_is_better else values > values[model]
    return int(better.sum()) + 1


def _detail(results) -> str:
    return "; ".join(
        f"{where}: {'yes' if ok else 'no' if ok is not None else 'not enough cells'}" for where, ok in results
    )


def combine(results: list[tuple[str, bool | None]], every_part: bool = False) -> tuple[Verdict, str]:
    """Outcomes per part of a claim (None: not enough cells there) -> (verdict, which gave what): holds
    when every part holds, partly when some do, fails when none; with `every_part`, a claim with a part
    that cannot be judged does not hold (not enough cells, or partly / fails by the others)."""
    judged = [(where, ok) for where, ok in results if ok is not None]
    if not judged:
        return Verdict.NOT_ENOUGH_CELLS, "no setting run has the cells it needs" if results else "no setting run"
    verdict = (
        Verdict.HOLDS
        if all(ok for _, ok in judged)
        else Verdict.FAILS
        if not any(ok for _, ok in judged)
        else Verdict.PARTLY
    )
    if every_part and len(judged) < len(results):
        verdict = (
            Verdict.NOT_ENOUGH_CELLS
            if verdict == Verdict.HOLDS
            else Verdict.PARTLY
            if verdict == Verdict.PARTLY
            else Verdict.FAILS
        )
    return verdict, _detail(results)


def combine_settings(results: list[tuple[str, bool | None]], universal: bool) -> tuple[Verdict, str]:
    """Outcomes per setting the claim names (None: not run, or not enough cells there) -> (verdict,
    which gave what). A `universal` claim ("in all settings", "on MNIST and SVHN") fails on one setting
    that contradicts it; one worded "in general" holds partly when some settings do. A claim with no
    contradiction but a named setting not judged has not enough cells."""
    judged = [ok for _, ok in results if ok is not None]
    if not judged:
        return Verdict.NOT_ENOUGH_CELLS, _detail(results) or "no setting"
    if not all(judged):
        return (Verdict.FAILS if universal or not any(judged) else Verdict.PARTLY), _detail(results)
    return (Verdict.HOLDS if len(judged) == len(results) else Verdict.NOT_ENOUGH_CELLS), _detail(results)


def paper_settings(rows: pd.DataFrame, table: str, datasets=None) -> list[tuple[str, int]]:
    """(dataset, dz) rows of a paper table (optionally of some datasets), run or not, in the paper's order."""
    chosen = rows[(rows.table == table) & rows.model.isin(AUTOENCODERS)]
    if datasets:
        chosen = chosen[chosen.dataset.isin(datasets)]
    return list(dict.fromkeys(zip(chosen.dataset, chosen.dz)))


def _run(rows, table, dataset, dz) -> bool:
    cells = rows[(rows.table == table) & (rows.dataset == dataset) & (rows.dz == dz) & rows.model.isin(AUTOENCODERS)]
    return bool((cells.verdict != Verdict.NOT_RUN).any())


def _setting(config: dict | None, dataset: str, dz) -> str:
    return f"{dataset_title(config, dataset)} dz {dz}"


def _is(value: int | None, test) -> bool | None:
    return None if value is None else bool(test(value))


def _per_setting(rows, config, table, datasets, judge, universal: bool = True) -> tuple[str, str]:
    """`judge(values)` on each (dataset, dz) setting of `table`'s `datasets` the claim names; a setting
    not run is not enough cells there, never left out."""
    results = []
    for dataset, dz in paper_settings(rows, table, datasets):
        if not _run(rows, table, dataset, dz):
            results.append((f"{_setting(config, dataset, dz)} (not run)", None))
            continue
        values = defined(rows, table, dataset=dataset, dz=dz)
        results.append((f"{_setting(config, dataset, dz)} ({_ranked_text(values)})", judge(values)))
    return combine_settings(results, universal)


def _lines_part(rows, metric, model, test, without=()):
    """One part of a Table 1 claim: `test(rank, n)` of `model` among the defined values of `metric`."""
    values = defined(rows, "table1", metric=metric).drop(list(without), errors="ignore")
    where = f"{metric}{' without ' + ', '.join(without) if without else ''} ({_ranked_text(values)})"
    return where, _is(rank(values, model, True), lambda r: test(r, len(values)))


def _acai_best_lines(rows, config=None):
    return combine([_lines_part(rows, m, "acai", lambda r, n: r == 1) for m in TABLE1_METRICS], every_part=True)


def _baseline_worst_distance(rows, config=None):
    return combine([_lines_part(rows, "mean_distance", "baseline", lambda r, n: r == n)])


def _against_baseline(rows, metric: str, model: str, good: bool):
    """A part "a very good / very poor `metric` score" of `model` (lower is better): very good is better
    than the Baseline or in the best third, never worse than the Baseline; very poor is worse than the
    Baseline or in the worst third, never better than the Baseline."""
    values = defined(rows, "table1", metric=metric)
    n, place = len(values), rank(values, model, True)
    label = f"{metric} {'very good' if good else 'very poor'} ({_ranked_text(values)})"
    if place is None:
        return label, None
    third = place <= n / 3 if good else place > n - n / 3
    if "baseline" not in values or model == "baseline":
        return label, third
    better, worse = values[model] < values["baseline"], values[model] > values["baseline"]
    return label, bool(not worse and (better or third)) if good else bool(not better and (worse or third))


def _vae_good_distance_poor_smoothness(rows, config=None):
    return combine(
        [
            _against_baseline(rows, "mean_distance", "vae", good=True),
            _against_baseline(rows, "smoothness", "vae", good=False),
        ],
        every_part=True,
    )


def _aae_best_smoothness_of_the_others(rows, config=None):
    return combine(
        [
            _lines_part(rows, "smoothness", "aae", lambda r, n: r == 1, ["acai"]),
            _lines_part(rows, "mean_distance", "aae", lambda r, n: r > 1, ["acai"]),
        ],
        every_part=True,
    )


def _worst(rows, metric, model):
    """`model` has the worst `metric` (lower is better): no cell worse, a collapsed one tying."""
    values = defined(rows, "table1", metric=metric)
    judged = bool(not (values > values[model]).any()) if model in values and len(values) > 1 else None
    return f"{metric} worst ({_ranked_text(values)})", judged


def _vqvae_worst_smoothness(rows, config=None):
    return combine([_worst(rows, "smoothness", "vqvae")])


def _comparatively_poor(rows, metric, model):
    """`model` in the worse half of `metric` (lower is better)."""
    values = defined(rows, "table1", metric=metric)
    where = f"{metric} in the worse half ({_ranked_text(values)})"
    return where, _is(rank(values, model, True), lambda r: r > len(values) / 2)


def _denoising_poor_lines(rows, config=None):
    return combine([_comparatively_poor(rows, m, "denoising") for m in TABLE1_METRICS], every_part=True)


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


def _acai_above_pixels(rows, config):
    results = []
    for dataset, dz in paper_settings(rows, "table2"):
        if not _run(rows, "table2", dataset, dz):
            results.append((f"{_setting(config, dataset, dz)} (not run)", None))
            continue
        ours = defined(rows, "table2", dataset=dataset, dz=dz)
        pixels = rows[(rows.table == "table2") & (rows.model == "pixels") & (rows.dataset == dataset)]["mean"].dropna()
        above = bool(ours["acai"] > pixels.iloc[0]) if "acai" in ours and len(pixels) else None
        results.append((_setting(config, dataset, dz), above))
    return combine_settings(results, universal=True)


FINDINGS = [
    Finding(
        "acai_best_on_lines",
        "We found dramatically improved performance on the lines benchmark when using ACAI — it achieved "
        "the best Mean Distance and Smoothness score among the autoencoders we considered.",
        "Section 3.2, Table 1",
        "table1",
        "ACAI first on both metrics",
        _acai_best_lines,
    ),
    Finding(
        "baseline_worst_mean_distance",
        "After training our baseline autoencoder, we achieved a Mean Distance score which was the worst "
        "(highest) of all of the autoencoders we studied, though the Smoothness was on par with various other "
        "approaches.",
        "Section 3.2 (Base Model), Table 1",
        "table1",
        "the Baseline last on Mean Distance",
        _baseline_worst_distance,
    ),
    Finding(
        "denoising_poor_lines",
        "This resulted in comparatively poor Mean Distance and Smoothness scores.",
        "Section 3.2 (Denoising Autoencoder), Table 1",
        "table1",
        "Denoising in the worse half of the six on both metrics",
        _denoising_poor_lines,
    ),
    Finding(
        "vae_good_distance_poor_smoothness",
        "This resulted in a very good Mean Distance score but a very poor Smoothness score.",
        "Section 3.2 (Variational Autoencoder), Table 1",
        "table1",
        "Mean Distance better than the Baseline's or in the best third, never worse than the Baseline's; "
        "Smoothness worse than the Baseline's or in the worst third, never better than the Baseline's",
        _vae_good_distance_poor_smoothness,
    ),
    Finding(
        "aae_best_smoothness_of_existing",
        "This behavior produced the best Smoothness score among existing autoencoders, but a relatively poor "
        "Mean Distance score.",
        "Section 3.2 (Adversarial Autoencoder), Table 1",
        "table1",
        "without ACAI, the AAE first on Smoothness and not first on Mean Distance",
        _aae_best_smoothness_of_the_others,
    ),
    Finding(
        "vqvae_poor_interpolations",
        "On the lines task, we found that this procedure produced poor interpolations.",
        "Section 3.2 (VQ-VAE), Table 1",
        "table1",
        "no model with a worse Smoothness (a collapsed one ties)",
        _vqvae_worst_smoothness,
    ),
    Finding(
        "acai_beats_baseline_classifier",
        "In all settings, using ACAI instead of the baseline autoencoder upon which it is based produced "
        "significant gains",
        "Section 4 (Single-Layer Classifier), Table 2",
        "table2",
        "a higher mean than the Baseline's in every setting of Table 2 (significance is not tested)",
        lambda rows, config: _per_setting(rows, config, "table2", None, _above("acai", "baseline")),
    ),
    Finding(
        "denoising_vae_acai_ahead_classifier",
        "In general, we found the denoising autoencoder, VAE, and ACAI obtained significantly higher "
        "performance compared to the remaining models.",
        "Section 4 (Single-Layer Classifier), Table 2",
        "table2",
        "each of the three above each of the other three, per setting ('in general': partly when some settings hold)",
        lambda rows, config: _per_setting(rows, config, "table2", None, _each_above_each, universal=False),
    ),
    Finding(
        "acai_best_classifier_mnist_svhn",
        "On MNIST and SVHN, ACAI achieved the best accuracy by a significant margin;",
        "Section 4 (Single-Layer Classifier), Table 2",
        "table2",
        "ACAI first in every MNIST and SVHN setting",
        lambda rows, config: _per_setting(rows, config, "table2", ["mnist", "svhn"], _within(["acai"], 1)),
    ),
    Finding(
        "acai_denoising_similar_cifar10",
        "on CIFAR-10, the performance of ACAI and the denoising autoencoder was similar.",
        "Section 4 (Single-Layer Classifier), Table 2",
        "table2",
        "ACAI and Denoising the two best, per CIFAR-10 setting",
        lambda rows, config: _per_setting(rows, config, "table2", ["cifar10"], _within(["acai", "denoising"], 2)),
    ),
    Finding(
        "acai_beats_pixels_classifier",
        "By way of comparison, we found a single-layer classifier applied directly to (flattened) image pixels "
        "achieved an accuracy of 92.31%, 23.48%, and 39.70% on MNIST, SVHN, and CIFAR-10 respectively, so "
        "classifying using the representation learned by ACAI provides a huge benefit.",
        "Section 4 (Single-Layer Classifier), Table 2",
        "table2",
        "ACAI above the raw pixels' classifier in every setting",
        _acai_above_pixels,
    ),
    Finding(
        "acai_top_two_kmeans",
        "On both MNIST and SVHN, ACAI achieved the best or second-best performance for both dz = 32 and dz = 256.",
        "Section 4 (Clustering), Table 3",
        "table3",
        "ACAI first or second in every MNIST and SVHN setting",
        lambda rows, config: _per_setting(rows, config, "table3", ["mnist", "svhn"], _within(["acai"], 2)),
    ),
]


def meaningful_here(rows: pd.DataFrame, finding: Finding) -> bool:
    """MEANINGFUL_RULE: whether a verdict on `rows` is evidence about the claim: only where no
    autoencoder cell of the finding's table trained on fewer images than the protocol."""
    part = rows[(rows.table == finding.table) & rows.model.isin(AUTOENCODERS) & (rows.verdict != Verdict.NOT_RUN)]
    return bool((part.images >= PROTOCOL_IMAGES).all())  # an unrecorded number of images (NaN) is not enough


def finding_rows(rows: pd.DataFrame, findings=FINDINGS, config: dict | None = None) -> pd.DataFrame:
    """One row per finding: its verdict on the cells in `rows`, what it was evaluated on (each
    dataset named by its title in `config`), how the claim's words were checked, and whether that
    verdict is evidence about the claim (MEANINGFUL_RULE)."""
    out = []
    for finding in findings:
        verdict, evaluated_on = finding.check(rows, config)
        out.append(
            {
                "finding": finding.name,
                "verdict": verdict,
                "evaluated_on": evaluated_on,
                "meaningful": "yes" if meaningful_here(rows, finding) else "no",
                "location": finding.location,
                "quote": finding.quote,
                "checked_as": finding.checked_as,
            }
        )
    return pd.DataFrame(out)
