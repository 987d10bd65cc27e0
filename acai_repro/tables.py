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
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from acai_repro import fastpath
from acai_repro.cells import cell_directory
from acai_repro.config import dataset_title, load_config, table1_cells
from acai_repro.models import MODELS, title_of
from acai_repro.results import DamagedRecordError, read_record, record_number

PAPER_VALUES = Path(__file__).with_name("paper_values.csv")
# Table 1: metric -> (row title, scale to the paper's unit); lower is better for both.
TABLE1_METRICS = {"mean_distance": (r"Mean Distance ($\times 10^{-3}$)", 1e3), "smoothness": ("Smoothness", 1.0)}
UNDEFINED_MARK = r"undef.$^\dagger$"
RECORD_COLUMNS = ["dataset", "dz", "model", "seed", "metric", "value", "status", "source", "scale", "report_last",
                  "evaluations", "path"]  # fmt: skip
CSV_COLUMNS = ["mean", "std", "n_seeds", "n_undefined", "status", "paper_mean", "paper_std", "paper_source",
               "report_last", "evaluations", "scale", "path", "sources"]  # fmt: skip
# The only value a finished record may leave undefined (NaN or null): elsewhere NaN is damage.
UNDEFINABLE = {"smoothness"}
# paper_values.csv `source`: empty for the paper's own tables, "text" for its Section 4 text, else the
# work the paper quotes the value from.
OWN_SOURCES = ("", "text")
# What a table needs in the LaTeX preamble (graphicx: \resizebox keeps it within the text width).
LATEX_PREAMBLE = r"\usepackage{booktabs} \usepackage{graphicx}"


PAPER_LAST, PAPER_OF = 20, 256  # the protocol: the median of the last 20 of its 256 evaluations


@dataclass(frozen=True)
class ReportRule:
    """Each seed's value: the median of its last `last` evaluations; with `of`, of the same fraction
    `last`/`of` of the evaluations it made, rounded to the nearest evaluation and at least one (the
    paper: last 20 of 256; 1 of 8 at the quick scale, 1 of 16 at gpu-quick)."""

    last: int = PAPER_LAST
    of: int | None = PAPER_OF

    @classmethod
    def from_config(cls, config: dict) -> "ReportRule":
        rule = config["tables"]["report_rule"]
        return cls(rule["last"], rule["of"])

    def count(self, evaluations: int) -> int:
        """N: how many of a cell's last evaluations its value is the median of."""
        if self.of is None:
            return self.last
        return max(1, math.floor(evaluations * self.last / self.of + 0.5))  # half up, never banker's

    def describe(self) -> str:
        if self.of is None:
            return f"rule: a fixed last {self.last}, not the paper's"
        paper = ", the paper's" if (self.last, self.of) == (PAPER_LAST, PAPER_OF) else ""
        return f"rule: the last {self.last}/{self.of} of the evaluations made, rounded, at least one{paper}"


PAPER_RULE = ReportRule()


class MissingCellError(RuntimeError):
    """A table was asked for a cell whose records are absent or incomplete."""


def record_scale(record: dict) -> str | None:
    """The scale (config key scale_name) a record was made at: a cell's metrics.json carries it
    in its spec, a probe or K-Means record of a cell at its top level; pixel records have none."""
    return record.get("scale_name") or (record.get("spec") or {}).get("scale_name")


def record_training_path(record: dict, path) -> str | None:
    """The training path (exact / fast / fast-fused, fastpath.path_name) of the cell a record comes from: a
    cell's metrics.json says it in its spec; a probe or K-Means record is its cell's, read from the
    metrics.json beside it; pixel records have none."""
    if "training" in (record.get("spec") or {}):
        return fastpath.path_name(record["spec"])
    beside = Path(path).with_name("metrics.json")
    if "spec" not in record and record.get("cell") and beside != Path(path) and beside.is_file():
        return record_training_path(json.loads(beside.read_text()), beside)
    return None


def collect(paths, metrics, rule: ReportRule = PAPER_RULE) -> pd.DataFrame:
    """One row per record and metric (RECORD_COLUMNS). status: the record's own ('ok', 'diverged'),
    or 'undefined' where an ok record's value is NaN or null. Pixel records: model 'pixels', no dz.
    scale: the scale_name the record was made at (None where it records none).

    A trained cell's values (a metrics.json) follow `rule`, from the evaluation history the record
    holds (never the `reported` values its training stored under `training.report_last`):
    report_last is N, evaluations how many it made. A probe, K-Means or pixel record: its own value."""
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
            rows.append({**cell, "metric": metric, "value": value, "status": status, "source": str(path),
                         "scale": record_scale(record), "report_last": n, "evaluations": made,
                         "path": record_training_path(record, path)})  # fmt: skip
    frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    return frame.astype({"dz": "Int64", "report_last": "Int64", "evaluations": "Int64"})


def _record_cell(record: dict, path) -> dict:
    """The cell a record belongs to (a pixel record: its dataset, model 'pixels')."""
    cell = record.get("cell") or ({"dataset": record["dataset"], "model": "pixels", "dz": None, "seed": 0}
                                  if isinstance(record.get("dataset"), str) else None)  # fmt: skip
    if not isinstance(cell, dict) or not {"dataset", "model", "dz", "seed"} <= cell.keys():
        raise DamagedRecordError(f"{path}: damaged record: no 'cell' (dataset, model, dz, seed) nor a pixel record's 'dataset'")
    return cell


def _record_status(record: dict, path) -> str:
    if record.get("status") not in ("ok", "diverged"):
        raise DamagedRecordError(f"{path}: damaged record: 'status' is {record.get('status')!r}, not 'ok' or 'diverged'")
    return record["status"]


def _values_under_rule(record: dict, rule: ReportRule, path) -> tuple[dict, int | None, int | None]:
    """(values, N, evaluations made): a trained cell's under `rule`; another record's own values."""
    if "reported" not in record:  # a probe, K-Means or pixel record: one measurement of the final weights
        return record, None, None
    if not isinstance(record["reported"], dict):
        raise DamagedRecordError(f"{path}: damaged record: 'reported' is {record['reported']!r}, not an object of values")
    if record["status"] != "ok":
        return {}, None, None
    evals = record.get("evals")
    if evals is not None and not (isinstance(evals, list) and all(isinstance(e, dict) for e in evals)):
        raise DamagedRecordError(f"{path}: damaged record: 'evals' is not a list of evaluations")
    if not evals:
        raise MissingCellError(f"{path}: no evaluation history ('evals'), which the reporting rule reads")
    n = rule.count(len(evals))
    if n > len(evals):
        raise MissingCellError(f"{path}: {len(evals)} evaluations, fewer than the last {n} asked for")
    return median_of_last(evals, n), n, len(evals)


def median_of_last(evals: list, n: int) -> dict:
    """The median of the last `n` evaluations of each key they all hold (null read as undefined, NaN)."""
    tail = evals[-n:]
    keys = [k for k in tail[0] if all(k in e for e in tail)]
    return {k: float(np.median([np.nan if e[k] is None else e[k] for e in tail])) for k in keys
            if all(e[k] is None or isinstance(e[k], (int, float)) for e in tail)}  # fmt: skip


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
    return pd.Series({"mean": mean, "std": std, "n_seeds": len(group), "n_undefined": n_undefined,
                      "status": status, "sources": ";".join(group.source), "scale": scales, "path": paths,
                      "report_last": _joined(group.report_last), "evaluations": _joined(group.evaluations)})  # fmt: skip


def _joined(numbers: pd.Series) -> str:
    """The distinct values of a per-seed column, ';'-joined ('' where no seed has one)."""
    return ";".join(str(int(n)) for n in sorted(set(numbers.dropna())))


def paper_values(table: str) -> pd.DataFrame:
    paper = pd.read_csv(PAPER_VALUES, comment="#", dtype={"dz": "Int64", "source": str}, keep_default_na=False,
                        na_values={"mean": [""], "std": [""], "dz": [""]})  # fmt: skip
    return paper.query("table == @table")


def aggregate(frame: pd.DataFrame, keys, table: str, ddof: int) -> pd.DataFrame:
    """One row per `keys` group, in order of appearance: the summary over seeds, the paper's value."""
    columns = ["value", "status", "source", "scale", "report_last", "evaluations", "path"]
    summary = frame.groupby(keys, sort=False, dropna=False)[columns].apply(summarise, ddof=ddof).reset_index()
    summary.loc[summary.model == "pixels", "std"] = np.nan  # one measurement: no spread
    paper = paper_values(table).rename(columns={"mean": "paper_mean", "std": "paper_std", "source": "paper_source"})
    on = ["model", "metric"] if table == "table1" else ["dataset", "dz", "model"]
    merged = summary.merge(paper[[*on, "paper_mean", "paper_std", "paper_source"]], on=on, how="left")
    return merged.assign(paper_source=merged.paper_source.fillna(""))


def column_title(model: str) -> str:
    """A model's column title: its registered title ("Pixels" for the raw pixels)."""
    return "Pixels" if model == "pixels" else title_of(model)


# LaTeX's special characters and the few non-ASCII ones the pages use; Greek letters through their
# Unicode names (a model titled "β-VAE"); other letters (é, ü) pdflatex's UTF-8 input reads as they are.
_TEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "—": "---", "–": "--",
                 "§": r"\S{}", "±": r"$\pm$", "×": r"$\times$", "…": r"\dots{}"}  # fmt: skip
_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}


_POWER = re.compile(r"(\d+)\^(\d+)")  # "2^17" images


def latex_text(text: str) -> str:
    """`text` as LaTeX that pdflatex typesets as it reads: specials escaped, Greek letters and
    powers ("2^17") as math."""
    parts = _POWER.split(str(text))  # text, base, exponent, text, ...
    out = ["".join(_TEX_SPECIALS.get(char) or _greek(char) or char for char in part) if i % 3 == 0 else
           (f"${part}" if i % 3 == 1 else f"^{{{part}}}$") for i, part in enumerate(parts)]  # fmt: skip
    return "".join(out)


def _greek(char: str) -> str | None:
    name = unicodedata.name(char, "")
    for case, prefix in (("small", "GREEK SMALL LETTER "), ("capital", "GREEK CAPITAL LETTER ")):
        if name.startswith(prefix) and name[len(prefix):].isalpha():
            letter = name[len(prefix):].capitalize()
            if case == "small":
                return f"$\\{letter.lower()}$"
            return f"$\\{letter}$" if letter in _GREEK_CAPITALS else unicodedata.normalize("NFKD", letter)[0]
    return None


def _ours(row, bold: bool) -> str:
    if row.status != "ok":
        return UNDEFINED_MARK if row.status == "undefined" else row.status
    text = f"{row.mean:.2f}" + ("" if pd.isna(row.std) else f" $\\pm$ {row.std:.2f}")  # no std: none shown
    return f"\\textbf{{{text}}}" if bold else text


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
        what = source_text(source, row.model) if source == "text" else \
            f"{'Data' if row.model == 'pixels' else row.model}: quoted by the paper from {source}, not its own measurement"
        notes.append(f"$^{{{letters[source]}}}$ {latex_text(what)}.")
    return texts, notes


def to_latex(summary, row_keys, labels: dict, columns, lower_is_better: bool, comments, caption: str,
             titles=None) -> str:  # fmt: skip
    """Booktabs: a row per key of `labels` (its label cells) with ours, best in bold, and the paper's under it,
    kept within the text width, its notes under it, its caption and preamble in its header comment."""
    scored = summary[(summary.status == "ok") & (summary.model != "pixels")]
    best = scored.groupby(row_keys, sort=False)["mean"].transform("min" if lower_is_better else "max")
    bold = summary.index.isin(scored.index[scored["mean"] == best])
    paper_texts, notes = _sourced_paper(summary)
    texts = pd.concat([summary.assign(line=0, text=[_ours(r, b) for r, b in zip(summary.itertuples(), bold)]),
                       summary.assign(line=1, text=paper_texts)])  # fmt: skip
    order = [(*key, line) for key in labels if key != "header" for line in (0, 1)]
    wide = texts.pivot(index=[*row_keys, "line"], columns="model", values="text").reindex(index=order, columns=columns)
    paper_label = [r"\quad paper"] + [""] * (len(row_keys) - 1)
    names = pd.DataFrame([paper_label if k[-1] else labels[k[:-1]] for k in order], columns=labels["header"])
    column_titles = {**{m: latex_text(column_title(m)) for m in columns}, **(titles or {})}
    table = pd.concat([names, wide.fillna("--").rename(columns=column_titles).reset_index(drop=True)], axis=1)
    tabular = table.style.hide(axis="index").to_latex(hrules=True, column_format="l" * len(row_keys) + "c" * len(columns))
    undefined = [f"{latex_text(column_title(r.model))}, {' '.join(labels[tuple(getattr(r, k) for k in row_keys)])}: "
                 f"{r.n_undefined} of {r.n_seeds} seeds" for r in summary.itertuples() if r.n_undefined]  # fmt: skip
    if undefined:
        notes.insert(0, f"$^\\dagger$ undefined in some seeds, no mean: {'; '.join(undefined)}.")
    return latex_block(tabular, caption, notes, comments)


def latex_block(tabular: str, caption: str, notes: list[str], comments) -> str:
    """A tabular ready to paste: scaled down to the text width when wider (never up), the notes as a
    paragraph of the text width under it; the caption and the preamble it needs in its header comment."""
    header = [*comments, f"Needs in the preamble: {LATEX_PREAMBLE}",
              r"Use inside \begin{table}[t]\centering ... \end{table}; uncomment the caption below to use it:"]
    lines = [f"% {c}" for c in header] + [f"% \\caption{{{caption}}}",
             r"\noindent\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%", tabular.rstrip("\n") + "}"]
    if notes:
        lines += [r"\par\smallskip", r"\noindent\parbox{\linewidth}{\footnotesize " + " ".join(notes) + "}"]
    return "\n".join(lines) + "\n"


def _std_text(ddof: int, seeds) -> str:
    if len(seeds) == 1:
        return f"one seed ({seeds[0]}): its value, no std"
    kind = "population std (ddof 0, as the authors)" if ddof == 0 else f"sample std (ddof {ddof})"
    return f"mean $\\pm$ {kind} over seeds {', '.join(map(str, seeds))}"


FINAL_WEIGHTS = "read on its final weights"


def rule_text(summary: pd.DataFrame) -> str:
    """The reporting rule the cells of a summary were read under, with its N: 'the median of its last
    1 of 8 evaluations'; FINAL_WEIGHTS where no cell has an evaluation history (probe, K-Means)."""
    pairs = {(n, m) for n, m in zip(summary.get("report_last", []), summary.get("evaluations", []))
             if isinstance(n, str) and n}  # fmt: skip
    if not pairs:
        return FINAL_WEIGHTS
    return "the median of its last " + " or ".join(f"{n} of {m}" for n, m in sorted(pairs)) + " evaluations"


def _scale_text(summary: pd.DataFrame) -> str:
    scales = sorted({s for joined in summary.scale.dropna() for s in str(joined).split(";") if s})
    return ", ".join(scales) or "scale not recorded"


def caption_text(title: str, summary: pd.DataFrame, seeds, ddof: int, what: str) -> str:
    """One caption: what the table shows, its scale, seeds and reporting rule (with N)."""
    return f"{latex_text(title)}, scale {latex_text(_scale_text(summary))}: {what}; {_std_text(ddof, seeds)}, " \
        f"each seed {rule_text(summary)}. The paper's values under ours."  # fmt: skip


def write_table1(paths, models, seeds, tex_path, csv_path, std_ddof: int = 0, rule: ReportRule = PAPER_RULE,
                 made_by: str = "rule table1") -> pd.DataFrame:  # fmt: skip
    """Table 1 (lines): a row per metric, a column per model, from each cell's metrics.json, each
    seed's value under `rule` from its evaluation history (see `collect`)."""
    expected = pd.MultiIndex.from_product([list(TABLE1_METRICS), models, seeds], names=["metric", "model", "seed"])
    summary = table1_summary(require(collect(paths, TABLE1_METRICS, rule), expected), std_ddof)
    summary.to_csv(csv_path, index=False, columns=["metric", "model", "dz", *CSV_COLUMNS])
    labels = {"header": ["Metric"], **{(k,): [title] for k, (title, _) in TABLE1_METRICS.items()}}
    comments = [f"Generated by the ACAI reproduction workflow ({made_by}). Lower is better.",
                f"{_std_text(std_ddof, seeds)}; each seed: {rule_text(summary)} ({rule.describe()})."]  # fmt: skip
    caption = caption_text("Table 1 (lines)", summary, seeds, std_ddof, r"Mean Distance ($\times 10^{-3}$) and "
                           "Smoothness, lower is better")  # fmt: skip
    latex = to_latex(summary, ["metric"], labels, models, True, comments, caption, _own_dz_titles(summary))
    Path(tex_path).write_text(latex)
    return summary


def table1_summary(frame: pd.DataFrame, std_ddof: int = 0) -> pd.DataFrame:
    """Table 1's cells from collected records: in the paper's units, one row per metric and model."""
    frame = frame.assign(value=frame.value * frame.metric.map({k: scale for k, (_, scale) in TABLE1_METRICS.items()}))
    return aggregate(frame, ["metric", "model", "dz"], "table1", std_ddof)  # dz: each model's own


def grid_summary(frame: pd.DataFrame, pixel_paths, key: str, table: str, std_ddof: int = 0) -> pd.DataFrame:
    """Table 2 or 3's cells from collected records of `key`, with the raw-pixel records: accuracy in %."""
    pixels = collect(pixel_paths, ["accuracy"]).assign(metric=key)
    both = pd.concat([frame, pixels]).assign(value=lambda f: f.value * 100.0)
    return aggregate(both, ["dataset", "dz", "model"], table, std_ddof)


def _own_dz(summary: pd.DataFrame) -> dict:
    """Model -> dz, for the models that run at another dz than most (the VQ-VAE: 256)."""
    dz = summary.drop_duplicates("model").set_index("model")["dz"]
    usual = dz.mode().iloc[0]
    return {m: z for m, z in dz.items() if z != usual}


def _own_dz_titles(summary: pd.DataFrame) -> dict:
    """Column titles naming the dz of a model that runs at another dz than most."""
    return {m: f"{latex_text(column_title(m))} ($d_z$ {z})" for m, z in _own_dz(summary).items()}


def write_grid_table(paths, pixel_paths, cells, models, seeds, key, table, title, tex_path, csv_path,
                     std_ddof: int = 0, rule: ReportRule = PAPER_RULE,
                     config: dict | None = None) -> pd.DataFrame:  # fmt: skip
    """Table 2 or 3: accuracy (%) per (dataset, dz) row and model column, then raw pixels; each
    dataset named by its title in `config` (the config the cells ran with)."""
    expected = [(d, z, m, s) for d, z in cells for m in models for s in seeds]
    frame = require(collect(paths, [key], rule), pd.MultiIndex.from_tuples(expected, names=RECORD_COLUMNS[:4]))
    summary = grid_summary(frame, pixel_paths, key, table, std_ddof)
    summary.to_csv(csv_path, index=False, columns=["dataset", "dz", "model", *CSV_COLUMNS])
    # Shown: the pixels of a dataset in each of its rows; the prior methods the paper quotes, in comments.
    rows = pd.DataFrame(cells, columns=["dataset", "dz"]).astype({"dz": "Int64"})
    pixel_rows = summary[summary.model == "pixels"].drop(columns="dz").merge(rows)
    labels = {"header": ["Dataset", "$d_z$"], **{(d, z): [dataset_title(config, d), str(z)] for d, z in cells}}
    ours = [*MODELS, "pixels"]
    quoted = paper_values(table).query("model not in @ours and dataset in @rows.dataset")
    models_only = summary[summary.model != "pixels"]
    comments = [f"{latex_text(title)}. Accuracy (%), {_std_text(std_ddof, seeds)}; each seed: "
                f"{rule_text(models_only)}; paper below ours.",
                *(f"Quoted beside it in the paper: {r.model} on {dataset_title(config, r.dataset)}, {r.mean:.1f} "
                  f"({r.source})" for r in quoted.itertuples())]  # fmt: skip
    shown = pd.concat([models_only, pixel_rows], ignore_index=True)
    columns = [*models, "pixels"] if len(pixel_rows) else models
    caption = caption_text(title, models_only, seeds, std_ddof, r"accuracy (\%), higher is better")
    Path(tex_path).write_text(to_latex(shown, ["dataset", "dz"], labels, columns, False, comments, caption))
    return summary


# ---- Tables as Markdown, from their CSVs (what the README quotes) ----------------------------
MARKDOWN_METRICS = {"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"}
CSV_TYPES = {"dz": "Int64", "report_last": str, "evaluations": str, "paper_source": str}


CSV_NEEDED = ["model", "mean", "std", "n_seeds", "status"]


def read_table_csv(path, dtype: dict | None = None) -> pd.DataFrame:
    """A table's CSV as written by write_table1 / write_grid_table; DamagedRecordError naming the
    file and what is wrong (empty, not CSV, a column missing, a mean that is no number)."""
    try:
        frame = pd.read_csv(path, dtype=dtype or {"dz": "Int64"})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError, TypeError) as error:
        raise DamagedRecordError(f"{path}: damaged table CSV: {str(error).splitlines()[0]}") from None
    missing = [column for column in CSV_NEEDED if column not in frame.columns]
    if missing:
        raise DamagedRecordError(f"{path}: damaged table CSV: no column {', '.join(missing)} (it has: {', '.join(map(str, frame.columns))})")
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
    for metric, title in MARKDOWN_METRICS.items():
        rows = frame[frame.metric == metric].set_index("model").loc[models]
        scales = _scales_text(rows)
        best = rows[rows.status == "ok"]["mean"].min()
        ours = [_markdown_cell(r, r.mean == best) for r in rows.itertuples()]
        paper = [_markdown_paper(r) for r in rows.itertuples()]
        lines.append(f"| {title}, ours ({scales}, {_seeds_text(rows)}, {_rule_text(rows)}) | " + " | ".join(ours) + " |")
        lines.append(f"| {title}, paper (2^24 images, 3 seeds) | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


GRID_TITLES = {"table2": "Table 2, in-tandem classifier", "table2_probe": "Table 2, post-hoc probe",
               "table3": "Table 3, K-Means"}  # fmt: skip


def markdown_grid_tables(csv_paths, config: dict | None = None) -> str:
    """Tables 2-3 CSVs (accuracy, %) as one Markdown table: per table and (dataset, dz), a row of
    ours (naming the scale its CSV records) and a row of the paper's; raw pixels in the last column.
    Each dataset is named by its title in `config`."""
    frames = [(Path(p).stem, read_table_csv(p, CSV_TYPES)) for p in csv_paths]
    models = list(dict.fromkeys(m for _, f in frames for m in f.model if m != "pixels"))
    lines = ["| | dataset | dz | " + " | ".join(column_title(m) for m in [*models, "pixels"]) + " |",
             "|---" * (len(models) + 4) + "|"]  # fmt: skip
    for stem, frame in frames:
        pixels = frame[frame.model == "pixels"].drop_duplicates("dataset").set_index("dataset")
        cells = frame[frame.model != "pixels"]
        for (dataset, dz), rows in cells.groupby(["dataset", "dz"], sort=False):
            rows = pd.concat([rows.set_index("model").reindex(models), pixels.loc[[dataset]].rename(index={dataset: "pixels"})])
            scales = _scales_text(rows)
            models_only = rows.drop(index="pixels")
            best = models_only[models_only.status == "ok"]["mean"].max()
            ours = [_markdown_cell(r, r.Index != "pixels" and r.mean == best) for r in rows.itertuples()]
            paper = [_markdown_paper(r) for r in rows.itertuples()]
            place = f"{dataset_title(config, dataset)} | {dz}"
            label = f"{GRID_TITLES.get(stem, stem)}, ours ({scales}, {_seeds_text(rows)}, {_rule_text(models_only)})"
            lines.append(f"| {label} | {place} | " + " | ".join(ours) + " |")
            lines.append(f"| paper (2^24 images, 3 seeds) | {place} | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


def markdown_tables(csv_paths, config: dict | None = None) -> str:
    """Table 1's CSV (it has a `metric` column) or Tables 2-3 CSVs, as Markdown (datasets named by
    their titles in `config`)."""
    first = read_table_csv(csv_paths[0])
    return markdown_table1(csv_paths[0]) if "metric" in first.columns else markdown_grid_tables(csv_paths, config)


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


def _markdown_cell(row, bold: bool) -> str:
    if row.status != "ok":
        return "undef." if row.status == "undefined" else row.status
    text = f"{row.mean:.2f}" + (f" ± {row.std:.2f}" if row.n_seeds > 1 and not pd.isna(row.std) else "")
    return f"**{text}**" if bold else text


# ---- Tables again from a results folder's records (no retraining) ----------------------------
# Tables 2-3 as the workflow writes them: name -> (paper table, cell record, its key, pixel record, title).
GRID_TABLES = {
    "table2": ("table2", "metrics.json", "classifier_accuracy", "probe.json",
               "Table 2: single-layer classifier trained in tandem (paper protocol)"),
    "table2_probe": ("table2", "probe.json", "accuracy", "probe.json",
                     "Table 2 (post hoc): linear probe on exported latents"),
    "table3": ("table3", "kmeans.json", "accuracy", "kmeans.json", "Table 3: K-Means clustering accuracy"),
}  # fmt: skip
TABLE_NAMES = ["table1", *GRID_TABLES]


def table1_cell_paths(config: dict, root) -> list[Path]:
    """Each Table 1 cell's metrics.json under a results root (`results_dir`), in table order."""
    dataset = config["table1"]["dataset"]
    return [Path(cell_directory((dataset, model, dz, seed), str(root)), "metrics.json")
            for model, dz in table1_cells(config) for seed in config["seeds"]]  # fmt: skip


def grid_cell_paths(config: dict, root, name: str) -> tuple[list[Path], list[Path]]:
    """A Table 2-3 output's cell records and its datasets' pixel records under a results root."""
    table, filename, _, pixel_file, _ = GRID_TABLES[name]
    cells = config[table]["cells"]
    paths = [Path(cell_directory((d, m, z, s), str(root)), filename)
             for d, z in cells for m in config[table]["models"] for s in config["seeds"]]  # fmt: skip
    return paths, [Path(root, d, "pixels", pixel_file) for d in dict.fromkeys(d for d, _ in cells)]


def write_tables(config: dict, root, out, names, rule: ReportRule, made_by: str) -> list[Path]:
    """The tables `names` from the records under `root`, written to the folder `out`."""
    out, written, ddof = Path(out), [], config["tables"]["std_ddof"]
    suffix = "" if rule == ReportRule.from_config(config) else f"_last{rule.last}"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        tex, csv = out / f"{name}{suffix}.tex", out / f"{name}{suffix}.csv"
        if name == "table1":
            models = [model for model, _ in table1_cells(config)]
            write_table1(table1_cell_paths(config, root), models, config["seeds"], tex, csv, ddof, rule, made_by)
        else:
            table, _, key, _, title = GRID_TABLES[name]
            cells, pixels = grid_cell_paths(config, root, name)
            write_grid_table(cells, pixels, config[table]["cells"], config[table]["models"], config["seeds"], key,
                             table, title, tex, csv, ddof, rule, config)  # fmt: skip
        written += [tex, csv]
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m acai_repro.tables",
        description="Tables again from trained cells' records, each seed's value under the reporting rule "
        "(recomputed from the evaluation histories the metrics.json files hold; nothing retrains); or table "
        "CSVs as Markdown.",
    )
    parser.add_argument("--configfile", nargs="*", default=[],
                        help="overlays on config/config.yaml (models, seeds, the datasets' titles)")
    parser.add_argument("--results", help="the results root holding <dataset>/<model>/dz<dz>/seed<seed>/")
    parser.add_argument("--tables", nargs="+", choices=TABLE_NAMES, default=["table1"], help="default: table1")
    parser.add_argument("--report-last", type=int, metavar="N",
                        help="another rule: the last N evaluations of each cell (writes NAME_lastN.*); default: "
                             "the config's tables.report_rule, the paper's")  # fmt: skip
    parser.add_argument("--out", help="the folder to write NAME.tex and NAME.csv to")
    parser.add_argument("--markdown", metavar="CSV", nargs="+",
                        help="instead: print a Table 1 CSV, or Tables 2-3 CSVs, as Markdown (as the README quotes them)")
    args = parser.parse_args(argv)
    if not (args.markdown or (args.results and args.out)):
        parser.error("--results and --out are needed (or --markdown CSV)")
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "config.yaml", *args.configfile)
    if args.markdown:
        try:
            print(markdown_tables(args.markdown, config), end="")
        except (DamagedRecordError, FileNotFoundError) as error:
            parser.exit(2, f"error: {error}\n")
        return
    rule = ReportRule(args.report_last, None) if args.report_last else ReportRule.from_config(config)
    made_by = "python -m acai_repro.tables" + (f" --report-last {args.report_last}" if args.report_last else "")
    try:
        written = write_tables(config, args.results, args.out, args.tables, rule, made_by)
    except (MissingCellError, FileNotFoundError, DamagedRecordError) as error:
        parser.exit(2, f"error: {error}\n")
    print("wrote " + ", ".join(map(str, written)))


if __name__ == "__main__":
    main()
