"""Rows of benchmarks/rates.csv from a raw output of benchmarks/pack.py, so that the rates
`grid cost` uses are read from a committed raw file, never typed by hand.

Solo rates become kind `train_graphed` (exact path), `train_fast` (fast path) or `train_fused`
(seed fusion: the group of 3's aggregate img/s, so that a cell's images over it is the cell's
share of the group's time and a group's three cells add up to the group's time), one per model at its
Table 1 dz; packed rates become `train_packed` / `train_packed_fast` / `train_packed_fused`,
model `pack<K>` (pack sizes below 18 are lines ACAI cells at dz 64; 18 is Table 1's mix, dz
empty). The precision comes from the raw file's header ("convolutions in float32" or "TF32").

    python benchmarks/rates_from_pack.py benchmarks/results/h200-2026-12-10/pack_fast.txt \\
        --card h200 --note "H200, torch 2.13.0+cu130, commit abc1234, 2026-12-10" --append
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

RATES = Path(__file__).resolve().parent / "rates.csv"
FIELDS = ["card", "kind", "dataset", "dz", "model", "value", "unit", "precision", "cores", "source"]
SECTION = re.compile(r"^\[(exact|fast|fused) path\] (solo|packed)")
# model, dz, img/s and (in outputs that have the column) img/s per seed
SOLO_ROW = re.compile(r"^\s+([a-z][a-z0-9_]*)\s+(\d+)\s+(\d+)(?:\s+(\d+)(?=\s))?")
PACKED_ROW = re.compile(r"^\s+(\d+)\s+(lines ACAI x \d+|Table 1: 6 models x 3 seeds)\s+(\d+)\b")
KINDS = {
    ("exact", "solo"): "train_graphed",
    ("fast", "solo"): "train_fast",
    ("fused", "solo"): "train_fused",
    ("exact", "packed"): "train_packed",
    ("fast", "packed"): "train_packed_fast",
    ("fused", "packed"): "train_packed_fused",
}


def precision_of(text: str) -> str:
    match = re.search(r"convolutions in (float32|TF32)", text)
    if not match:
        raise ValueError("the raw file names no convolution precision (a pack.py output of this version?)")
    return "fp32" if match.group(1) == "float32" else "tf32"


def rate_rows(text: str, card: str, source: str) -> list[dict]:
    """Every solo and packed rate of a pack.py output, as rates.csv rows."""
    precision, rows, section = precision_of(text), [], None
    for line in text.splitlines():
        if match := SECTION.match(line):
            section = match.groups()
            continue
        if section is None:
            continue
        kind = KINDS[section]
        row = dict(
            card=card,
            kind=kind,
            dataset="lines",
            unit="images_per_s",
            precision=precision,
            cores="",
            source=f"{source} ({section[0]} path, {section[1]})",
        )
        if section[1] == "solo" and (match := SOLO_ROW.match(line)):
            model, dz, value, _per_seed = match.groups()
            rows.append(dict(row, dz=dz, model=model, value=value))
        elif section[1] == "packed" and (match := PACKED_ROW.match(line)):
            size, _, value = match.groups()
            rows.append(dict(row, dz="" if size == "18" else "64", model=f"pack{size}", value=value))
    if not rows:
        raise ValueError("no rates found: is this a benchmarks/pack.py output?")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path, help="a committed output of benchmarks/pack.py")
    parser.add_argument("--card", required=True, help="e.g. h100, h200")
    parser.add_argument("--note", required=True, help="card, torch, commit, date: appended to the source")
    parser.add_argument("--append", action="store_true", help=f"append to {RATES} (default: print)")
    args = parser.parse_args(argv)
    try:
        rows = rate_rows(args.raw.read_text(), args.card, f"{args.raw.as_posix()}: {args.note}")
    except (OSError, ValueError) as error:
        print(f"error: {args.raw}: {error}", file=sys.stderr)
        return 2
    with open(RATES, "a", newline="") if args.append else open(sys.stdout.fileno(), "w", closefd=False) as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
