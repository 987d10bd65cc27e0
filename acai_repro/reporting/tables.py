"""Tables 1-3 as booktabs LaTeX and CSV: per-seed records in one tidy frame, summarised and pivoted.

A cell is the mean ± std over its seeds (population std, ddof 0, as in the authors' notebook, unless
configured); one seed has no spread, and shows none. A seed that diverged, or whose value is undefined
(NaN or null: Smoothness when every interpolation collapses to one line), never becomes a number: the
cell shows its status instead.

Each seed's value of a trained cell (Table 1, Table 2's in-tandem classifier) follows one reporting rule
at every scale, the paper's (`ReportRule`): the median over the same fraction of training as the
protocol's last 20 of 256 evaluations, computed from the evaluation history the cell's metrics.json
holds, so changing the rule retrains nothing. The probe and K-Means read the final weights.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from acai_repro.config import DEFAULT_CONFIG, dataset_title, load_config, load_schema, table1_cells
from acai_repro.models import MODELS, title_of
from acai_repro.report_rule import PAPER_RULE, ReportRule, median_of_last
from acai_repro.results import DamagedRecordError, read_record, record_number
from acai_repro.table_registry import ACCURACY_TABLES, TABLES
from acai_repro.training import fastpath

PAPER_VALUES = Path(__file__).with_name("paper_values.csv")
# Table 1: metric -> (row title, scale to the paper's unit); lower is better for both.
TABLE1_METRICS = {"mean_distance": (r"Mean Distance ($\times 10^{-3}$)", 1e3), "smoothness": ("Smoothness", 1.0)}
UNDEFINED_MARK = r"undef.$^\dagger$"
RECORD_COLUMNS = [
    "dataset",
    "dz",
    "model",
    "seed",
    "metric",
    "value",
    "status",
    "source",
    "scale",
    "report_last",
    "evaluations",
    "path",
    "images",
]
CSV_COLUMNS = [
    "mean",
    "std",
    "n_seeds",
    "n_undefined",
    "status",
    "paper_mean",
    "paper_std",
    "paper_source",
    "report_last",
    "evaluations",
    "scale",
    "path",
    "sources",
]
# The only value a finished record may leave undefined (NaN or null): elsewhere NaN is damage.
UNDEFINABLE = {"smoothness"}
# paper_values.csv `source`: empty for the paper's own tables, "text" for its Section 4 text, else the
# work the paper quotes the value from.
OWN_SOURCES = ("", "text")
# What a table needs in the LaTeX preamble.
LATEX_PREAMBLE = r"\usepackage{booktabs}"
# Images per cell at the protocol scale (the schema's default `training.total_images`).
PROTOCOL_IMAGES = load_schema()["properties"]["training"]["properties"]["total_images"]["default"]


class MissingCellError(RuntimeError):
    """A table was asked for a cell whose records are absent or incomplete."""


def record_scale(record: dict) -> str | None:
    """The scale (config key scale_name) a record was made at: a cell's metrics.json carries it
    in its spec, a probe or K-Means record of a cell at its top level; pixel records have none."""
    return record.get("scale_name") or (record.get("spec") or {}).get("scale_name")


def _cell_spec(record: dict, path) -> dict:
    """The spec of the cell a record comes from: a metrics.json's own, a probe or K-Means record's read
    from the metrics.json beside it; {} for pixel records and records without one."""
    if "training" in (record.get("spec") or {}):
        return record["spec"]
    beside = Path(path).with_name("metrics.json")
    if "spec" not in record and record.get("cell") and beside != Path(path) and beside.is_file():
        return json.loads(beside.read_text()).get("spec") or {}
    return {}


def record_images(record: dict, path) -> int | None:
    """Images the cell of a record trained on (its spec's `training.total_images`); None where unrecorded."""
    images = _cell_spec(record, path).get("training", {}).get("total_images")
    return images if isinstance(images, int) and not isinstance(images, bool) else None


def record_training_path(record: dict, path) -> str | None:
    """The training path (exact / fast / fast-fused, fastpath.path_name) of the cell a record comes from,
    from its cell's spec (`_cell_spec`); pixel records have none."""
    spec = _cell_spec(record, path)
    return fastpath.path_name(spec) if spec else None


def collect(paths, metrics, rule: ReportRule = PAPER_RULE) -> pd.DataFrame:
    """One row per record and metric (RECORD_COLUMNS). status: the record's own ('ok', 'diverged'),
    or 'undefined' where an ok record's value is NaN or null. Pixel records: model 'pixels', no dz.
    scale: the scale_name the record was made at (None where it records none).

    A trained cell's values (a metrics.json) follow `rule`, from the evaluation history the record
    holds (acai_repro.report_rule; the `reported` values it stored follow the rule it trained under):
    report_last is N, how many of its last evaluations each value is the median of, evaluations how
    many it made. A probe, K-Means or pixel record: its own value."""
    rows = []
    for path in paths:
        record = read_record(path)
        cell, ok = _record_cell(record, path), _record_status(record, path) == "ok"
        values, n, made = _values_under_rule(record, rule, path)
        for metric in metrics:
            if ok and metric not in values:
                last = (record.get("evals") or [{}])[-1]
                if metric in last:  # there, but no number: named as damage
                    record_number(last, metric, path, metric in UNDEFINABLE)
                raise MissingCellError(f"{path}: no {metric!r} in a finished record")
            value = record_number(values, metric, path, metric in UNDEFINABLE) if ok else np.nan
            status = "undefined" if ok and np.isnan(value) else record["status"]
            rows.append(
                {
                    **cell,
                    "metric": metric,
                    "value": value,
                    "status": status,
                    "source": str(path),
                    "scale": record_scale(record),
                    "report_last": n,
                    "evaluations": made,
                    "path": record_training_path(record, path),
                    "images": record_images(record, path),
                }
            )
    frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    return frame.astype({"dz": "Int64", "report_last": "Int64", "evaluations": "Int64", "images": "float"})


def _record_cell(record: dict, path) -> dict:
    """The cell a record belongs to (a pixel record: its dataset, model 'pixels')."""
    cell = record.get("cell") or (
        {"dataset": record["dataset"], "model": "pixels", "dz": None, "seed": 0}
        if isinstance(record.get("dataset"), str)
        else None
    )
    if not isinstance(cell, dict) or not {"dataset", "model", "dz", "seed"} <= cell.keys():
        raise DamagedRecordError(
            f"{path}: damaged record: no 'cell' (dataset, model, dz, seed) nor a pixel record's 'dataset'"
        )
    return cell


def _record_status(record: dict, path) -> str:
    if record.get("status") not in ("ok", "diverged"):
        raise DamagedRecordError(
            f"{path}: damaged record: 'status' is {record.get('status')!r}, not 'ok' or 'diverged'"
        )
    return record["status"]


def _values_under_rule(record: dict, rule: ReportRule, path) -> tuple[dict, int | None, int | None]:
    """(values, N, evaluations made): a trained cell's under `rule`; another record's own values."""
    if "reported" not in record:  # a probe, K-Means or pixel record: one measurement of the final weights
        return record, None, None
    if not isinstance(record["reported"], dict):
        raise DamagedRecordError(
            f"{path}: damaged record: 'reported' is {record['reported']!r}, not an object of values"
        )
    if record["status"] != "ok":
        return {}, None, None
    evals = record.get("evals")
    if evals is not None and not (isinstance(evals, list) and all(isinstance(e, dict) for e in evals)):
        raise DamagedRecordError(f"{path}: damaged record: 'evals' is not a list of evaluations")
    if not evals:
        raise MissingCellError(f"{path}: no evaluation history ('evals'), which the reporting rule reads")
    n = rule.count(evals)
    if n > len(evals):
        raise MissingCellError(f"{path}: {len(evals)} evaluations, fewer than the last {n} asked for")
    return median_of_last(evals, n), n, len(evals)


def require(frame: pd.DataFrame, expected: pd.MultiIndex) -> pd.DataFrame:
    """The rows of `frame` in `expected`, in its order (seeds last); a missing one fails, named."""
    missing = expected.difference(pd.MultiIndex.from_frame(frame[list(expected.names)]))
    if len(missing):
        raise MissingCellError(f"no records for cells {tuple(expected.names)}: {list(missing)}")
    return frame.set_index(expected.names).loc[expected].reset_index()


def summarise(group: pd.DataFrame, ddof: int) -> pd.Series:
    """Mean ± std over seeds; a diverged or undefined seed leaves the cell without a number."""
    failed = set(group.status) - {"ok", "undefined"}
    n_undefined = int((group.status == "undefined").sum())
    status = ("diverged" if "diverged" in failed else "n/a") if failed else "undefined" if n_undefined else "ok"
    values, mean, std = group.value.to_numpy(), np.nan, np.nan
    if status == "ok":
        # One seed has no spread (and a sample std of one is undefined): NaN, an empty CSV field, never 0.
        mean, std = values.mean(), np.std(values, ddof=ddof) if len(values) > max(ddof, 1) else np.nan
    scales = ";".join(sorted(set(group.scale.dropna())))  # one name unless scales were mixed
    paths = ";".join(sorted(set(group.path.dropna())))  # exact, fast, or both where mixed
    return pd.Series(
        {
            "mean": mean,
            "std": std,
            "n_seeds": len(group),
            "n_undefined": n_undefined,
            "status": status,
            "sources": ";".join(group.source),
            "scale": scales,
            "path": paths,
            "report_last": _joined(group.report_last),
            "evaluations": _joined(group.evaluations),
            "images": group.images.min(),
        }
    )


def _joined(numbers: pd.Series) -> str:
    """The distinct values of a per-seed column, ';'-joined ('' where no seed has one)."""
    return ";".join(str(int(n)) for n in sorted(set(numbers.dropna())))


def paper_values(table: str) -> pd.DataFrame:
    paper = pd.read_csv(
        PAPER_VALUES,
        comment="#",
        dtype={"dz": "Int64", "source": str},
        keep_default_na=False,
        na_values={"mean": [""], "std": [""], "dz": [""]},
    )
    return paper.query("table == @table")


def paper_columns(table: str) -> pd.DataFrame:
    """paper_values(table) with its values named as the paper's, to be set beside ours."""
    return paper_values(table).rename(columns={"mean": "paper_mean", "std": "paper_std", "source": "paper_source"})


def aggregate(frame: pd.DataFrame, keys, table: str, ddof: int) -> pd.DataFrame:
    """One row per `keys` group, in order of appearance: the summary over seeds, the paper's value."""
    columns = ["value", "status", "source", "scale", "report_last", "evaluations", "path", "images"]
    summary = frame.groupby(keys, sort=False, dropna=False)[columns].apply(summarise, ddof=ddof).reset_index()
    summary.loc[summary.model == "pixels", "std"] = np.nan  # one measurement: no spread
    paper = paper_columns(table)
    on = ["model", "metric"] if table == "table1" else ["dataset", "dz", "model"]
    merged = summary.merge(paper[[*on, "paper_mean", "paper_std", "paper_source"]], on=on, how="left")
    return merged.assign(paper_source=merged.paper_source.fillna(""))


def column_title(model: str) -> str:
    """A model's column title: its registered title ("Pixels" for the raw pixels)."""
    return "Pixels" if model == "pixels" else title_of(model)


# LaTeX's special characters and the few non-ASCII ones the pages use; Greek letters through their
# Unicode names (a model titled "β-VAE"); other letters (é, ü) pdflatex's UTF-8 input reads as they are.
_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "—": "---",
    "–": "--",
    "§": r"\S{}",
    "±": r"$\pm$",
    "×": r"$\times$",
    "…": r"\dots{}",
}
_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}


_POWER = re.compile(r"(\d+)\^(\d+)")  # "2^17" images


def latex_text(text: str) -> str:
    """`text` as LaTeX that pdflatex typesets as it reads: specials escaped, Greek letters and
    powers ("2^17") as math."""
    parts = _POWER.split(str(text))  # text, base, exponent, text, ...
    out = [
        "".join(_TEX_SPECIALS.get(char) or _greek(char) or char for char in part)
        if i % 3 == 0
        else (f"${part}" if i % 3 == 1 else f"^{{{part}}}$")
        for i, part in enumerate(parts)
    ]
    return "".join(out)


def _greek(char: str) -> str | None:
    name = unicodedata.name(char, "")
    for case, prefix in (("small", "GREEK SMALL LETTER "), ("capital", "GREEK CAPITAL LETTER ")):
        if name.startswith(prefix) and name[len(prefix) :].isalpha():
            letter = name[len(prefix) :].capitalize()
            if case == "small":
                return f"$\\{letter.lower()}$"
            return f"$\\{letter}$" if letter in _GREEK_CAPITALS else unicodedata.normalize("NFKD", letter)[0]
    return None


def _paper(row, pm: str = "$\\pm$") -> str:
    if pd.isna(row.paper_mean):
        return "--"
    return f"{row.paper_mean:.2f}" + ("" if pd.isna(row.paper_std) else f" {pm} {row.paper_std:.2f}")


def source_text(source: str, model: str) -> str:
    """Where a published value comes from, when not the paper's own tables ('' for those)."""
    if source in ("", None) or pd.isna(source):
        return ""
    if source == "text":
        return "the paper's Section 4 text, one measurement"
    return f"{'Data' if model == 'pixels' else model} ({source}, quoted)"


def _sourced_paper(summary: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The paper's cells (a letter on a value from elsewhere than its tables) and the notes naming the source."""
    sources = list(dict.fromkeys(s for s in summary.paper_source if s))
    letters = {s: "abcdefgh"[i] for i, s in enumerate(sources)}
    texts = [_paper(r) + (f"$^{{{letters[r.paper_source]}}}$" if r.paper_source else "") for r in summary.itertuples()]
    notes = []
    for source in sources:
        row = summary[summary.paper_source == source].iloc[0]
        what = (
            source_text(source, row.model)
            if source == "text"
            else f"{'Data' if row.model == 'pixels' else row.model}: quoted by the paper from {source}, not its own measurement"
        )
        notes.append(f"$^{{{letters[source]}}}$ {latex_text(what)}.")
    return texts, notes


# Bold: the best autoencoder of a column, where its lead over the next best exceeds twice their
# combined std over seeds (the scorecard's agreement rule); one seed has no spread to judge a lead
# by, so its best value is bold and marked apart. Raw pixels are no autoencoder: never bold.
BOLD, ONE_SEED_BEST, LEAD_STDS = "bold", "one seed", 2
BOLD_NOTE = (
    "Bold: the best autoencoder, where its lead over the next best exceeds twice their combined "
    "standard deviation over seeds"
)
ONE_SEED_NOTE = "the best autoencoder from one seed, with no spread to judge its lead by"


def best_marks(summary: pd.DataFrame, keys, lower_is_better: bool) -> list[str]:
    """Per row of `summary`: BOLD for the best autoencoder of its `keys` group whose lead over the next
    best exceeds LEAD_STDS combined std over seeds; ONE_SEED_BEST for a best value of one seed; ''
    elsewhere (pixels, an undefined cell, not the best, a tie, a lead within the seeds' spread)."""
    marks = pd.Series("", index=summary.index)
    scored = summary[(summary.status == "ok") & (summary.model != "pixels")]
    for _, group in scored.groupby(list(keys), sort=False, dropna=False):
        ordered = group.sort_values("mean", ascending=lower_is_better, kind="stable")
        best = ordered[ordered["mean"] == ordered["mean"].iloc[0]]
        rest = ordered.drop(index=best.index)
        if (best.n_seeds <= 1).any() or (len(rest) and rest.n_seeds.iloc[0] <= 1):
            marks[best.index] = ONE_SEED_BEST
        elif len(best) == 1 and (rest.empty or _lead_exceeds_spread(best.iloc[0], rest.iloc[0])):
            marks[best.index] = BOLD
    return marks.tolist()


def _lead_exceeds_spread(best, runner_up) -> bool:
    spread = math.sqrt(best["std"] ** 2 + runner_up["std"] ** 2)
    return bool(abs(best["mean"] - runner_up["mean"]) > LEAD_STDS * spread)


def _ours(row, mark: str) -> str:
    if row.status != "ok":
        return UNDEFINED_MARK if row.status == "undefined" else row.status
    text = f"{row.mean:.2f}" + ("" if pd.isna(row.std) else f" $\\pm$ {row.std:.2f}")  # no std: none shown
    return {BOLD: f"\\textbf{{{text}}}", ONE_SEED_BEST: f"\\textbf{{{text}}}$^\\circ$"}.get(mark, text)


def _mark_notes(marks) -> list[str]:
    """The note saying what bold means (none where nothing is bold)."""
    if ONE_SEED_BEST in marks:
        return [f"{BOLD_NOTE}; bold$^\\circ$: {ONE_SEED_NOTE}."]
    return [f"{BOLD_NOTE}."] if BOLD in marks else []


def tabular(rows, groups, cells: dict) -> str:
    """A booktabs tabular: a line per (key, title) of `rows` (the raw pixels under a rule), two columns,
    ours and the paper's, per (key, title) of `groups`; cells[(row key, group key)] = (ours, paper)."""
    lines = [
        r"\begin{tabular}{l" + "cc" * len(groups) + "}",
        r"\toprule",
        " & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{title}}}" for _, title in groups) + r" \\",
        "".join(f"\\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(groups))),
        "Model & " + " & ".join(["Ours & Paper"] * len(groups)) + r" \\",
        r"\midrule",
    ]
    for key, title in rows:
        if key == "pixels":
            lines.append(r"\midrule")
        pairs = [cells.get((key, group), ("--", "--")) for group, _ in groups]
        lines.append(f"{title} & " + " & ".join(f"{ours} & {paper}" for ours, paper in pairs) + r" \\")
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"])


def latex_float(tabulars: list[str], caption: str, label: str, notes: list[str], comments) -> str:
    """A table float ready to paste: caption and label on top, the tabulars in \\small type one under
    the other, the notes under them; the preamble it needs in its header comment."""
    lines = [f"% {c}" for c in [*comments, f"Needs in the preamble: {LATEX_PREAMBLE}"]]
    lines += [
        r"\begin{table}[tbp]",
        r"\centering\small\setlength{\tabcolsep}{4pt}",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        "\n\\par\\medskip\n".join(tabulars),
    ]
    if notes:
        lines += [r"\par\smallskip", r"\parbox{\linewidth}{\small " + " ".join(notes) + "}"]
    return "\n".join([*lines, r"\end{table}"]) + "\n"


def _undefined_notes(summary, title_of_row) -> list[str]:
    undefined = [
        f"{title_of_row(r)}: {r.n_undefined} of {r.n_seeds} seeds" for r in summary.itertuples() if r.n_undefined
    ]
    return (
        [
            f"$^\\dagger$ Undefined (every interpolation decoded to one line) in some seeds, no mean: "
            f"{'; '.join(undefined)}."
        ]
        if undefined
        else []
    )


def table1_latex(summary, models, caption, label, comments) -> str:
    """Table 1 with a line per model and, per metric, ours and the paper's (a column per model and
    the paper's line under ours would not fit a page's width in \\small type)."""
    marks = best_marks(summary, ["metric"], lower_is_better=True)
    paper_texts, notes = _sourced_paper(summary)
    cells = {(r.model, r.metric): (_ours(r, m), p) for r, m, p in zip(summary.itertuples(), marks, paper_texts)}
    rows = [(m, latex_text(column_title(m))) for m in models]
    groups = [(metric, title) for metric, (title, _) in TABLE1_METRICS.items()]
    metric_title = {metric: title for metric, (title, _) in TABLE1_METRICS.items()}
    notes = [
        *_undefined_notes(summary, lambda r: f"{dict(rows)[r.model]}, {metric_title[r.metric]}"),
        *notes,
        *_mark_notes(marks),
    ]
    return latex_float([tabular(rows, groups, cells)], caption, label, notes, comments)


SETTINGS_PER_TABULAR = 2  # (dataset, dz) settings side by side: two keep a page's width in \small type


def accuracy_latex(summary, cells, columns, config, caption, label, comments) -> str:
    """Tables 2-3 with a line per model (the raw pixels last) and, per (dataset, dz), ours and the
    paper's; a tabular per dataset, at most SETTINGS_PER_TABULAR settings side by side."""
    marks = best_marks(summary, ["dataset", "dz"], lower_is_better=False)
    paper_texts, notes = _sourced_paper(summary)
    texts = {}
    for r, m, p in zip(summary.itertuples(), marks, paper_texts):
        settings = [(d, z) for d, z in cells if d == r.dataset] if r.model == "pixels" else [(r.dataset, r.dz)]
        texts.update({(r.model, (d, int(z))): (_ours(r, m), p) for d, z in settings})
    rows = [(m, latex_text(column_title(m))) for m in columns]
    titles = {(d, int(z)): f"{latex_text(dataset_title(config, d))}, $d_z$ = {z}" for d, z in cells}
    settings = list(titles)
    chunks = [[s for s in settings if s[0] == d] for d in dict.fromkeys(d for d, _ in settings)]
    chunks = [c[i : i + SETTINGS_PER_TABULAR] for c in chunks for i in range(0, len(c), SETTINGS_PER_TABULAR)]
    tabulars = [tabular(rows, [(s, titles[s]) for s in chunk], texts) for chunk in chunks]
    notes = [
        *_undefined_notes(summary, lambda r: f"{latex_text(column_title(r.model))}, {titles[(r.dataset, int(r.dz))]}"),
        *notes,
        *_mark_notes(marks),
    ]
    return latex_float(tabulars, caption, label, notes, comments)


def _std_text(ddof: int, seeds) -> str:
    """How ours are summarised over seeds, in a paper's words."""
    if len(seeds) == 1:
        return f"one seed ({seeds[0]}), so no standard deviation"
    kind = "population" if ddof == 0 else "sample"
    return f"mean $\\pm$ {kind} standard deviation over {len(seeds)} seeds ({', '.join(map(str, seeds))})"


FINAL_WEIGHTS = "read on its final weights"


def rule_text(summary: pd.DataFrame) -> str:
    """The reporting rule the cells of a summary were read under, with its N: 'the median of its last
    1 of 8 evaluations'; FINAL_WEIGHTS where no cell has an evaluation history (probe, K-Means)."""
    pairs = {
        (n, m)
        for n, m in zip(summary.get("report_last", []), summary.get("evaluations", []))
        if isinstance(n, str) and n
    }
    if not pairs:
        return FINAL_WEIGHTS
    return "the median of its last " + " or ".join(f"{n} of {m}" for n, m in sorted(pairs)) + " evaluations"


def _images_text(summary: pd.DataFrame) -> str:
    """Images each autoencoder trained on, against the paper's."""
    counts = sorted({int(i) for i in summary.get("images", pd.Series(dtype=float)).dropna()})
    ours = " or ".join(_power_text(n) for n in counts) or "an unrecorded number of"
    return f"{ours} training images per autoencoder" + (
        "" if counts == [PROTOCOL_IMAGES] else f" (the paper: {_power_text(PROTOCOL_IMAGES)})"
    )


def _power_text(n: int) -> str:
    return f"$2^{{{n.bit_length() - 1}}}$" if n & (n - 1) == 0 else f"{n:,}"


def _rule_words(summary: pd.DataFrame, rule: ReportRule) -> str:
    text = rule_text(summary)
    if text == FINAL_WEIGHTS:
        return "each value is measured on the autoencoder's final weights"
    if rule.of is None:
        share = "a fixed count, not the paper's share of training (its last 20 of 256 evaluations)"
    elif rule == PAPER_RULE:
        share = "those made over the last 20/256 of its training, as the paper's last 20 of 256"
    else:
        share = f"those made over the last {rule.last}/{rule.of} of its training, not the paper's 20/256"
    return f"each seed's value is {text.replace('its ', 'the ')}, {share}"


def caption_text(what: str, summary: pd.DataFrame, seeds, ddof: int, rule: ReportRule) -> str:
    """A caption for a paper's reader: what the table shows; ours: images, seeds and the reporting
    rule in words; the paper's values beside ours."""
    models = summary[summary.model != "pixels"]
    return (
        f"{what} Ours: {_images_text(models)}; {_std_text(ddof, seeds)}; {_rule_words(models, rule)}. "
        "Paper: the published values, mean $\\pm$ standard deviation over 3 seeds where it gives one."
    )


def _relative_sources(summary: pd.DataFrame, root) -> pd.DataFrame:
    """The summary with each record path relative to `root` (where the table's records live), so a
    table made again from a copy of the records elsewhere writes the same CSV."""

    def relative(joined):
        return ";".join(Path(os.path.relpath(p, root)).as_posix() for p in str(joined).split(";"))

    return summary.assign(sources=summary.sources.map(relative))


def write_table1(
    paths, models, seeds, tex_path, csv_path, std_ddof: int = 0, rule: ReportRule = PAPER_RULE, root=None
) -> pd.DataFrame:
    """Table 1 (lines): a line per model, ours and the paper's per metric, from each cell's metrics.json,
    each seed's value under `rule` from its evaluation history (see `collect`). The CSV names each
    record relative to `root` (default: the CSV's folder, the results folder the workflow writes to)."""
    expected = pd.MultiIndex.from_product([list(TABLE1_METRICS), models, seeds], names=["metric", "model", "seed"])
    summary = table1_summary(require(collect(paths, TABLE1_METRICS, rule), expected), std_ddof)
    root = Path(csv_path).parent if root is None else root
    _relative_sources(summary, root).to_csv(csv_path, index=False, columns=["metric", "model", "dz", *CSV_COLUMNS])
    comments = [
        "Generated by the ACAI reproduction workflow from the cells' records. Lower is better.",
        f"{_std_text(std_ddof, seeds)}; each seed: {rule_text(summary)} ({rule.describe()}).",
    ]
    own = "".join(
        f" The {latex_text(column_title(m))} at $d_z$ = {z}, the others at {summary.dz.mode().iloc[0]}, "
        "as in the paper."
        for m, z in _own_dz(summary).items()
    )
    caption = caption_text(
        "Interpolation on the lines benchmark (the paper's Table 1): Mean Distance and "
        f"Smoothness, lower is better.{own}",
        summary,
        seeds,
        std_ddof,
        rule,
    )
    latex = table1_latex(summary, models, caption, f"tab:{Path(tex_path).stem}", comments)
    Path(tex_path).write_text(latex)
    return summary


def table1_summary(frame: pd.DataFrame, std_ddof: int = 0) -> pd.DataFrame:
    """Table 1's cells from collected records: in the paper's units, one row per metric and model."""
    frame = frame.assign(value=frame.value * frame.metric.map({k: scale for k, (_, scale) in TABLE1_METRICS.items()}))
    return aggregate(frame, ["metric", "model", "dz"], "table1", std_ddof)  # dz: each model's own


def accuracy_summary(frame: pd.DataFrame, pixel_paths, key: str, table: str, std_ddof: int = 0) -> pd.DataFrame:
    """Table 2 or 3's cells from collected records of `key`, with the raw-pixel records: accuracy in %."""
    pixels = collect(pixel_paths, ["accuracy"]).assign(metric=key)
    both = pd.concat([frame, pixels]).assign(value=lambda f: f.value * 100.0)
    return aggregate(both, ["dataset", "dz", "model"], table, std_ddof)


def _own_dz(summary: pd.DataFrame) -> dict:
    """Model -> dz, for the models that run at another dz than most (the VQ-VAE: 256)."""
    dz = summary.drop_duplicates("model").set_index("model")["dz"]
    usual = dz.mode().iloc[0]
    return {m: z for m, z in dz.items() if z != usual}


def write_accuracy_table(
    paths,
    pixel_paths,
    cells,
    models,
    seeds,
    key,
    table,
    title,
    tex_path,
    csv_path,
    std_ddof: int = 0,
    rule: ReportRule = PAPER_RULE,
    config: dict | None = None,
    root=None,
) -> pd.DataFrame:
    """Table 2 or 3: accuracy (%), a line per model then the raw pixels, ours and the paper's per
    (dataset, dz); each dataset named by its title in `config` (the config the cells ran with). The
    CSV names each record relative to `root` (default: the CSV's folder)."""
    expected = [(d, z, m, s) for d, z in cells for m in models for s in seeds]
    frame = require(collect(paths, [key], rule), pd.MultiIndex.from_tuples(expected, names=RECORD_COLUMNS[:4]))
    summary = accuracy_summary(frame, pixel_paths, key, table, std_ddof)
    root = Path(csv_path).parent if root is None else root
    _relative_sources(summary, root).to_csv(csv_path, index=False, columns=["dataset", "dz", "model", *CSV_COLUMNS])
    # Shown: the pixels of each dataset run; the prior methods the paper quotes, in comments.
    rows = pd.DataFrame(cells, columns=["dataset", "dz"]).astype({"dz": "Int64"})
    ours = [*MODELS, "pixels"]  # noqa: F841 (read by the query string as @ours)
    quoted = paper_values(table).query("model not in @ours and dataset in @rows.dataset")
    models_only = summary[summary.model != "pixels"]
    comments = [
        f"Generated by the ACAI reproduction workflow from the cells' records. {latex_text(title)}. "
        f"Accuracy (%), {_std_text(std_ddof, seeds)}; each seed: {rule_text(models_only)}.",
        *(
            f"Quoted beside it in the paper: {r.model} on {dataset_title(config, r.dataset)}, {r.mean:.1f} ({r.source})"
            for r in quoted.itertuples()
        ),
    ]
    shown = summary[(summary.model != "pixels") | summary.dataset.isin(rows.dataset)].reset_index(drop=True)
    columns = [*models, "pixels"] if (shown.model == "pixels").any() else models
    caption = caption_text(
        f"{latex_text(title)}: accuracy (\\%), higher is better.", models_only, seeds, std_ddof, rule
    )
    Path(tex_path).write_text(
        accuracy_latex(shown, cells, columns, config, caption, f"tab:{Path(tex_path).stem}", comments)
    )
    return summary


# ---- Tables as Markdown, from their CSVs (what the README quotes) ----------------------------
MARKDOWN_METRICS = {"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"}
CSV_TYPES = {"dz": "Int64", "report_last": str, "evaluations": str, "paper_source": str}


CSV_NEEDED = ["model", "mean", "std", "n_seeds", "status"]


def read_table_csv(path, dtype: dict | None = None) -> pd.DataFrame:
    """A table's CSV as written by write_table1 / write_accuracy_table; DamagedRecordError naming the
    file and what is wrong (empty, not CSV, a column missing, a mean that is no number)."""
    try:
        frame = pd.read_csv(path, dtype=dtype or {"dz": "Int64"})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise DamagedRecordError(f"{path}: damaged table CSV: {str(error).splitlines()[0]}") from None
    missing = [column for column in CSV_NEEDED if column not in frame.columns]
    if missing:
        raise DamagedRecordError(
            f"{path}: damaged table CSV: no column {', '.join(missing)} (it has: {', '.join(map(str, frame.columns))})"
        )
    for column in ("mean", "std"):
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DamagedRecordError(f"{path}: damaged table CSV: column {column!r} holds values that are not numbers")
    return frame


def markdown_table1(csv_path) -> str:
    """Table 1's CSV as a Markdown table: ours (mean ± std over seeds; the mean alone for one
    seed; best in bold) and the paper's, each row naming the scale the CSV records for it, so a
    README quoting it says where each number came from by reading the results, never by prose."""
    frame = read_table_csv(csv_path, CSV_TYPES)
    models = list(dict.fromkeys(frame.model))
    own = _own_dz(frame)
    titles = [column_title(m) + (f" (dz {own[m]})" if m in own else "") for m in models]
    lines = ["| | " + " | ".join(titles) + " |", "|---" * (len(models) + 1) + "|"]
    shown_marks = []
    for metric, title in MARKDOWN_METRICS.items():
        rows = frame[frame.metric == metric].set_index("model").loc[models]
        scales = _scales_text(rows)
        marks = best_marks(rows.reset_index(), ["metric"], lower_is_better=True)
        ours = [_markdown_cell(r, m) for r, m in zip(rows.itertuples(), marks)]
        shown_marks += marks
        paper = [_markdown_paper(r) for r in rows.itertuples()]
        lines.append(
            f"| {title}, ours ({scales}, {_seeds_text(rows)}, {_rule_text(rows)}) | " + " | ".join(ours) + " |"
        )
        lines.append(f"| {title}, paper (2^24 images, 3 seeds) | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n" + _markdown_bold_legend(shown_marks)


def markdown_accuracy_tables(csv_paths, config: dict | None = None) -> str:
    """Tables 2-3 CSVs (accuracy, %) as one Markdown table: per table and (dataset, dz), a row of
    ours (naming the scale its CSV records) and a row of the paper's; raw pixels in the last column.
    Each dataset is named by its title in `config`."""
    frames = [(Path(p).stem, read_table_csv(p, CSV_TYPES)) for p in csv_paths]
    models = list(dict.fromkeys(m for _, f in frames for m in f.model if m != "pixels"))
    lines = [
        "| | dataset | dz | " + " | ".join(column_title(m) for m in [*models, "pixels"]) + " |",
        "|---" * (len(models) + 4) + "|",
    ]
    shown_marks = []
    for stem, frame in frames:
        pixels = frame[frame.model == "pixels"].drop_duplicates("dataset").set_index("dataset")
        cells = frame[frame.model != "pixels"]
        for (dataset, dz), rows in cells.groupby(["dataset", "dz"], sort=False):
            rows = pd.concat(
                [rows.set_index("model").reindex(models), pixels.loc[[dataset]].rename(index={dataset: "pixels"})]
            )
            scales = _scales_text(rows)
            models_only = rows.drop(index="pixels")
            marks = best_marks(
                rows.drop(columns=["model", "dataset", "dz"], errors="ignore")
                .rename_axis("model")
                .reset_index()
                .assign(dataset=dataset, dz=dz),
                ["dataset", "dz"],
                lower_is_better=False,
            )
            shown_marks += marks
            ours = [_markdown_cell(r, m) for r, m in zip(rows.itertuples(), marks)]
            paper = [_markdown_paper(r) for r in rows.itertuples()]
            place = f"{dataset_title(config, dataset)} | {dz}"
            label = f"{TABLES[stem].label if stem in ACCURACY_TABLES else stem}, ours ({scales}, {_seeds_text(rows)}, {_rule_text(models_only)})"
            lines.append(f"| {label} | {place} | " + " | ".join(ours) + " |")
            lines.append(f"| paper (2^24 images, 3 seeds) | {place} | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n" + _markdown_bold_legend(shown_marks)


def markdown_tables(csv_paths, config: dict | None = None) -> str:
    """Table 1's CSV (it has a `metric` column) or Tables 2-3 CSVs, as Markdown (datasets named by
    their titles in `config`)."""
    first = read_table_csv(csv_paths[0])
    return markdown_table1(csv_paths[0]) if "metric" in first.columns else markdown_accuracy_tables(csv_paths, config)


def _scales_text(rows: pd.DataFrame) -> str:
    """The scales the rows' records name, and the fast path (seed-fused or not) where a record
    trained on it (the exact path goes unsaid); CSVs written before scales were recorded have no
    column."""
    recorded = rows["scale"].dropna() if "scale" in rows.columns else []
    text = ", ".join(sorted(set(recorded))) or "scale not recorded"
    paths = {p for joined in rows["path"].dropna() for p in str(joined).split(";")} if "path" in rows.columns else set()
    named = {fastpath.FAST: "fast path", fastpath.FUSED: "fast path with seed fusion"}
    return text + "".join(f", {named[p]}" for p in sorted(paths) if p in named)


def _rule_text(rows: pd.DataFrame) -> str:
    """Each seed's reporting rule with its N ('last 1 of 8 evaluations'), as the CSV records it."""
    if "report_last" not in rows.columns:
        return "rule not recorded"  # a CSV written before the rule was recorded
    frame = rows.astype({"report_last": str, "evaluations": str}).replace({"nan": "", "<NA>": ""})
    text = rule_text(frame)
    return "final weights" if text == FINAL_WEIGHTS else text.replace("the median of its ", "median of ")


def _markdown_paper(row) -> str:
    """The paper's value, its source named where it is not the paper's tables."""
    source = getattr(row, "paper_source", "")
    source = "" if pd.isna(source) else source
    return _paper(row, "±") + (f", {source_text(source, row.Index)}" if source and not pd.isna(row.paper_mean) else "")


def _seeds_text(rows: pd.DataFrame) -> str:
    seeds = set(rows.n_seeds)
    return f"{seeds.pop()} seed{'s' if max(rows.n_seeds) > 1 else ''}" if len(seeds) == 1 else "seeds vary"


def _markdown_cell(row, mark: str) -> str:
    if row.status != "ok":
        return "undef." if row.status == "undefined" else row.status
    text = f"{row.mean:.2f}" + (f" ± {row.std:.2f}" if row.n_seeds > 1 and not pd.isna(row.std) else "")
    return {BOLD: f"**{text}**", ONE_SEED_BEST: f"**{text}**°"}.get(mark, text)


def _markdown_bold_legend(marks) -> str:
    """The line under a Markdown table that says what its bold means (none where nothing is bold)."""
    if ONE_SEED_BEST in marks:
        return f"\n{BOLD_NOTE}; **bold**°: {ONE_SEED_NOTE}.\n"
    return f"\n{BOLD_NOTE}.\n" if BOLD in marks else ""


# ---- Tables again from a results folder's records (no retraining) ----------------------------
TABLE_NAMES = list(TABLES)


def write_tables(config: dict, root, out, names, rule: ReportRule) -> list[Path]:
    """The tables `names` from the records under `root`, written to the folder `out`; each CSV names
    the records relative to `root`, so a copy of a results folder gives the workflow's own CSV."""
    out, written, ddof = Path(out), [], config["tables"]["std_ddof"]
    suffix = "" if rule == ReportRule.from_config(config) else f"_last{rule.last}"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        tex, csv = out / f"{name}{suffix}.tex", out / f"{name}{suffix}.csv"
        table = TABLES[name]
        cells = table.cell_paths(config, root)
        if name == "table1":
            models = [model for model, _ in table1_cells(config)]
            write_table1(cells, models, config["seeds"], tex, csv, ddof, rule, root)
        else:
            write_accuracy_table(
                cells,
                table.pixel_paths(config, root),
                config[table.paper]["cells"],
                config[table.paper]["models"],
                config["seeds"],
                table.key,
                table.paper,
                table.title,
                tex,
                csv,
                ddof,
                rule,
                config,
                root,
            )
        written += [tex, csv]
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m acai_repro.tables",
        description="Tables again from trained cells' records, each seed's value under the reporting rule "
        "(recomputed from the evaluation histories the metrics.json files hold; nothing retrains); or table "
        "CSVs as Markdown.",
    )
    parser.add_argument(
        "--configfile",
        nargs="*",
        default=[],
        help="overlays on config/config.yaml (models, seeds, the datasets' titles)",
    )
    parser.add_argument("--results", help="the results root holding <dataset>/<model>/dz<dz>/seed<seed>/")
    parser.add_argument("--tables", nargs="+", choices=TABLE_NAMES, default=["table1"], help="default: table1")
    parser.add_argument(
        "--report-last",
        type=int,
        metavar="N",
        help="another rule: the last N evaluations of each cell (writes NAME_lastN.*); default: "
        "the config's tables.report_rule, the paper's",
    )
    parser.add_argument("--out", help="the folder to write NAME.tex and NAME.csv to")
    parser.add_argument(
        "--markdown",
        metavar="CSV",
        nargs="+",
        help="instead: print a Table 1 CSV, or Tables 2-3 CSVs, as Markdown (as the README quotes them)",
    )
    args = parser.parse_args(argv)
    if not (args.markdown or (args.results and args.out)):
        parser.error("--results and --out are needed (or --markdown CSV)")
    config = load_config(DEFAULT_CONFIG, *args.configfile)
    if args.markdown:
        try:
            print(markdown_tables(args.markdown, config), end="")
        except (DamagedRecordError, FileNotFoundError) as error:
            parser.exit(2, f"error: {error}\n")
        return
    rule = ReportRule(args.report_last, None) if args.report_last else ReportRule.from_config(config)
    try:
        written = write_tables(config, args.results, args.out, args.tables, rule)
    except (MissingCellError, FileNotFoundError, DamagedRecordError) as error:
        hint = (
            ""
            if args.configfile
            else " (records made under an overlay, e.g. config/quick.yaml, need it as --configfile)"
        )
        parser.exit(2, f"error: {error}{hint}\n")
    print("wrote " + ", ".join(map(str, written)))


if __name__ == "__main__":
    main()
