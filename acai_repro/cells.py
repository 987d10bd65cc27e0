"""A training cell's identity and its folder, spelled once for the rules and the modules.

A cell is (dataset, model, dz, seed); its outputs live in
`<results root>/<dataset>/<model>/dz<dz>/seed<seed>/`. `CELL_FOLDERS` is that folder below the
root, written as a Snakemake wildcard pattern (the rules use it as is); the functions below
fill it in and read it back.
"""

from __future__ import annotations

import re
from typing import NamedTuple

CELL_FOLDERS = "{dataset}/{model}/dz{dz}/seed{seed}"
_FOLDERS_IN_PATH = r"/(?P<dataset>[^/]+)/(?P<model>[^/]+)/dz(?P<dz>\d+)/seed(?P<seed>\d+)(?:/|$)"


class Cell(NamedTuple):
    """A training cell: a tuple (dataset, model, dz, seed) that also names its fields."""

    dataset: str
    model: str
    dz: int
    seed: int

    @property
    def name(self) -> str:
        """Its folder below the results root, e.g. lines/acai/dz64/seed0 (also its name in logs)."""
        return cell_folders(*self)


def cell_folders(dataset: str, model: str, dz: int, seed: int) -> str:
    """A cell's folder below the results root, e.g. lines/acai/dz64/seed0 (also its name in logs)."""
    return CELL_FOLDERS.format(dataset=dataset, model=model, dz=dz, seed=seed)


def group_folders(dataset: str, model: str, dz, seeds) -> str:
    """The name of a fused group of seeds (training.seed_fusion) in logs and log paths: its cells'
    folder with the seeds joined, e.g. lines/acai/dz64/seed0-1-2."""
    return cell_folders(dataset, model, dz, "-".join(str(seed) for seed in seeds))


def cell_directory(cell: Cell, root: str = "results") -> str:
    """A cell's folder under the results root `root`."""
    return f"{root}/{cell_folders(*cell)}"


def _cell_of(match: re.Match) -> Cell:
    return Cell(match["dataset"], match["model"], int(match["dz"]), int(match["seed"]))


def cell_under(root: str, path: str) -> Cell | None:
    """The cell whose directory under the results root `root` holds `path` (a file or the
    directory: <root>/<dataset>/<model>/dz<dz>/seed<seed>[/...]), else None."""
    pattern = re.compile(r"(?:^|/)" + re.escape(root.strip("/")) + _FOLDERS_IN_PATH)
    match = pattern.search(path.replace("\\", "/"))
    return _cell_of(match) if match else None


def cell_of_path(path: str) -> Cell:
    """The cell of a file in a cell's directory, whatever the results root
    (`<root>/<dataset>/<model>/dz<dz>/seed<seed>/<file>`: the last folders name it)."""
    return _cell_of(list(re.finditer(_FOLDERS_IN_PATH, "/" + path.replace("\\", "/")))[-1])
