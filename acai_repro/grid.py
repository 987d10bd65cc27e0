"""Watch the grid and cost it before running it.

    python -m acai_repro.grid status [--configfile F ...] [--directory D] TARGET ...
    python -m acai_repro.grid cost   [--configfile F ...] [--directory D] [--card h100] TARGET ...
    python -m acai_repro.grid check  [--profile profiles/slurm] [--configfile F ...] [--card h100]

`status` prints one line per training cell of the targets (waiting, running with kimg done
and images/s from its evals.jsonl, finished with its reported values, diverged with the
reason, stale: trained or training under another spec than the config's, with what differs)
and a total with an ETA. It reads only result files: a cell's metrics.json once it has
finished, else its spec.json and the tail of its evals.jsonl (never its torch state), so it
stays cheap for the 126 cells of the paper's grid. A stale cell is work to do, never finished.

`cost` asks Snakemake for a dry run of the targets (the jobs per rule that would run, and
which cells train) and turns the training cells into GPU-hours with the measured rates of
benchmarks/rates.csv (each rate's source is printed; an unmeasured setting borrows a measured
one and is marked "extrapolated"; a model never measured borrows the rates of the model its
class names in `rate_like`, marked "ESTIMATE"). With `resources.train.pack` > 1 the tables' cells
train in packs (rules train_pack_*, one job each): `cost` counts those jobs and costs each pack
from its measured packed rate where benchmarks/rates.csv has one (kind train_packed, model
pack<K>), else from its cells' solo rates. `status` lists a packed cell like any other (each cell
of a pack writes its own evals.jsonl). `check` validates a SLURM profile (array cap, runtime).
TARGET is a table under the config's results_dir (results/table1.tex for the paper,
results/quick/table1.tex with --configfile config/quick.yaml; or by its name, e.g. table3,
which resolves under the config's results_dir) or `all` for all four.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path


from acai_repro.config import ConfigError, cell_spec, evaluations, load_config, read_yaml, table1_cells
from acai_repro.models import MODELS
from acai_repro.cells import cell_of_path
from acai_repro.results import SPEC_FILE, DamagedRecordError, read_record, recorded_spec, spec_differences

ROOT = Path(__file__).resolve().parent.parent
RATES = ROOT / "benchmarks" / "rates.csv"
TABLES = ("table1", "table2", "table2_probe", "table3")
TRAIN_RULE = "train_cell"
PACK_RULE_PREFIX = "train_pack_"  # one rule per pack of cells (resources.train.pack > 1)
ARRAY_CAP_OPTION = "--acai-array-cap"


class GridError(ValueError):
    """Bad input to a grid command (unknown target, card, profile value)."""


# ---- cells of a target -----------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    dataset: str
    model: str
    dz: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.model}/dz{self.dz}/seed{self.seed}"


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


# ---- status of a cell from its files ---------------------------------------------------
@dataclass
class CellStatus:
    cell: Cell
    state: str  # waiting | running | finished | diverged | stale | damaged
    images: int = 0
    total: int = 0
    rate: float | None = None  # images/s
    detail: str = ""


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
        raise DamagedRecordError(f"{path}: damaged record: its last lines are no evaluation (a JSON object with 'images')")
    return None


def _reported(values: dict) -> str:
    return "  ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v!r}" for k, v in values.items()) or "(no reported values)"


def _age(path: Path, now: float) -> str:
    return f"last update {_duration(now - path.stat().st_mtime)} ago"


def _read_record(path: Path) -> dict | None:
    return read_record(path) if path.exists() else None


def spec_changes(record: dict | None, expected: dict) -> list[str]:
    """What differs between the spec a record (metrics.json, spec.json) was written under and
    `expected`; [] when it matches, or when there is no record or it records no spec."""
    spec = recorded_spec(record) if record else None
    return spec_differences(spec, expected) if spec else []


def _stale(cell: Cell, total: int, changes: list[str], how: str) -> CellStatus:
    """A cell trained (or training) under another spec: all of it is still to do."""
    return CellStatus(cell, "stale", 0, total, None, f"{how} under another spec: {'; '.join(changes)}")


def cell_status(config: dict, directory: Path, cell: Cell, now: float) -> CellStatus:
    """A cell's state from its files; `damaged`, naming the file and what is wrong, where one
    of them cannot be read as what it should be."""
    try:
        return _cell_status(config, directory, cell, now)
    except DamagedRecordError as error:
        return CellStatus(cell, "damaged", 0, config["training"]["total_images"], None, str(error))


def _cell_status(config: dict, directory: Path, cell: Cell, now: float) -> CellStatus:
    total = config["training"]["total_images"]
    folder = cell_folder(directory, config, cell)
    expected = cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)
    metrics, evals, state = folder / "metrics.json", folder / "evals.jsonl", folder / "train_state.pt"
    started = folder / SPEC_FILE
    if metrics.exists():
        record = read_record(metrics)
        changes = spec_changes(record, expected)
        if changes:
            return _stale(cell, total, changes, "trained")
        rate = record.get("images_per_s") if isinstance(record.get("images_per_s"), (int, float)) else None
        if record.get("status") == "diverged":
            return CellStatus(cell, "diverged", record.get("images", 0), total, rate, record.get("reason") or "")
        if record.get("status") != "ok" or not isinstance(record.get("reported"), dict):
            raise DamagedRecordError(f"{metrics}: damaged record: no 'status' ok or diverged with its 'reported' values")
        return CellStatus(cell, "finished", record.get("images", total), total, rate, _reported(record["reported"]))
    # spec.json alone is no start: rule cell_spec writes it before the training job is queued
    present = [p for p in (evals, state) if p.exists()]
    if not present:
        return CellStatus(cell, "waiting", 0, total)
    changes = spec_changes(_read_record(started), expected)
    if changes:
        return _stale(cell, total, changes, "started")
    last = last_json_line(evals) if evals.exists() else None  # a run writes the file as it starts
    newest = max(present, key=lambda p: p.stat().st_mtime)
    images = last["images"] if last else 0
    rate = last.get("images_per_s") if last else None
    rate = rate if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None
    return CellStatus(cell, "running", images, total, rate, _age(newest, now))


def _duration(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _kimg(images: int, total: int) -> str:
    digits = 0 if total >= 100 * 1024 else 2  # smoke and quick scales train a few kimg
    return f"{images / 1024:.{digits}f}"


def status_line(s: CellStatus, width: int) -> str:
    progress = f"{_kimg(s.images, s.total)}/{_kimg(s.total, s.total)} kimg" if s.state != "waiting" else ""
    rate = f"{s.rate:.0f} img/s" if s.rate and s.state == "running" else ""
    return f"{s.cell.name:<{width}}  {s.state:<8}  {progress:>16}  {rate:>11}  {s.detail}".rstrip()


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
        f"{throughput:.0f} img/s in running cells; ETA {_duration(eta)} at that rate"
    )


def grid_status(config: dict, directory: Path, targets: list[str], now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    statuses = [cell_status(config, directory, cell, now) for cell in target_cells(config, targets)]
    width = max((len(s.cell.name) for s in statuses), default=4)
    return [status_line(s, width) for s in statuses] + [total_line(statuses)]


# ---- rates -------------------------------------------------------------------------------
# --step -> the kinds of benchmarks/rates.csv that measure it, the asked one first; a step not
# measured for a setting is costed at the next kind, and the estimate says so.
STEP_KINDS = {
    "fast": ("train_fast", "train_graphed", "train"),
    "graphed": ("train_graphed", "train"),
    "eager": ("train",),
}
KIND_STEPS = {"train_fast": "fast-path", "train_graphed": "graphed", "train": "eager"}


@dataclass(frozen=True)
class Rate:
    value: float
    source: str
    extrapolated_from: str | None = None
    estimate_for: str | None = None  # a model never measured, costed at the rate of ...
    estimated_like: str | None = None  # ... the model its class names in `rate_like`
    kind: str = "train"  # the measurement used (rates.csv kind) ...
    asked: str = "train"  # ... and the one the step needs
    precision: str = ""  # the convolution precision of the measurement (tf32 / fp32)
    asked_precision: str = ""

    def note(self, sources: list[str]) -> str:
        """'measured <step> [n]', 'EXTRAPOLATED ...', 'ESTIMATE ...', and what stands in for what
        was asked, n indexing `sources` (appended when new)."""
        if self.source not in sources:
            sources.append(self.source)
        ref = f"[{sources.index(self.source) + 1}]"
        what = " ".join(filter(None, [KIND_STEPS.get(self.kind, self.kind), self.precision]))
        note = f"EXTRAPOLATED: not measured; the {what} rate of {self.extrapolated_from} {ref}" if self.extrapolated_from else f"measured {what} {ref}"
        if self.kind != self.asked:
            note += f"; STAND-IN: {KIND_STEPS.get(self.asked, self.asked)} step not measured here"
        if self.asked_precision and self.precision and self.precision != self.asked_precision:
            note += f"; STAND-IN: {self.asked_precision} convolutions not measured here"
        if self.estimate_for:
            return f"ESTIMATE: {self.estimate_for} never measured; costed as {self.estimated_like}, {note}"
        return note


def load_rates(path: Path = RATES) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def config_step(config: dict) -> tuple[str, str]:
    """(step, precision) a config trains with on a GPU: the fast path, the captured graph or
    eager steps; TF32 or float32 convolutions."""
    training = config["training"]
    if config.get("device") == "cpu":
        step = "eager"
    elif training.get("fast_path"):
        step = "fast"
    else:
        step = "eager" if training.get("cuda_graphs") in ("off", False) else "graphed"
    return step, "tf32" if training.get("conv_tf32") else "fp32"


def _measured(rows: list[dict], precision: str) -> dict | None:
    """The row of the asked precision, else any (marked by the caller)."""
    return next((r for r in rows if r.get("precision") == precision), rows[0] if rows else None)


def train_rate(rates: list[dict], card: str, dataset: str, dz: int, model: str, step: str = "eager", precision: str = "") -> Rate:
    """Measured images/s of a training step (`step`: eager, graphed or fast, where measured,
    else the next of STEP_KINDS, named); else the nearest measured eager setting, marked."""
    asked = STEP_KINDS[step][0]
    for kind in STEP_KINDS[step]:
        rows = [r for r in rates if r["card"] == card and r["kind"] == kind and r["model"] == model
                and r["dataset"] == dataset and int(r["dz"]) == dz]  # fmt: skip
        row = _measured(rows, precision)
        if row is not None:
            return Rate(float(row["value"]), row["source"], kind=kind, asked=asked,
                        precision=row.get("precision", ""), asked_precision=precision)  # fmt: skip
    measured = [[r for r in rates if r["card"] == card and r["kind"] == kind and r["model"] == model] for kind in STEP_KINDS[step]]
    stand_in = getattr(MODELS.get(model), "rate_like", None)
    if not any(measured) and stand_in and stand_in != model:
        rate = train_rate(rates, card, dataset, dz, stand_in, step, precision)
        return replace(rate, estimate_for=model, estimated_like=stand_in)
    if not any(measured):
        cards = sorted({r["card"] for r in rates if r["kind"] == "train"})
        raise GridError(f"no measured training rate for model {model!r} on card {card!r}; cards: {', '.join(cards)}")

    # The asked step's nearest setting: same dataset first, then the image dataset measured
    # (never the synthetic lines for images), then the nearest dz.
    def distance(r):
        other_kind = (r["dataset"] == "lines") != (dataset == "lines")
        return (r["dataset"] != dataset, other_kind, abs(math.log2(int(r["dz"]) / dz)))

    nearest = min(next(rows for rows in measured if rows), key=distance)
    return Rate(float(nearest["value"]), nearest["source"], f"{nearest['dataset']} dz{nearest['dz']} {model}",
                kind=nearest["kind"], asked=asked, precision=nearest.get("precision", ""), asked_precision=precision)  # fmt: skip


def kmeans_seconds(rates: list[dict], card: str, dz: int, restarts: int) -> tuple[float, int, str] | None:
    """(seconds, cores, source) of one K-Means job, linear in restarts from the measured 1,000."""
    rows = [r for r in rates if r["card"] == card and r["kind"] == "kmeans" and int(r["dz"]) == dz]
    if not rows:
        return None
    row = rows[0]
    return float(row["value"]) * restarts / 1000, int(row["cores"] or 1), row["source"]  # GPU: 1 device


# ---- what would run (Snakemake dry run) --------------------------------------------------
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):\s*$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
OUTPUT = re.compile(r"^\s+output: (.*)$")


def dry_run(config: dict, configfiles: list[str], directory: Path, targets: list[str]) -> str:
    files = expand_targets(config, targets)
    command = [sys.executable, "-m", "snakemake", "--dry-run", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(directory), "--cores", "1"]  # fmt: skip
    if configfiles:
        command += ["--configfile", *configfiles]
    result = subprocess.run(command + ["--", *files], capture_output=True, text=True)
    if result.returncode != 0:
        raise GridError(f"snakemake --dry-run failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout + result.stderr


def expand_targets(config: dict, targets: list[str]) -> list[str]:
    return [f"{config['results_dir']}/{name}.tex" for name in table_names(config, targets)]


def parse_dry_run(output: str) -> tuple[Counter, dict[str, list[Cell]]]:
    """Jobs per rule, and the cell of each job that has one (by rule), from a dry run."""
    jobs, cells, rule = Counter(), {}, None
    for line in output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            rule = header.group(1)
            jobs[rule] += 1
            continue
        output = OUTPUT.match(line)
        if output and rule and rule.startswith(PACK_RULE_PREFIX):  # a pack: its cells' metrics.json
            paths = [p for p in output.group(1).split(", ") if p.endswith("metrics.json")]
            cells[rule] = [Cell(*cell_of_path(p)) for p in paths]
        wildcards = WILDCARDS.match(line)
        if wildcards and rule:
            w = dict(item.split("=", 1) for item in wildcards.group(1).split(", "))
            if {"dataset", "model", "dz", "seed"} <= w.keys():
                cells.setdefault(rule, []).append(Cell(w["dataset"], w["model"], int(w["dz"]), int(w["seed"])))
        if not line.strip():
            rule = None
    return jobs, cells


# ---- cost --------------------------------------------------------------------------------
def images_left(config: dict, directory: Path, cell: Cell) -> int:
    """What a cell still has to train: a resumed cell starts at its last logged evaluation
    or later (its state file can be ahead of the log; counting from the log is safe); one
    started under another spec starts again from nothing (its state is not resumed)."""
    total = config["training"]["total_images"]
    folder = cell_folder(directory, config, cell)
    if not (folder / "train_state.pt").exists() or not (folder / "evals.jsonl").exists():
        return total
    if spec_changes(_read_record(folder / SPEC_FILE), cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)):
        return total
    last = last_json_line(folder / "evals.jsonl")
    return total - (last["images"] if last else 0)


def training_cost(config: dict, directory: Path, cells: list[Cell], card: str, rates: list[dict], step: str = "eager", precision: str = ""):
    """Rows (dataset, dz, model, cells, images, rate, hours) and total GPU-hours."""
    groups: dict = {}
    for cell in cells:
        key = (cell.dataset, cell.dz, cell.model)
        groups.setdefault(key, []).append(images_left(config, directory, cell))
    rows = []
    for (dataset, dz, model), left in sorted(groups.items()):
        rate = train_rate(rates, card, dataset, dz, model, step, precision)
        rows.append((dataset, dz, model, len(left), sum(left), rate, sum(left) / rate.value / 3600))
    return rows, sum(r[-1] for r in rows)


def cost_report(config, configfiles, directory: Path, targets, card: str, rates=None, output=None, step="eager",
                precision: str = "") -> list[str]:  # fmt: skip
    """The dry run's jobs and the GPU-hours of its training at measured rates, each rate named
    with its source (and what stands in where the step or precision was not measured)."""
    rates = load_rates() if rates is None else rates
    output = dry_run(config, configfiles, directory, targets) if output is None else output
    jobs, cells_by_rule = parse_dry_run(output)
    packs = {rule: cells for rule, cells in cells_by_rule.items() if rule.startswith(PACK_RULE_PREFIX)}
    cells = cells_by_rule.get(TRAIN_RULE, []) + [cell for pack in packs.values() for cell in pack]
    lines = [f"targets: {' '.join(expand_targets(config, targets))}; directory {directory}; card {card}; {step} step"
             + (f", {precision} convolutions" if precision else "")]  # fmt: skip
    lines.append("jobs that would run (snakemake --dry-run):")
    lines += [f"  {rule:<16} {n:>5}" for rule, n in sorted(jobs.items())]
    lines.append(f"  {'total':<16} {sum(jobs.values()):>5}")
    rows, gpu_hours = training_cost(config, directory, cells, card, rates, step, precision)
    lines.append(f"training cells that would run: {len(cells)}")
    lines.append(f"  {'dataset':<8} {'dz':>5} {'model':<10} {'cells':>5} {'kimg':>9} {'img/s':>6} {'GPU-h':>7}  rate")
    sources: list[str] = []
    for dataset, dz, model, n, images, rate, hours in rows:
        lines.append(
            f"  {dataset:<8} {dz:>5} {model:<10} {n:>5} {images / 1024:>9.0f} {rate.value:>6.0f} {hours:>7.2f}  "
            + rate.note(sources)
        )
    extrapolated = sum(1 for r in rows if r[5].extrapolated_from)
    estimated = sum(1 for r in rows if r[5].estimate_for)
    stand_ins = sum(1 for r in rows if r[5].kind != r[5].asked or (precision and r[5].precision not in ("", precision)))
    lines.append(
        f"GPU-hours of training steps on {card} ({step}): {gpu_hours:.1f} "
        f"({extrapolated} of {len(rows)} settings extrapolated, {estimated} estimated from another model, "
        f"{stand_ins} at a stand-in step or precision; "
        "evaluations not included: "
        f"{evaluations(config['training'])} per cell)"
    )
    lines += pack_cost_lines(config, directory, packs, card, rates, step, len(cells_by_rule.get(TRAIN_RULE, [])), precision, sources)
    lines += kmeans_cost_lines(config, jobs, cells_by_rule.get("kmeans", []), card, rates)
    lines += [f"[{i}] {source}" for i, source in enumerate(sources, 1)]
    return lines


def packed_rate(rates: list[dict], card: str, dataset: str, size: int, step: str = "graphed", precision: str = "") -> Rate | None:
    """Measured aggregate images/s of a pack of `size` cells on `dataset` (rows of kind
    train_packed, or train_packed_fast on the fast path; model "pack<size>"), or None where
    never measured. The fast path falls back to the exact path's packed rate, named."""
    kinds = ("train_packed_fast", "train_packed") if step == "fast" else ("train_packed",)
    for kind in kinds:
        rows = [r for r in rates if r["card"] == card and r["kind"] == kind
                and r["dataset"] == dataset and r["model"] == f"pack{size}"]  # fmt: skip
        row = _measured(rows, precision)
        if row is not None:
            return Rate(float(row["value"]), row["source"], kind=kind, asked=kinds[0],
                        precision=row.get("precision", ""), asked_precision=precision)  # fmt: skip
    return None


def pack_cost_lines(config, directory: Path, packs: dict, card: str, rates: list[dict], step: str, singles: int,
                    precision: str = "", sources: list[str] | None = None) -> list[str]:  # fmt: skip
    """Training jobs: packs (one job each) and single cells; each pack's GPU-hours from its
    measured packed rate, else from its cells' solo rates one after another (an upper bound)."""
    if not packs:
        return []
    sources = [] if sources is None else sources
    lines = [f"training jobs: {len(packs)} packs (rules {PACK_RULE_PREFIX}*, "
             f"{sum(len(c) for c in packs.values())} cells) + {singles} single cells ({TRAIN_RULE})"]  # fmt: skip
    hours_sum = 0.0
    for rule, cells in sorted(packs.items()):
        left = [images_left(config, directory, cell) for cell in cells]
        rate = packed_rate(rates, card, cells[0].dataset, len(cells), step, precision)
        if rate is not None:
            hours, how = sum(left) / rate.value / 3600, f"packed rate {rate.value:.0f} img/s, {rate.note(sources)}"
        else:
            solo = [train_rate(rates, card, c.dataset, c.dz, c.model, step, precision).value for c in cells]
            hours, how = sum(n / r for n, r in zip(left, solo)) / 3600, "solo rate, packed rate not measured"
        hours_sum += hours
        lines.append(f"  {rule:<28} {len(cells):>3} cells {sum(left) / 1024:>9.0f} kimg {hours:>7.2f} GPU-h  {how}")
    lines.append(f"GPU-hours of the packs on {card}: {hours_sum:.1f} (one GPU job per pack)")
    return lines


def kmeans_cost_lines(config: dict, jobs: Counter, cells: list[Cell], card: str, rates: list[dict]) -> list[str]:
    """K-Means jobs from the measured CPU (and GPU) runs; the other small jobs are not costed."""
    restarts = config["clustering"]["restarts"]
    lines = [f"K-Means jobs: {len(cells)} (cells) + {jobs.get('pixels_kmeans', 0)} (pixels), {restarts} restarts"]
    for where, unit in (("cpu2", "CPU-hours"), (card, f"GPU-hours on {card}")):
        per_dz = Counter(cell.dz for cell in cells)
        estimates = {dz: kmeans_seconds(rates, where, dz, restarts) for dz in sorted(per_dz)}
        if not cells or not all(estimates.values()):
            continue
        hours = sum(n * estimates[dz][0] * estimates[dz][1] for dz, n in per_dz.items()) / 3600
        each = "; ".join(f"{per_dz[dz]} x dz{dz} {s:.0f} s x {c} cores" for dz, (s, c, _) in estimates.items())
        lines.append(f"  on {where}: {each} -> {hours:.2f} {unit} [measured at 60000 points: {next(iter(estimates.values()))[2]}; linear in restarts]")
    lines.append("  not costed (never measured): export_latents, probe, pixels_kmeans, pixels_probe, prepare_dataset, tables")
    return lines


# ---- SLURM profile checks ----------------------------------------------------------------
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


# ---- command line ------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m acai_repro.grid", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("status", "cost", "check", "runtime"):
        p = sub.add_parser(name)
        p.add_argument("--configfile", nargs="+", default=[], help="overlays on config/config.yaml")
        p.add_argument("--directory", type=Path, default=Path("."), help="the workflow's working directory")
        p.add_argument("--card", default="h100", help="the rates of which card (benchmarks/rates.csv)")
        p.add_argument("--profile", type=Path, default=ROOT / "profiles" / "slurm")
        p.add_argument("--margin", type=float, default=1.5)
        p.add_argument("--step", choices=("auto", *STEP_KINDS), default="auto",
                       help="rates of the eager step (measured everywhere), the CUDA graph or the fast path "
                            "(where measured; else the next, named); auto: the config's (device, fast_path, cuda_graphs)")  # fmt: skip
        if name in ("status", "cost"):
            p.add_argument("targets", nargs="+")
    return parser


def check_arguments(args) -> None:
    """What the command needs, refused with the value before any work: the working directory
    of status and cost, a finite positive margin, an existing profile for check."""
    if args.command in ("status", "cost") and not args.directory.is_dir():
        raise GridError(f"--directory {args.directory}: no such folder (the workflow's working directory, "
                        "where the results folder is)")  # fmt: skip
    if args.command == "runtime" and not (math.isfinite(args.margin) and args.margin > 0):
        raise GridError(f"--margin {args.margin}: the margin multiplies the slowest cell's training time; "
                        "give a finite number above 0 (1.5: half as long again)")  # fmt: skip
    if args.command == "check" and not (args.profile / "config.yaml").is_file():
        raise GridError(f"--profile {args.profile}: no config.yaml there; name a Snakemake profile folder "
                        "(profiles/slurm)")  # fmt: skip


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_arguments(args)
        config = load_grid_config(args.configfile)
        rates = load_rates()
        if args.command == "status":
            lines = grid_status(config, args.directory, args.targets)
        elif args.command == "cost":
            step, precision = config_step(config)
            step = step if args.step == "auto" else args.step
            lines = cost_report(config, args.configfile, args.directory, args.targets, args.card, rates, step=step, precision=precision)
        elif args.command == "check":
            lines = check_profile(args.profile, config, args.card, rates)
        else:
            lines = [str(runtime_minutes(config, args.card, rates, args.margin))]
    except (GridError, DamagedRecordError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
