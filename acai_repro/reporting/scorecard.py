"""What came out again: every published number of Tables 1-3 and every claim the paper makes from
them, against our cells, with one verdict each.

The judging is done elsewhere: acai_repro.reporting.verdicts gives one row per published value, with ours and
its verdict; acai_repro.reporting.findings judges each claim the paper draws from its tables, as worded. This
module shows them: the Markdown and LaTeX pages (a verdict always as a symbol and a word, the summary
line), and everything from a results folder's record files to those pages: the summary frames, Table
1 under other reporting rules, the run's size in one line, the record files of the config's cells,
and the command line (`python -m acai_repro.scorecard`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from acai_repro.config import DEFAULT_CONFIG, dataset_title, load_config
from acai_repro.reporting.findings import FINDINGS, MEANINGFUL_RULE, finding_rows
from acai_repro.reporting.tables import (
    PAPER_RULE,
    TABLE1_METRICS,
    MissingCellError,
    ReportRule,
    accuracy_summary,
    collect,
    latex_text,
    source_text,
    table1_summary,
)
from acai_repro.reporting.verdicts import (
    AUTOENCODERS,
    MODEL_TITLES,
    NUMBER_VERDICTS,
    PROTOCOL_IMAGES,
    TABLES,
    Verdict,
    number_rows,
    power_of_two_text,
    recorded_scale,
    scale_name,
    with_images,
)
from acai_repro.results import DamagedRecordError, read_record
from acai_repro.table_registry import TABLES as TABLE_REGISTRY

TABLE_TITLES = {table: TABLE_REGISTRY[table].verdict_title for table in TABLES}
# The judged tables whose records hold a cell and a pixel record each (Tables 2-3).
TABLE_RECORDS = {table: TABLE_REGISTRY[table] for table in TABLES if TABLE_REGISTRY[table].pixels}
# Every verdict with its symbol: the pages print both, never a colour alone.
SYMBOLS = {
    Verdict.AGREES: "✓",
    Verdict.DIFFERS: "✗",
    Verdict.REDUCED_SCALE: "↓",
    Verdict.UNDEFINED: "∅",
    Verdict.DIVERGED: "‼",
    Verdict.NOT_RUN: "–",
    Verdict.NO_STD: "?",
    Verdict.QUOTED: "❞",
    Verdict.HOLDS: "✓",
    Verdict.FAILS: "✗",
    Verdict.PARTLY: "◐",
    Verdict.NOT_ENOUGH_CELLS: "…",
}
NOT_MEANINGFUL = "not meaningful at this scale"
SENSITIVITY_LAST = (1, 2, 4, 8)  # the fixed rules the Table 1 sensitivity lines read


# ---------------------------------------------------------------- pages


def verdict_label(finding) -> str:
    """'holds', or 'holds (not meaningful at this scale)' for a judged finding the scale cannot speak to."""
    apart = finding.meaningful == "no" and finding.verdict != Verdict.NOT_ENOUGH_CELLS
    return f"{finding.verdict} ({NOT_MEANINGFUL})" if apart else finding.verdict


def _counts(verdicts: pd.Series) -> str:
    f = verdicts.value_counts()
    return f"{f.get('holds', 0)} hold, {f.get('fails', 0)} fail, {f.get('partly', 0)} partly"


def summary_line(rows: pd.DataFrame, findings: pd.DataFrame) -> str:
    """One line: how many findings hold (those not meaningful at this scale counted apart), and how many
    of the autoencoders' published numbers were compared at the protocol scale."""
    judged = findings[findings.verdict != Verdict.NOT_ENOUGH_CELLS]
    apart = judged[judged.meaningful == "no"]
    parts = (
        f"{_counts(judged[judged.meaningful == 'yes'].verdict)}, "
        f"{int((findings.verdict == 'not enough cells').sum())} need more cells"
    )
    if len(apart):
        parts += f"; {NOT_MEANINGFUL}: {_counts(apart.verdict)}"
    n = rows[rows.model.isin(AUTOENCODERS)].verdict.value_counts()
    compared = n.get(Verdict.AGREES, 0) + n.get(Verdict.DIFFERS, 0) + n.get(Verdict.NO_STD, 0)
    numbers = (
        f"{compared} of {int(n.sum())} at protocol scale "
        f"({n.get('agrees', 0)} agree, {n.get('differs', 0)} differ), "
        f"{n.get('reduced scale', 0)} at a reduced scale, {n.get('undefined', 0) + n.get('diverged', 0)} "
        f"undefined or diverged, {n.get('not run', 0)} not run"
    )
    return f"findings: {parts}; numbers: {numbers}"


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


def compact_table(rows: pd.DataFrame, table: str, config: dict | None = None) -> pd.DataFrame:
    """A paper table as the paper lays it out (only the rows with a cell run): `ours / paper verdict`;
    each dataset named by its title in `config`."""
    part = rows[(rows.table == table) & rows.model.isin(MODEL_TITLES)]
    keys = ["metric"] if table == "table1" else ["dataset", "dz"]
    run = part[part.verdict != Verdict.NOT_RUN]
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
        wide["dataset"] = wide.dataset.map(lambda d: dataset_title(config, d))
    return wide


def _where(key, config: dict | None) -> str:
    """A row of a paper table in words: 'MNIST dz 32' (a Table 1 row: its metric)."""
    key = key if isinstance(key, tuple) else (key,)
    return " ".join(f"dz {k}" if i == 1 else dataset_title(config, k) for i, k in enumerate(key) if not pd.isna(k))


def not_run_text(rows: pd.DataFrame, config: dict | None = None) -> list[str]:
    """The published values without a cell of ours, grouped: one line per paper table."""
    lines = []
    for table in TABLES:
        part = rows[(rows.table == table) & (rows.verdict == Verdict.NOT_RUN)]
        if part.empty:
            continue
        groups = part.groupby(["dataset", "dz"] if table != "table1" else ["metric"], sort=False, dropna=False)
        items = []
        for key, group in groups:
            every = set(AUTOENCODERS) <= set(group.model)
            rest = [MODEL_TITLES.get(m, m) for m in group.model if not (every and m in AUTOENCODERS)]
            items.append(f"{_where(key, config)}: " + ", ".join(["every autoencoder"] * every + rest))
        lines.append(f"- **{TABLE_TITLES[table]}**: " + "; ".join(items) + ".")
    return lines


def quoted_text(rows: pd.DataFrame, config: dict | None = None) -> list[str]:
    """The values the paper quotes from other work, with their sources: shown, never judged."""
    part = rows[rows.verdict == Verdict.QUOTED]
    return [
        f"- **{TABLE_TITLES[r.table]}**, {_where((r.dataset,), config)}: {source_text(r.paper_source, r.model)}: "
        f"{r.paper_mean:.1f}" + (f" (ours: {r['mean']:.2f})" if not pd.isna(r["mean"]) else "")
        for _, r in part.iterrows()
    ]


LEGEND = (
    "✓ agrees (within 2 combined std) · ✗ differs · ↓ reduced scale (fewer images than the protocol: "
    "our number, no verdict) · ∅ undefined (every evaluation collapsed) · ‼ diverged · – not run · "
    "? no std on either side · ❞ quoted (a value the paper quotes from other work: no verdict). "
    "Findings: ✓ holds · ✗ fails · ◐ partly · … not enough cells; a verdict the scale cannot speak to "
    f"says ({NOT_MEANINGFUL}) and is counted apart."
)
COMPARES = (
    "What this page compares: each value the paper publishes in Tables 1-3 (and the values it quotes "
    "beside them, shown with their source, not judged) against ours, read from the same records as our "
    "tables under the same reporting rule; and each finding the paper draws from those tables, checked "
    "as it is worded on the cells we ran (a setting the claim names that was not run: not enough cells)."
)


COLLAPSED_TEXT = (
    "A collapsed cell (Smoothness undefined in every seed: every interpolation decoded to one line) "
    "interpolates as poorly as a model can: the checks rank it last on Smoothness, never as a missing "
    "run; a diverged cell, or one undefined in some seeds only, is not ranked."
)


def rule_paragraph(sensitivity) -> str:
    """The one rule for every finding's verdict, with where the page shows why (the Table 1 verdicts
    under other reporting rules, where Table 1 was run)."""
    shown = (
        (
            " The Table 1 findings' verdicts under other reporting rules, at the end of this page, show whether "
            "those of this run change with the evaluations read."
        )
        if sensitivity
        else ""
    )
    return f"{MEANINGFUL_RULE}{shown} {COLLAPSED_TEXT}"


def markdown(
    rows: pd.DataFrame, findings: pd.DataFrame, context: str, sensitivity: list[str] = (), config: dict | None = None
) -> str:
    """results/reproduction.md: the summary, the findings, a compact table per paper table, the
    reporting rule's sensitivity, what was not run and what is quoted (datasets named by their
    titles in `config`)."""
    scale = ", ".join(sorted(set(rows.scale.dropna()))) or "nothing run"
    out = [
        f"# Reproduction scorecard: the paper against our {scale} run",
        "",
        f"**{summary_line(rows, findings)}**",
        "",
        COMPARES,
        "",
        context,
        "",
        LEGEND,
        "",
        "## The paper's findings",
        "",
        rule_paragraph(sensitivity),
        "",
    ]
    for f in findings.itertuples():
        out += [
            f'- **{SYMBOLS[f.verdict]} {verdict_label(f)}**: "{f.quote}" ({f.location})',
            f"  - checked as: {f.checked_as}",
            f"  - evaluated on: {f.evaluated_on}",
        ]
    for table in TABLES:
        wide = compact_table(rows, table, config)
        out += ["", f"## {TABLE_TITLES[table]}: ours / paper", ""]
        out += [_md_table(wide) if not wide.empty else "No cell of this table was run."]
    if sensitivity:
        out += ["", "## Table 1 under other reporting rules", "", *sensitivity]
    out += ["", "## Not run", "", *not_run_text(rows, config)]
    quoted = quoted_text(rows, config)
    if quoted:
        out += ["", "## Quoted by the paper from other work (no verdict)", "", *quoted]
    return "\n".join(out) + "\n"


SCORECARD_PREAMBLE = r"\usepackage{booktabs} \usepackage{longtable} \usepackage{array}"
VERDICT_WORDS = {
    Verdict.AGREES: "agrees",
    Verdict.DIFFERS: "differs",
    Verdict.REDUCED_SCALE: "reduced scale",
    Verdict.UNDEFINED: "undefined",
    Verdict.DIVERGED: "diverged",
    Verdict.NOT_RUN: "not run",
    Verdict.NO_STD: "no spread on either side",
}
COUNTS_LEGEND = (
    "Agrees: within twice the standard deviation of both sides combined; reduced scale: trained on fewer "
    "images than the paper, shown without a verdict; undefined: Smoothness undefined in some seed "
    "(every interpolation decoded to one line)."
)


def latex(rows: pd.DataFrame, findings: pd.DataFrame, run: str = "our run") -> str:
    """The findings as a longtable (it breaks across pages: the quotes are long), then the verdicts on
    the published values per paper table as a table float; both captioned for a paper's reader, in
    \\small type; `run` says what was run, in words."""
    body = [
        f"{latex_text(f.location)} & {latex_text(f.quote)} & {latex_text(verdict_label(f))} \\\\"
        for f in findings.itertuples()
    ]
    counts = rows[rows.model.isin(AUTOENCODERS)].groupby("table").verdict.value_counts().unstack(fill_value=0)
    counts = counts.reindex(index=list(TABLES), columns=NUMBER_VERDICTS[:-1], fill_value=0)  # no quoted autoencoder
    number_body = [
        f"{latex_text(VERDICT_WORDS[v])} & " + " & ".join(str(int(counts.loc[t, v])) for t in TABLES) + r" \\"
        for v in NUMBER_VERDICTS[:-1]
    ]
    head = [r"\toprule", r"Where & The paper's finding & Verdict \\", r"\midrule"]
    findings_caption = latex_text(
        f"The paper's findings from its Tables 1-3, each checked as worded on {run}. {MEANINGFUL_RULE} {COLLAPSED_TEXT}"
    )
    counts_caption = latex_text(
        f"The values the paper publishes for the six autoencoders in Tables 1-3 against "
        f"{run}, by verdict. {COUNTS_LEGEND}"
    )
    return "\n".join(
        [
            f"% Generated by the ACAI reproduction workflow. {latex_text(summary_line(rows, findings))}",
            f"% Needs in the preamble: {SCORECARD_PREAMBLE}",
            r"{\small",
            r"\begin{longtable}{"
            + "".join(rf">{{\raggedright\arraybackslash}}p{{{w}}}" for w in ("2.1cm", "6.0cm", "2.4cm"))
            + "}",
            f"\\caption{{{findings_caption}}}",
            r"\label{tab:reproduction-findings}\\",
            *head,
            r"\endfirsthead",
            *head,
            r"\endhead",
            r"\bottomrule",
            r"\endlastfoot",
            *body,
            r"\end{longtable}}",
            "",
            r"\begin{table}[tbp]",
            r"\centering\small",
            f"\\caption{{{counts_caption}}}",
            r"\label{tab:reproduction-values}",
            r"\begin{tabular}{lrrr}",
            r"\toprule",
            "Verdict & " + " & ".join(TABLE_TITLES[t].split(" (")[0] for t in TABLES) + r" \\",
            r"\midrule",
            *number_body,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    )


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
            key = TABLE_RECORDS[table].key
            out[table] = with_images(accuracy_summary(collect(cells, [key], rule), pixels, key, table, std_ddof))
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
            frames = {
                "table1": with_images(
                    table1_summary(collect(records["table1"], TABLE1_METRICS, ReportRule(last, None)), std_ddof)
                )
            }
        except MissingCellError:  # fewer evaluations than `last`
            continue
        rows = number_rows(frames, scale)
        titles = own_dz_titles(rows, "table1")
        rules[last] = (
            rows[(rows.table == "table1") & (rows.verdict != Verdict.NOT_RUN)].set_index(["metric", "model"]),
            finding_rows(rows, [f for f in FINDINGS if f.table == "table1"]).set_index("finding"),
        )
    if not rules:
        return []
    header = [
        "Table 1 value",
        *(f"last {n}" if n in rules else f"last {n} (too few evaluations)" for n in SENSITIVITY_LAST),
    ]
    first_values, first_findings = next(iter(rules.values()))
    lines = []
    for metric, model in first_values.index:
        cells = [_sensitivity_value(rules[n][0].loc[(metric, model)]) if n in rules else "—" for n in SENSITIVITY_LAST]
        lines.append([f"{TABLE1_MARKDOWN[metric]}, {titles[model]}", *cells])
    for name in first_findings.index:
        lines.append(
            [
                f"finding `{name}`",
                *(_mark(rules[n][1].loc[name, "verdict"]) if n in rules else "—" for n in SENSITIVITY_LAST),
            ]
        )
    intro = (
        "Each seed's value as the median of a fixed number of its last evaluations instead of the rule "
        "above, from the same histories: our value and its verdict, then the Table 1 findings' verdicts."
    )
    return [intro, "", _md_table(pd.DataFrame(lines, columns=header))]


TABLE1_MARKDOWN = {"mean_distance": "Mean Distance ×10⁻³", "smoothness": "Smoothness"}


def _sensitivity_value(row) -> str:
    return f"{_value(row['mean'], row['std'], row.n_seeds) or '—'} {SYMBOLS[row.verdict]}"


def _power_text(images) -> str:
    counts = sorted({int(i) for i in images if not pd.isna(i)})
    return ", ".join(power_of_two_text(n) for n in counts) or "unknown"


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
    """The training paths (fastpath.path_name: exact, fast, fast-fused) the frame's cells were trained on."""
    paths = sorted(
        {p for joined in frame.get("path", pd.Series(dtype=str)).dropna() for p in str(joined).split(";") if p}
    )
    return f"the {' and '.join(paths)} path{'s' if len(paths) > 1 else ''}" if paths else "path not recorded"


def run_size_line(frames: dict, rule: ReportRule, config: dict | None = None) -> str:
    """This run's size in one line: per table run, the datasets (by their titles in `config`) and dz,
    images per cell, seeds, the reporting rule with its N, K-Means restarts; the VQ-VAE's dz where it
    differs; against the protocol's."""
    parts = []
    if "table1" in frames:
        t1 = frames["table1"]
        own = {m: z for m, z in t1.drop_duplicates("model").set_index("model").dz.items() if z != t1.dz.mode().iloc[0]}
        dz = "".join(f", {MODEL_TITLES.get(m, m)} at dz {z}" for m, z in own.items())
        parts.append(
            f"Table 1 on lines ({_power_text(t1.images)} images per cell, {_seed_count(t1)}, "
            f"{_path_text(t1)}, each seed the median of its {_rule_pairs(t1)} evaluations{dz})"
        )
    for table in ("table2", "table3"):
        if table not in frames:
            continue
        cells = frames[table][frames[table].model != "pixels"]
        settings = ", ".join(
            f"{dataset_title(config, d)} dz {z}" for d, z in dict.fromkeys(zip(cells.dataset, cells.dz))
        )
        what = (
            f"each seed the median of its {_rule_pairs(cells)} evaluations"
            if table == "table2"
            else f"K-Means with {', '.join(map(str, kmeans_restarts(cells.sources))) or 'unrecorded'} restarts"
        )
        parts.append(
            f"{TABLE_TITLES[table].split(' (')[0]} on {settings} ({_power_text(cells.images)} images per "
            f"cell, {_seed_count(cells)}, {_path_text(cells)}, {what})"
        )
    protocol = (
        f"the protocol: {power_of_two_text(PROTOCOL_IMAGES)} images per cell, 3 seeds, the last 20 of 256 "
        "evaluations, 1,000 K-Means restarts, lines, MNIST, SVHN and CIFAR-10"
    )
    return f"This run: {'; '.join(parts) or 'nothing'} ({rule.describe()}; {protocol})."


def run_in_words(frames: dict, scale: str) -> str:
    """What was run, for a caption: 'our quick run (2^17 training images per autoencoder, the paper:
    2^24; 1 seed)'."""
    trained = pd.concat([f[f.model != "pixels"] for f in frames.values()]) if frames else pd.DataFrame()
    if trained.empty:
        return f"our {scale} run (nothing trained)"
    counts = sorted({int(i) for i in trained.images.dropna()})
    images = " or ".join(power_of_two_text(n) for n in counts) or "an unrecorded number of"
    paper = "" if counts == [PROTOCOL_IMAGES] else f" (the paper: {power_of_two_text(PROTOCOL_IMAGES)})"
    return f"our {scale} run ({images} training images per autoencoder{paper}; {_seed_count(trained)})"


def write_scorecard(
    records: dict, csv_path, md_path, tex_path=None, std_ddof: int = 0, config=None, rule: ReportRule = PAPER_RULE
) -> str:
    """Every output of the scorecard from the record files; returns the summary line."""
    frames = summaries(records, std_ddof, rule)
    images = [i for s in frames.values() for i in s.images]
    # read from the results themselves; the config names it only for records that do not
    scale = recorded_scale(frames) or scale_name(config or {}, images)
    rows = number_rows(frames, scale)
    findings = finding_rows(rows, config=config)
    rows.to_csv(csv_path, index=False)
    std = "population standard deviation (as the authors)" if std_ddof == 0 else "sample standard deviation"
    size = run_size_line(frames, rule, config)
    context = (
        f"Scale: **{scale}**. {size} Ours as mean ± {std} over seeds; a cell with one seed has no std of its "
        f"own (none is shown), so its combined std is the paper's alone (note `one seed`). Every number, "
        f"with both differences in std, is in `{Path(csv_path).name}`."
    )
    sensitivity = sensitivity_lines(records, std_ddof, scale)
    Path(md_path).write_text(markdown(rows, findings, context, sensitivity, config))
    if tex_path:
        Path(tex_path).write_text(latex(rows, findings, run_in_words(frames, scale)))
    return summary_line(rows, findings)


def record_paths(config: dict, root) -> dict:
    """The record files of every cell the config's tables need, under `root` (the rules' layout,
    results/{dataset}/{model}/dz{dz}/seed{seed}), that exist: whatever cells were run."""

    def existing(paths):
        return [str(p) for p in paths if p.exists()]

    records = {"table1": existing(TABLE_REGISTRY["table1"].cell_paths(config, root))}
    for table, spec in TABLE_RECORDS.items():
        records[table] = (existing(spec.cell_paths(config, root)), existing(spec.pixel_paths(config, root)))
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
    parser.add_argument(
        "--results",
        required=True,
        nargs="+",
        help="results folders (cells: DATASET/MODEL/dzDZ/seedSEED), e.g. one run's Table 1 and "
        "another's Tables 2-3; a cell found in two of them is an error",
    )
    parser.add_argument("--configfile", nargs="+", default=[], help="config overlays on config/config.yaml")
    parser.add_argument("--out", required=True, help="output prefix: writes PREFIX.csv, PREFIX.md, PREFIX.tex")
    args = parser.parse_args(argv)
    missing = [folder for folder in args.results if not Path(folder).is_dir()]
    if missing:  # before any work: a misspelt folder would read as a run with no cells
        what = "not a folder" if all(Path(folder).exists() for folder in missing) else "no such folder"
        print(
            f"error: --results {', '.join(missing)}: {what} (a results folder holds the cells, "
            "DATASET/MODEL/dzDZ/seedSEED)",
            file=sys.stderr,
        )
        return 2
    config = load_config(DEFAULT_CONFIG, *args.configfile)
    records = merged_record_paths(config, args.results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        print(
            write_scorecard(
                records,
                out.with_suffix(".csv"),
                out.with_suffix(".md"),
                out.with_suffix(".tex"),
                config["tables"]["std_ddof"],
                config,
                ReportRule.from_config(config),
            )
        )
    except (DamagedRecordError, MissingCellError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
