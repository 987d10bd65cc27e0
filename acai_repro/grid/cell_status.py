"""The status of a training cell, read from its result files only (what `grid status` prints).

A cell's metrics.json once it has finished, else its spec.json and the tail of its
evals.jsonl, never its torch state: cheap enough for the 126 cells of the paper's grid. A
cell is waiting, running (kimg done and images/s from its evals.jsonl), finished (with its
values under the tables' rule, `tables.report_rule`), diverged (with the reason), stale (trained
or training under another spec than the config's: all of it is work to do) or damaged (a file that cannot be read as what it
should be, named). A trained cell's model.pt is checked as an archive from its end only
(acai_repro.training.weights_file.check_structure: a cut file is damaged); a reader of the weights
checks every byte, and moves damaged weights aside: such a cell is damaged until retrained.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from acai_repro.cells import Cell
from acai_repro.config import cell_spec
from acai_repro.grid_cells import cell_folder, target_cells
from acai_repro.report_rule import ReportRule, reported_values
from acai_repro.results import SPEC_FILE, DamagedRecordError, read_record, recorded_spec, spec_differences
from acai_repro.training.devices import default_lock_folder, slot_holders
from acai_repro.training.guard import LOCK_FILE
from acai_repro.training.weights_file import DAMAGED_SUFFIX, check_structure
from acai_repro.units import format_duration


@dataclass
class CellStatus:
    cell: Cell
    state: str  # waiting | running | finished | diverged | stale | damaged
    images: int = 0
    total: int = 0
    rate: float | None = None  # images/s
    detail: str = ""
    device: str = ""  # where it ran (metrics.json) or runs (the device slot its trainer holds)


def last_json_line(path: Path, chunk: int = 8192):
    """The last evaluation of an evals.jsonl, reading only its tail (it grows during a run);
    None for an empty file. DamagedRecordError naming the file when its tail holds no
    evaluation: only the last line may be cut (still being written), or the first (cut by
    the chunk boundary)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - chunk))
        lines = [line for line in f.read().splitlines() if line.strip()]
    for line in reversed(lines[-2:] if len(lines) > 2 else lines):
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("images"), int):
            return entry
    if lines:
        raise DamagedRecordError(
            f"{path}: damaged record: its last lines are no evaluation (a JSON object with 'images')"
        )
    return None


def _reported_text(values: dict) -> str:
    return (
        "  ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v!r}" for k, v in values.items())
        or "(no reported values)"
    )


def _age(path: Path, now: float) -> str:
    return f"last update {format_duration(now - path.stat().st_mtime)} ago"


def _read_record(path: Path) -> dict | None:
    return read_record(path) if path.exists() else None


def spec_changes(record: dict | None, expected: dict) -> list[str]:
    """What differs between the spec a record (metrics.json, spec.json) was written under and
    `expected`; [] when it matches, or when there is no record or it records no spec."""
    spec = recorded_spec(record) if record else None
    return spec_differences(spec, expected) if spec else []


def started_spec_changes(folder: Path, expected: dict) -> list[str]:
    """What differs between the spec a started cell's spec.json records and `expected`; []
    when it matches, or when the cell has no spec.json."""
    return spec_changes(_read_record(folder / SPEC_FILE), expected)


def _stale(cell: Cell, total: int, changes: list[str], how: str) -> CellStatus:
    """A cell trained (or training) under another spec: all of it is still to do."""
    return CellStatus(cell, "stale", 0, total, None, f"{how} under another spec: {'; '.join(changes)}")


def _recorded_device(record: dict) -> str:
    """The device slot a finished cell's metrics.json names, else its torch device."""
    provenance = record.get("provenance") if isinstance(record.get("provenance"), dict) else {}
    return str(provenance.get("device_slot") or provenance.get("device") or "")


def _running_device(folder: Path, holders: dict[int, str]) -> str:
    """The device slot held by the live trainer of a cell (its lock file names its PID)."""
    try:
        pid = (folder / LOCK_FILE).read_text().strip()
    except OSError:
        return ""
    return holders.get(int(pid), "") if pid.isdigit() else ""


def cell_status(
    config: dict, directory: Path, cell: Cell, now: float, holders: dict[int, str] | None = None
) -> CellStatus:
    """A cell's state from its files; `damaged`, naming the file and what is wrong, where one
    of them cannot be read as what it should be. `holders`: PID -> device slot held
    (acai_repro.training.devices.slot_holders), which names a running cell's device."""
    try:
        status = _cell_status(config, directory, cell, now)
        folder = cell_folder(directory, config, cell)
        if status.state in ("finished", "diverged"):
            status.device = _recorded_device(read_record(folder / "metrics.json"))
        elif status.state == "running":
            status.device = _running_device(folder, holders or {})
        return status
    except DamagedRecordError as error:
        return CellStatus(cell, "damaged", 0, config["training"]["total_images"], None, str(error))


def _cell_status(config: dict, directory: Path, cell: Cell, now: float) -> CellStatus:
    total = config["training"]["total_images"]
    folder = cell_folder(directory, config, cell)
    expected = cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)
    metrics, evals, state = folder / "metrics.json", folder / "evals.jsonl", folder / "train_state.pt"
    if metrics.exists():
        record = read_record(metrics)
        changes = spec_changes(record, expected)
        if changes:
            return _stale(cell, total, changes, "trained")
        rate = record.get("images_per_s") if isinstance(record.get("images_per_s"), (int, float)) else None
        _check_weights(folder / "model.pt")
        if record.get("status") == "diverged":
            return CellStatus(cell, "diverged", record.get("images", 0), total, rate, record.get("reason") or "")
        if record.get("status") != "ok" or not isinstance(record.get("evals"), list) or not record["evals"]:
            raise DamagedRecordError(
                f"{metrics}: damaged record: no 'status' ok or diverged with its evaluation history ('evals')"
            )
        # the values the tables print: the config's reporting rule read from the history
        values = reported_values(record["evals"], ReportRule.from_config(config))
        return CellStatus(cell, "finished", record.get("images", total), total, rate, _reported_text(values))
    # spec.json alone is no start: rule cell_spec writes it before the training job is queued
    present = [p for p in (evals, state) if p.exists()]
    if not present:
        return CellStatus(cell, "waiting", 0, total)
    changes = started_spec_changes(folder, expected)
    if changes:
        return _stale(cell, total, changes, "started")
    last = last_json_line(evals) if evals.exists() else None  # a run writes the file as it starts
    newest = max(present, key=lambda p: p.stat().st_mtime)
    images = last["images"] if last else 0
    rate = last.get("images_per_s") if last else None
    rate = rate if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None
    return CellStatus(cell, "running", images, total, rate, _age(newest, now))


def _check_weights(weights: Path) -> None:
    """A trained cell's model.pt is not cut short, and was not moved aside as damaged by a
    reader; DamagedRecordError naming it."""
    aside = weights.with_name(weights.name + DAMAGED_SUFFIX)
    if weights.exists():
        check_structure(weights)
    elif aside.exists():
        raise DamagedRecordError(
            f"{weights}: damaged weights, moved to {aside.name}: the next run trains the cell again"
        )


def _kimg(images: int, total: int) -> str:
    digits = 0 if total >= 100 * 1024 else 2  # smoke and quick scales train a few kimg
    return f"{images / 1024:.{digits}f}"


def status_line(s: CellStatus, width: int) -> str:
    progress = f"{_kimg(s.images, s.total)}/{_kimg(s.total, s.total)} kimg" if s.state != "waiting" else ""
    rate = f"{s.rate:.0f} img/s" if s.rate and s.state == "running" else ""
    device = f"  [on {s.device}]" if s.device else ""
    return f"{s.cell.name:<{width}}  {s.state:<8}  {progress:>16}  {rate:>11}  {s.detail}{device}".rstrip()


def total_line(statuses: list[CellStatus]) -> str:
    counts = Counter(s.state for s in statuses)
    done = sum(s.images for s in statuses)
    total = sum(s.total for s in statuses)
    # A diverged cell runs no further: what it did not train is not left to do. A stale one
    # is trained again from the start (its images count 0).
    remaining = sum(s.total - s.images for s in statuses if s.state in ("waiting", "running", "stale"))
    throughput = sum(s.rate or 0 for s in statuses if s.state == "running")
    eta = remaining / throughput if throughput else (0 if not remaining else float("nan"))
    states = ", ".join(f"{counts[k]} {k}" for k in ("finished", "diverged", "stale", "running", "waiting"))
    if counts["damaged"]:  # a record that cannot be read: named on its cell's line
        states += f", {counts['damaged']} damaged"
    share = 100 * done / total if total else 100
    return (
        f"total: {len(statuses)} cells: {states}; {_kimg(done, total)}/{_kimg(total, total)} kimg ({share:.0f}%); "
        f"{throughput:.0f} img/s in running cells; ETA {format_duration(eta)} at that rate"
    )


def grid_status(config: dict, directory: Path, targets: list[str], now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    holders = slot_holders(default_lock_folder(os.environ))
    statuses = [cell_status(config, directory, cell, now, holders) for cell in target_cells(config, targets)]
    width = max((len(s.cell.name) for s in statuses), default=4)
    return [status_line(s, width) for s in statuses] + [total_line(statuses)]
