"""Which training cells share one process (`resources.train.pack`), from the config alone.

Packs are formed deterministically from the configuration, never from which files exist: a
SLURM job re-reads the Snakefile and must find the very pack rule that the head process
submitted. The cells of Table 1, then of Tables 2 and 3, in the tables' order, are chunked
`pack` at a time; a pack never mixes tables or datasets, a cell belongs to one pack at most
(Tables 2 and 3 share cells), and a chunk of one cell is left to the one-cell rule.

Under seed fusion (training.seed_fusion) the unit is a cell's group of seeds, trained as one:
a pack holds whole groups (`pack` cells rounded down to whole groups, at least one), and a
chunk of one group is left to the one-cell rule, which then trains the group.
"""

from __future__ import annotations

import re

from acai_repro.cells import Cell, cell_under
from acai_repro.table_registry import PAPER_TABLES, paper_cells


def tables_cells(config: dict) -> list[tuple[str, Cell]]:
    """(table, cell) of every training cell of Tables 1, 2 and 3, in the tables' order."""
    return [(table, cell) for table in PAPER_TABLES for cell in paper_cells(config, table)]


def training_packs(config: dict) -> dict[str, list[Cell]]:
    """Rule name -> the cells of that pack (empty when `resources.train.pack` is 1)."""
    size = config["resources"]["train"]["pack"]
    if size <= 1:
        return {}
    unit = len(config["seeds"]) if config["training"]["seed_fusion"] else 1
    size = max(unit, size // unit * unit)
    groups: dict[tuple[str, str], list[Cell]] = {}
    seen: set[Cell] = set()
    for table, cell in tables_cells(config):
        if cell not in seen:
            seen.add(cell)
            groups.setdefault((table, cell[0]), []).append(cell)
    packs = {}
    for (table, dataset), cells in groups.items():
        safe = re.sub(r"\W", "_", dataset)  # a rule name is a Python identifier
        for start in range(0, len(cells), size):
            chunk = cells[start : start + size]
            if len(chunk) > unit:
                packs[f"train_pack_{table}_{safe}_{start // size}"] = chunk
    return packs


def targeted_cell(target: str, root: str = "results") -> Cell | None:
    """The cell whose directory under the results root `root` holds `target` (a file or the
    directory), else None."""
    return cell_under(root, target)


def dissolve_targeted(packs: dict[str, list[Cell]], targets, root: str = "results") -> dict[str, list[Cell]]:
    """`packs` without those holding a cell named by a target: asking for one cell trains
    that cell alone (its pack mates then train alone too, when something asks for them)."""
    asked = {targeted_cell(str(t), root) for t in targets} - {None}
    return {name: cells for name, cells in packs.items() if not asked & set(cells)}
