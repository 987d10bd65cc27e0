"""Tables 1-3 as booktabs LaTeX and CSV: per-seed records in one tidy frame, summarised and pivoted.

A cell is the mean ± std over its seeds (population std, ddof 0, as in the authors' notebook, unless
configured). A seed that diverged, or whose value is undefined (NaN or null: Smoothness when every
interpolation collapses to one line), never becomes a number: the cell shows its status instead.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from acai_repro.config import load_config, table1_cells
from acai_repro.models import MODELS, title_of
from acai_repro.packs import cell_directory
from acai_repro.results import DamagedRecordError, read_record, record_number
from acai_repro.train import summarise as median_of_last

PAPER_VALUES = Path(__file__).with_name("paper_values.csv")
DATASET_TITLES = {"mnist": "MNIST", "svhn": "SVHN", "cifar10": "CIFAR-10"}
# Table 1: metric -> (row title, scale to the paper's unit); lower is better for both.
TABLE1_METRICS = {"mean_distance": (r"Mean Distance ($\times 10^{-3}$)", 1e3), "smoothness": ("Smoothness", 1.0)}
UNDEFINED_MARK = r"undef.$^\dagger$"
UNDEFINED_STD = "undef."  # the spread of too few seeds (a sample std of one seed)
# The only value a finished record may leave undefined (NaN or null): elsewhere NaN is damage.
UNDEFINABLE = {"smoothness"}
RECORD_COLUMNS = ["dataset", "dz", "model", "seed", "metric", "value", "status", "source", "scale"]
CSV_COLUMNS = ["mean", "std", "n_seeds", "n_undefined", "status", "paper_mean", "paper_std", "scale", "sources"]


class MissingCellError(RuntimeError):
    """A table was asked for a cell whose records are absent or incomplete."""


def record_scale(record: dict) -> str | None:
    """The scale (config key scale_name) a record was made at: a cell's metrics.json carries it
    in its spec, a probe or K-Means record of a cell at its top level; pixel records have none."""
    return record.get("scale_name") or (record.get("spec") or {}).get("scale_name")


def collect(paths, metrics, report_last: int | None = None) -> pd.DataFrame:
    """One row per record and metric (RECORD_COLUMNS). status: the record's own ('ok', 'diverged'),
    or 'undefined' where an ok record's value is NaN or null. Pixel records: model 'pixels', no dz.
    scale: the scale_name the record was made at (None where it records none).

    `report_last`: a cell's values are the median of its last N evaluations, recomputed from the
    history its record holds, instead of the values it reported under its own training's rule
    (a reduced scale with few evaluations read without its first, untrained ones)."""
    rows = []
    for path in paths:
        record = read_record(path)
        cell, ok = _record_cell(record, path), _record_status(record, path) == "ok"
        values = _reported(record, report_last, path)
        for metric in metrics:
            if ok and metric not in values:
                raise MissingCellError(f"{path}: no {metric!r} in a finished record")
            value = record_number(values, metric, path, metric in UNDEFINABLE) if ok else np.nan
            status = "undefined" if ok and np.isnan(value) else record["status"]
            rows.append({**cell, "metric": metric, "value": value, "status": status, "source": str(path),
                         "scale": record_scale(record)})  # fmt: skip
    return pd.DataFrame(rows, columns=RECORD_COLUMNS).astype({"dz": "Int64"})


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


def _reported(record: dict, report_last: int | None, path) -> dict:
    if report_last is None or record["status"] != "ok":
        values = record.get("reported", record)
        if not isinstance(values, dict):
            raise DamagedRecordError(f"{path}: damaged record: 'reported' is {values!r}, not an object of values")
        return values
    if not isinstance(record.get("evals"), list):
        raise DamagedRecordError(f"{path}: damaged record: no list of 'evals' to take the last {report_last} of")
    if report_last > len(record["evals"]):
        raise MissingCellError(f"{path}: {len(record['evals'])} evaluations, fewer than the last {report_last} asked for")
    return median_of_last(record["evals"], report_last)


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
        # A sample std (ddof 1) of one seed is undefined: NaN (an empty CSV field), never 0.
        mean, std = values.mean(), np.std(values, ddof=ddof) if len(values) > ddof else np.nan
    scales = ";".join(sorted(set(group.scale.dropna())))  # one name unless scales were mixed
    return pd.Series({"mean": mean, "std": std, "n_seeds": len(group), "n_undefined": n_undefined,
                      "status": status, "sources": ";".join(group.source), "scale": scales})  # fmt: skip


def paper_values(table: str) -> pd.DataFrame:
    return pd.read_csv(PAPER_VALUES, comment="#", dtype={"dz": "Int64"}).query("table == @table")


def aggregate(frame: pd.DataFrame, keys, table: str, ddof: int) -> pd.DataFrame:
    """One row per `keys` group, in order of appearance: the summary over seeds, the paper's value."""
    groups = frame.groupby(keys, sort=False, dropna=False)[["value", "status", "source", "scale"]]
    summary = groups.apply(summarise, ddof=ddof).reset_index()
    summary.loc[summary.model == "pixels", "std"] = np.nan  # one measurement: no spread
    paper = paper_values(table).rename(columns={"mean": "paper_mean", "std": "paper_std"})
    on = ["model", "metric"] if table == "table1" else ["dataset", "dz", "model"]
    return summary.merge(paper[[*on, "paper_mean", "paper_std"]], on=on, how="left")


def column_title(model: str) -> str:
    """A model's column title: its registered title ("Pixels" for the raw pixels)."""
    return "Pixels" if model == "pixels" else title_of(model)


def _ours(row, bold: bool) -> str:
    if row.status != "ok":
        return UNDEFINED_MARK if row.status == "undefined" else row.status
    spread = UNDEFINED_STD if pd.isna(row.std) else f"{row.std:.2f}"
    text = f"{row.mean:.2f}" + ("" if row.model == "pixels" else f" $\\pm$ {spread}")
    return f"\\textbf{{{text}}}" if bold else text


def _paper(row, pm: str = "$\\pm$") -> str:
    if pd.isna(row.paper_mean):
        return "--"
    return f"{row.paper_mean:.2f}" + ("" if pd.isna(row.paper_std) else f" {pm} {row.paper_std:.2f}")


def to_latex(summary, row_keys, labels: dict, columns, lower_is_better: bool, comments, titles=None) -> str:
    """Booktabs: a row per key of `labels` (its label cells) with ours, best in bold, and the paper's under it."""
    scored = summary[(summary.status == "ok") & (summary.model != "pixels")]
    best = scored.groupby(row_keys, sort=False)["mean"].transform("min" if lower_is_better else "max")
    bold = summary.index.isin(scored.index[scored["mean"] == best])
    texts = pd.concat([summary.assign(line=0, text=[_ours(r, b) for r, b in zip(summary.itertuples(), bold)]),
                       summary.assign(line=1, text=[_paper(r) for r in summary.itertuples()])])  # fmt: skip
    order = [(*key, line) for key in labels if key != "header" for line in (0, 1)]
    wide = texts.pivot(index=[*row_keys, "line"], columns="model", values="text").reindex(index=order, columns=columns)
    paper_label = [r"\quad paper"] + [""] * (len(row_keys) - 1)
    names = pd.DataFrame([paper_label if k[-1] else labels[k[:-1]] for k in order], columns=labels["header"])
    column_titles = {**{m: column_title(m) for m in columns}, **(titles or {})}
    table = pd.concat([names, wide.fillna("--").rename(columns=column_titles).reset_index(drop=True)], axis=1)
    latex = table.style.hide(axis="index").to_latex(hrules=True, column_format="l" * len(row_keys) + "c" * len(columns))
    notes = [f"{column_title(r.model)}, {' '.join(labels[tuple(getattr(r, k) for k in row_keys)])}: "
             f"{r.n_undefined} of {r.n_seeds} seeds" for r in summary.itertuples() if r.n_undefined]  # fmt: skip
    if notes:  # a footnote row inside the tabular, so that it travels with the table
        note = f"\\multicolumn{{{table.shape[1]}}}{{l}}{{\\footnotesize $^\\dagger$ undefined in some seeds, no mean: "
        latex = latex.replace("\\end{tabular}", f"{note}{'; '.join(notes)}.}} \\\\\n\\end{{tabular}}")
    return "".join(f"% {c}\n" for c in comments) + latex


def _std_text(ddof: int, seeds) -> str:
    kind = "population std (ddof 0, as the authors)" if ddof == 0 else f"sample std (ddof {ddof})"
    undefined = f" ({UNDEFINED_STD}: it needs more than {ddof} seed)" if len(seeds) <= ddof else ""
    return f"mean $\\pm$ {kind}{undefined} over seeds {list(seeds)}"


def write_table1(paths, models, seeds, tex_path, csv_path, std_ddof: int = 0, report_last: int | None = None,
                 made_by: str = "rule table1") -> pd.DataFrame:  # fmt: skip
    """Table 1 (lines): a row per metric, a column per model, from each cell's metrics.json
    (`report_last`: each seed's value recomputed from its last N evaluations, see `collect`)."""
    expected = pd.MultiIndex.from_product([list(TABLE1_METRICS), models, seeds], names=["metric", "model", "seed"])
    summary = table1_summary(require(collect(paths, TABLE1_METRICS, report_last), expected), std_ddof)
    summary.to_csv(csv_path, index=False, columns=["metric", "model", "dz", *CSV_COLUMNS])
    labels = {"header": ["Metric"], **{(k,): [title] for k, (title, _) in TABLE1_METRICS.items()}}
    rule = "median of its last evaluations" if report_last is None else \
        f"median of its last {report_last} evaluations, recomputed from its history"  # fmt: skip
    comments = [f"Generated by the ACAI reproduction workflow ({made_by}). Lower is better.",
                f"{_std_text(std_ddof, seeds)}; each seed: {rule}."]  # fmt: skip
    Path(tex_path).write_text(to_latex(summary, ["metric"], labels, models, True, comments, _own_dz_titles(summary)))
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
    return {m: f"{column_title(m)} ($d_z$ {z})" for m, z in _own_dz(summary).items()}


def write_grid_table(paths, pixel_paths, cells, models, seeds, key, table, title, tex_path, csv_path,
                     std_ddof: int = 0) -> pd.DataFrame:  # fmt: skip
    """Table 2 or 3: accuracy (%) per (dataset, dz) row and model column, then raw pixels."""
    expected = [(d, z, m, s) for d, z in cells for m in models for s in seeds]
    frame = require(collect(paths, [key]), pd.MultiIndex.from_tuples(expected, names=RECORD_COLUMNS[:4]))
    summary = grid_summary(frame, pixel_paths, key, table, std_ddof)
    summary.to_csv(csv_path, index=False, columns=["dataset", "dz", "model", *CSV_COLUMNS])
    # Shown: the pixels of a dataset in each of its rows; the prior methods the paper quotes, in comments.
    rows = pd.DataFrame(cells, columns=["dataset", "dz"]).astype({"dz": "Int64"})
    pixel_rows = summary[summary.model == "pixels"].drop(columns="dz").merge(rows)
    labels = {"header": ["Dataset", "$d_z$"], **{(d, z): [DATASET_TITLES.get(d, d), str(z)] for d, z in cells}}
    ours = [*MODELS, "pixels"]
    quoted = paper_values(table).query("model not in @ours and dataset in @rows.dataset")
    comments = [f"{title}. Accuracy (%), {_std_text(std_ddof, seeds)}; paper below ours.",
                *(f"Quoted beside it in the paper: {r.model} on {DATASET_TITLES[r.dataset]}, {r.mean:.1f}"
                  for r in quoted.itertuples())]  # fmt: skip
    shown = pd.concat([summary[summary.model != "pixels"], pixel_rows], ignore_index=True)
    columns = [*models, "pixels"] if len(pixel_rows) else models
    Path(tex_path).write_text(to_latex(shown, ["dataset", "dz"], labels, columns, False, comments))
    return summary


# ---- Tables as Markdown, from their CSVs (what the README quotes) ----------------------------
MARKDOWN_METRICS = {"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"}


CSV_NEEDED = ["model", "mean", "std", "n_seeds", "status"]


def read_table_csv(path) -> pd.DataFrame:
    """A table's CSV as written by write_table1 / write_grid_table; DamagedRecordError naming the
    file and what is wrong (empty, not CSV, a column missing, a mean that is no number)."""
    try:
        frame = pd.read_csv(path, dtype={"dz": "Int64"})
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
    frame = read_table_csv(csv_path)
    models = list(dict.fromkeys(frame.model))
    own = _own_dz(frame)
    titles = [column_title(m) + (f" (dz {own[m]})" if m in own else "") for m in models]
    lines = ["| | " + " | ".join(titles) + " |", "|---" * (len(models) + 1) + "|"]
    for metric, title in MARKDOWN_METRICS.items():
        rows = frame[frame.metric == metric].set_index("model").loc[models]
        scales = _scales_text(rows)
        best = rows[rows.status == "ok"]["mean"].min()
        ours = [_markdown_cell(r, r.mean == best) for r in rows.itertuples()]
        paper = [_paper(r, "±") for r in rows.itertuples()]
        lines.append(f"| {title}, ours ({scales}, {_seeds_text(rows)}) | " + " | ".join(ours) + " |")
        lines.append(f"| {title}, paper (2^24 images, 3 seeds) | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


GRID_TITLES = {"table2": "Table 2, in-tandem classifier", "table2_probe": "Table 2, post-hoc probe",
               "table3": "Table 3, K-Means"}  # fmt: skip


def markdown_grid_tables(csv_paths) -> str:
    """Tables 2-3 CSVs (accuracy, %) as one Markdown table: per table and (dataset, dz), a row of
    ours (naming the scale its CSV records) and a row of the paper's; raw pixels in the last column."""
    frames = [(Path(p).stem, read_table_csv(p)) for p in csv_paths]
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
            paper = [_paper(r, "±") for r in rows.itertuples()]
            place = f"{DATASET_TITLES.get(dataset, dataset)} | {dz}"
            lines.append(f"| {GRID_TITLES.get(stem, stem)}, ours ({scales}, {_seeds_text(rows)}) | {place} | " + " | ".join(ours) + " |")
            lines.append(f"| paper (2^24 images, 3 seeds) | {place} | " + " | ".join(paper) + " |")
    return "\n".join(lines) + "\n"


def markdown_tables(csv_paths) -> str:
    """Table 1's CSV (it has a `metric` column) or Tables 2-3 CSVs, as Markdown."""
    first = read_table_csv(csv_paths[0])
    return markdown_table1(csv_paths[0]) if "metric" in first.columns else markdown_grid_tables(csv_paths)


def _scales_text(rows: pd.DataFrame) -> str:
    """The scales the rows' records name; CSVs written before scales were recorded have no column."""
    recorded = rows["scale"].dropna() if "scale" in rows.columns else []
    return ", ".join(sorted(set(recorded))) or "scale not recorded"


def _seeds_text(rows: pd.DataFrame) -> str:
    seeds = set(rows.n_seeds)
    return f"{seeds.pop()} seed{'s' if max(rows.n_seeds) > 1 else ''}" if len(seeds) == 1 else "seeds vary"


def _markdown_cell(row, bold: bool) -> str:
    if row.status != "ok":
        return "undef." if row.status == "undefined" else row.status
    text = f"{row.mean:.2f}" + (f" ± {row.std:.2f}" if row.n_seeds > 1 and not pd.isna(row.std) else "")
    return f"**{text}**" if bold else text


# ---- Table 1 under another reporting rule, from the evaluation histories (no retraining) ----
def table1_cell_paths(config: dict, root) -> list[Path]:
    """Each Table 1 cell's metrics.json under a results root (`results_dir`), in table order."""
    dataset = config["table1"]["dataset"]
    return [Path(cell_directory((dataset, model, dz, seed), str(root)), "metrics.json")
            for model, dz in table1_cells(config) for seed in config["seeds"]]  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m acai_repro.tables",
        description="Table 1 again from trained cells, each seed's value the median of its last N evaluations "
        "(recomputed from the histories its metrics.json holds; nothing retrains); or a Table 1 CSV as Markdown.",
    )
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays on config/config.yaml (models, seeds)")
    parser.add_argument("--results", help="the results root holding lines/<model>/dz<dz>/seed<seed>/")
    parser.add_argument("--report-last", type=int, help="N: the last N evaluations of each cell")
    parser.add_argument("--out", help="writes OUT.tex and OUT.csv")
    parser.add_argument("--markdown", metavar="CSV", nargs="+",
                        help="instead: print a Table 1 CSV, or Tables 2-3 CSVs, as Markdown (as the README quotes them)")
    args = parser.parse_args(argv)
    if args.markdown:
        try:
            print(markdown_tables(args.markdown), end="")
        except (DamagedRecordError, FileNotFoundError) as error:
            parser.exit(2, f"error: {error}\n")
        return
    if not (args.results and args.report_last and args.out):
        parser.error("--results, --report-last and --out are needed (or --markdown CSV)")
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "config.yaml", *args.configfile)
    out = Path(args.out)
    models = [model for model, _ in table1_cells(config)]
    try:
        write_table1(table1_cell_paths(config, args.results), models, config["seeds"], out.with_suffix(".tex"),
                     out.with_suffix(".csv"), config["tables"]["std_ddof"], args.report_last,
                     f"python -m acai_repro.tables --report-last {args.report_last}")  # fmt: skip
    except (MissingCellError, FileNotFoundError, DamagedRecordError) as error:
        parser.exit(2, f"error: {error}\n")
    print(f"wrote {out.with_suffix('.tex')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
