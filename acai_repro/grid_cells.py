"""The training cells a grid command's targets name: the tables, each table's cells and where
a cell's files are, from the config the Snakefile reads; and the rules that train them.

The lowest of the grid modules: cell_status, rates, cost and slurm_profile import it, and the
command line (`python -m acai_repro.grid`) imports them all.
"""

from __future__ import annotations

import os
from pathlib import Path

from acai_repro.cells import Cell
from acai_repro.config import DEFAULT_CONFIG, load_config
from acai_repro.table_registry import TABLES as TABLE_REGISTRY

TABLES = tuple(TABLE_REGISTRY)
TRAIN_RULE = "train_cell"
PACK_RULE_PREFIX = "train_pack_"  # one rule per pack of cells (resources.train.pack > 1)


class GridError(ValueError):
    """Bad input to a grid command (unknown target, card, profile value)."""


def cell_folder(directory: Path, config: dict, cell: Cell) -> Path:
    """Where a cell's files are: under the working directory and the config's results_dir."""
    return Path(directory) / config["results_dir"] / cell.name


def table_name(target: str, results_dir: str) -> str:
    """The table a target names: a bare name resolves under `results_dir`; a path must lie there
    (another scale's table is that scale's config's to watch)."""
    path = Path(target)
    name = path.name.split(".")[0]
    if name not in TABLES:
        raise GridError(f"unknown target {target!r}; valid: all, {', '.join(TABLES)} (or {results_dir}/<table>.tex)")
    if len(path.parts) > 1 and os.path.normpath(path.parent) != os.path.normpath(results_dir):
        raise GridError(
            f"target {target!r} is not under this config's results_dir {results_dir!r}: "
            f"give the config of that scale (--configfile), or name the table ({name})"
        )
    return name


def table_names(config: dict, targets: list[str]) -> list[str]:
    return list(TABLES) if "all" in targets else [table_name(t, config["results_dir"]) for t in targets]


def target_cells(config: dict, targets: list[str]) -> list[Cell]:
    cells = [cell for name in table_names(config, targets) for cell in TABLE_REGISTRY[name].cells(config)]
    return list(dict.fromkeys(cells))  # table2 and table2_probe share their cells


def load_grid_config(configfiles: list[str]) -> dict:
    """config/config.yaml overlaid by the given files, as the Snakefile reads them."""
    extra = [f for f in configfiles if Path(f).resolve() != DEFAULT_CONFIG]
    return load_config(DEFAULT_CONFIG, *extra)
