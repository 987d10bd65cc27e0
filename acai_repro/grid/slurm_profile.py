"""Checks of a SLURM profile against the measured rates (`grid check`), and the train_cell
runtime the profile should carry (`grid runtime`).

profiles/slurm/config.yaml gives train_cell a runtime and, in its slurm_extra, the cap on
running array elements (read by profiles/slurm/bin/sbatch). An impossible cap is an error; a
runtime shorter than one evaluation interval of the slowest cell is a warning (such a job would
be stopped before it logs any progress).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from acai_repro.config import read_yaml
from acai_repro.grid.rates import train_rate
from acai_repro.grid_cells import TRAIN_RULE, GridError, target_cells

ARRAY_CAP_OPTION = "--acai-array-cap"


def _train_resources(profile: dict) -> dict:
    resources = dict(profile.get("default-resources") or {})
    resources.update((profile.get("set-resources") or {}).get(TRAIN_RULE) or {})
    return resources


def array_cap(slurm_extra: str) -> int | None:
    """The cap on running array elements named in slurm_extra (see profiles/slurm/bin/sbatch)."""
    match = re.search(rf"{ARRAY_CAP_OPTION}=(\S+)", slurm_extra or "")
    if not match:
        return None
    try:
        cap = int(match.group(1))
    except ValueError:
        cap = 0
    if cap < 1:
        raise GridError(f"{ARRAY_CAP_OPTION}={match.group(1)}: the array cap must be a positive integer")
    return cap


def check_profile(profile_dir: Path, config: dict, card: str, rates: list[dict]) -> list[str]:
    """Errors (GridError) for an impossible array cap; warnings for a runtime too short."""
    profile = read_yaml(profile_dir / "config.yaml")
    resources = _train_resources(profile)
    cap = array_cap(str(resources.get("slurm_extra", "")))
    runtime_s = float(resources.get("runtime", 0)) * 60
    tr = config["training"]
    cells = target_cells(config, ["all"])
    slowest = min((train_rate(rates, card, c.dataset, c.dz, c.model) for c in cells), key=lambda r: r.value)
    interval_s = tr["eval_every"] / slowest.value
    longest_s = tr["total_images"] / slowest.value
    lines = [f"profile {profile_dir}: train_cell runtime {runtime_s / 60:.0f} min, array cap {cap or 'none'}"]
    if runtime_s < interval_s:
        lines.append(
            f"WARNING: train_cell runtime {runtime_s / 60:.1f} min is shorter than one evaluation interval "
            f"({tr['eval_every']} images = {interval_s / 60:.1f} min at {slowest.value:.0f} img/s, the slowest "
            f"rate on {card}): a job would be stopped before it logs any progress"
        )
    elif runtime_s < longest_s:
        lines.append(
            f"note: runtime {runtime_s / 60:.0f} min < {longest_s / 60:.0f} min for the slowest cell on {card}: "
            "cells continue over several jobs (each stop saves the state; retries resubmit)"
        )
    return lines


def runtime_minutes(config: dict, card: str, rates: list[dict], margin: float, round_to: int = 30) -> int:
    """The train_cell runtime of profiles/slurm: the slowest cell's training time x margin,
    rounded up to `round_to` minutes."""
    slowest = min(
        (train_rate(rates, card, c.dataset, c.dz, c.model) for c in target_cells(config, ["all"])),
        key=lambda r: r.value,
    )
    minutes = config["training"]["total_images"] / slowest.value / 60 * margin
    return int(math.ceil(minutes / round_to) * round_to)
