"""What evaluating costs a cell, read from its records: per cell of one or more result sets, the
evaluations it made, its training seconds (steps only), its wall seconds (evaluations, checkpoints
and, in a pack, the other cells' steps included) and the difference, side by side.

    python benchmarks/evaluation_cost.py docs/quick-table1-results [OTHER_SET ...]

Cells of a set that ran two at a time on two cores share nothing but the machine, so their wall
seconds are each cell's own. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cell_rows(set_dir: Path) -> list[dict]:
    rows = []
    for path in sorted(Path(set_dir).glob("*/*/dz*/seed*/metrics.json")):
        record = json.loads(path.read_text())
        cell = record["cell"]
        train, wall = record.get("train_seconds"), record.get("wall_seconds")
        rows.append(
            {
                "set": Path(set_dir).name,
                "cell": f"{cell['dataset']}/{cell['model']}/dz{cell['dz']}/seed{cell['seed']}",
                "evaluations": len(record.get("evals") or []),
                "train_s": train,
                "wall_s": wall,
                "other_s": wall - train if isinstance(train, (int, float)) and isinstance(wall, (int, float)) else None,
            }
        )
    return rows


def _seconds(value) -> str:
    return f"{value:.0f}" if isinstance(value, (int, float)) else "n/a"


def markdown(rows: list[dict]) -> str:
    lines = [
        "| set | cell | evaluations | training s | wall s | wall − training s (evaluations, checkpoints) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['cell']} | {r['evaluations']} | {_seconds(r['train_s'])} | "
            f"{_seconds(r['wall_s'])} | {_seconds(r['other_s'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", type=Path, help="result sets (folders holding <dataset>/<model>/dz*/seed*/)")
    args = parser.parse_args(argv)
    rows = [row for set_dir in args.sets for row in cell_rows(set_dir)]
    if not rows:
        parser.exit(2, "error: no metrics.json under the sets given\n")
    print(markdown(rows), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
