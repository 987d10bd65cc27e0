"""The GPU session's science check, and which path it runs on.

`compare`: a Table 1 trained on another path (fast, fast-fused) set against the committed exact
records at the same scale and seeds (docs/gpu-quick-results/table1.csv), one line per model.
A metric agrees when the two means differ by no more than the seeds' spread, the combined std
sqrt(std_new^2 + std_exact^2) (each side's std over its seeds, as the tables print it); a model
agrees when both metrics do. A metric undefined on both sides (every evaluation collapsed, the
tables' `undefined`) agrees; undefined, diverged or missing on one side only differs; a side
without a std (one seed) cannot say and differs ("no spread").

`path`: the fastest path that passed the session's proof, by the 18-cell pack's aggregate
img/s in benchmarks/pack.py's outputs; a path whose output has no such rate (a failed capture,
a timeout) is not chosen; with no rate at all, the first allowed path in the order fused, fast,
exact.

    python benchmarks/science_check.py compare NEW_TABLE1_CSV [EXACT_TABLE1_CSV]
    python benchmarks/science_check.py path --allowed fused fast exact --pack fused=F1 fast=F2 exact=F3

Exit status of `compare`: 0 every model agrees, 1 some model differs, 2 a table missing or
unreadable.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXACT_RECORDS = ROOT / "docs" / "gpu-quick-results" / "table1.csv"
METRICS = ("mean_distance", "smoothness")
PATH_ORDER = ("fused", "fast", "exact")


def read_table(path: Path) -> dict[tuple[str, str], dict]:
    """A table1.csv as {(model, metric): row}."""
    with open(path, newline="") as handle:
        return {(row["model"], row["metric"]): row for row in csv.DictReader(handle)}


def _number(text: str | None) -> float:
    return float(text) if text not in (None, "") else math.nan


def metric_verdict(new: dict | None, exact: dict | None) -> tuple[bool, str]:
    """Whether one metric of one model agrees, and the words that say why."""
    if new is None or exact is None:
        return False, "missing on the " + ("new" if new is None else "exact") + " side"
    if new["status"] != "ok" or exact["status"] != "ok":
        same = new["status"] == exact["status"] == "undefined"
        return same, f"{new['status']} vs {exact['status']}"
    m_new, s_new = _number(new["mean"]), _number(new["std"])
    m_ex, s_ex = _number(exact["mean"]), _number(exact["std"])
    spread = math.sqrt(s_new**2 + s_ex**2)
    gap = abs(m_new - m_ex)
    text = f"{m_new:.4g}±{s_new:.2g} vs {m_ex:.4g}±{s_ex:.2g}, |diff| {gap:.3g}"
    if math.isnan(spread):
        return False, text + ", no spread"
    return gap <= spread, text + (" <= " if gap <= spread else " > ") + f"spread {spread:.3g}"


def compare(new: dict, exact: dict) -> list[tuple[str, bool, str]]:
    """(model, agrees on both metrics, line) for every model of the exact table, in its order."""
    models = list(dict.fromkeys(model for model, _ in exact))
    rows = []
    for model in models:
        verdicts = [
            (metric, *metric_verdict(new.get((model, metric)), exact.get((model, metric)))) for metric in METRICS
        ]
        agrees = all(ok for _, ok, _ in verdicts)
        words = "within the seeds' spread on both metrics" if agrees else "OUTSIDE the seeds' spread"
        detail = "; ".join(f"{metric}: {text}" for metric, _, text in verdicts)
        rows.append((model, agrees, f"{model}: {words} ({detail})"))
    return rows


_SECTION = re.compile(r"^\[(\w+) path\] packed")
_PACK18 = re.compile(r"^\s*18\s+Table 1\b.*?\s(\d+(?:\.\d+)?)\s+\d+(?:\.\d+)?\s")


def pack18_rate(text: str, path: str) -> float | None:
    """The 18-cell pack's aggregate img/s of `path` in a pack.py output, or None."""
    section = None
    for line in text.splitlines():
        heading = _SECTION.match(line)
        if heading or line.startswith("["):
            section = heading.group(1) if heading else None
            continue
        found = _PACK18.match(line) if section == path else None
        if found:
            return float(found.group(1))
    return None


def fastest_path(allowed: list[str], outputs: dict[str, str]) -> tuple[str, str]:
    """(path, why): the allowed path with the highest 18-cell rate in `outputs`."""
    rates = {path: pack18_rate(outputs.get(path, ""), path) for path in allowed}
    measured = {path: rate for path, rate in rates.items() if rate is not None}
    if measured:
        best = max(measured, key=measured.get)
        listed = ", ".join(f"{p} {r:.0f}" for p, r in measured.items())
        return best, f"fastest 18-cell pack among the proven paths (img/s: {listed})"
    first = next(path for path in PATH_ORDER if path in allowed)
    return first, "no 18-cell rate measured: the first proven path in the order fused, fast, exact"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cmp = commands.add_parser("compare")
    cmp.add_argument("new", type=Path)
    cmp.add_argument("exact", type=Path, nargs="?", default=EXACT_RECORDS)
    which = commands.add_parser("path")
    which.add_argument("--allowed", nargs="+", choices=PATH_ORDER, required=True)
    which.add_argument("--pack", nargs="*", default=[], help="PATH=FILE: pack.py outputs")
    args = parser.parse_args(argv)
    if args.command == "path":
        outputs = {}
        for item in args.pack:
            path, _, file = item.partition("=")
            outputs[path] = Path(file).read_text(errors="replace") if Path(file).is_file() else ""
        path, why = fastest_path(args.allowed, outputs)
        print(path)
        print(why, file=sys.stderr)
        return 0
    try:
        new, exact = read_table(args.new), read_table(args.exact)
    except (OSError, KeyError, csv.Error) as error:
        print(f"science check: cannot read the tables: {error}", file=sys.stderr)
        return 2
    print(
        f"science check: {args.new} against the exact records {args.exact} "
        "(agree: |mean difference| <= sqrt(std_new^2 + std_exact^2) on both metrics)"
    )
    rows = compare(new, exact)
    for _, _, line in rows:
        print(line)
    return 0 if all(ok for _, ok, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
