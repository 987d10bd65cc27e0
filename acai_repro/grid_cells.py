"""The training cells a grid command's targets name: the tables, each table's cells and where
a cell's files are, from the config the Snakefile reads; and the rules that train them.

The lowest of the grid modules: cell_status, rates, cost and slurm_profile import it, and the
command line (`python -m acai_repro.grid`) imports them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from acai_repro.cells import cell_folders
from acai_repro.config import load_config, table1_cells

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("table1", "table2", "table2_probe", "table3")
TRAIN_RULE = "train_cell"
PACK_RULE_PREFIX = "train_pack_"  # one rule per pack of cells (resources.train.pack > 1)


class GridError(ValueError):
    """Bad input to a grid command (unknown target, card, profile value)."""


@dataclass(frozen=True)
class Cell:
    dataset: str
    model: str
    dz: int
    seed: int

    @property
    def name(self) -> str:
        return cell_folders(self.dataset, self.model, self.dz, self.seed)


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


def table_cells(config: dict, table: str) -> list[Cell]:
    seeds = config["seeds"]
    if table == "table1":
        dataset = config["table1"]["dataset"]
        return [Cell(dataset, m, dz, s) for m, dz in table1_cells(config) for s in seeds]
    grid = config["table3" if table == "table3" else "table2"]
    return [Cell(d, m, int(dz), s) for d, dz in grid["cells"] for m in grid["models"] for s in seeds]


def target_cells(config: dict, targets: list[str]) -> list[Cell]:
    cells = [cell for name in table_names(config, targets) for cell in table_cells(config, name)]
    return list(dict.fromkeys(cells))  # table2 and table2_probe share their cells


def load_grid_config(configfiles: list[str]) -> dict:
    """config/config.yaml overlaid by the given files, as the Snakefile reads them."""
    base = ROOT / "config" / "config.yaml"
    extra = [f for f in configfiles if Path(f).resolve() != base]
    return load_config(base, *extra)
