"""What running the targets would cost: the jobs a Snakemake dry run lists, and the GPU-hours
(and K-Means CPU-hours) of its training cells at the measured rates (acai_repro.grid.rates); with
`gpus`, the wall-clock hours until the targets are done on N GPUs (`schedule`). A config whose
device is the CPU is costed at rates measured on a CPU, in CPU-hours.

Each cell is costed for what it still has to train (a resumed cell from its last logged
evaluation). With `resources.train.pack` > 1 the tables' cells train in packs (rules
train_pack_*, one job each): each pack is costed from its measured packed rate where
benchmarks/rates.csv has one, else from its cells' solo rates one after another.
"""

from __future__ import annotations

import heapq
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from acai_repro.cells import Cell, cell_of_path
from acai_repro.config import ROOT, cell_spec, evaluations
from acai_repro.grid.cell_status import last_json_line, started_spec_changes
from acai_repro.grid.rates import (
    CPU_CARD,
    hours_unit,
    is_cpu_card,
    kmeans_seconds,
    load_rates,
    packed_rate,
    train_cores,
    train_rate,
)
from acai_repro.grid_cells import PACK_RULE_PREFIX, TRAIN_RULE, GridError, cell_folder, table_names

# ---- what would run (Snakemake dry run) --------------------------------------------------
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):\s*$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
OUTPUT = re.compile(r"^\s+output: (.*)$")


def dry_run(config: dict, configfiles: list[str], directory: Path, targets: list[str]) -> str:
    files = expand_targets(config, targets)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--dry-run",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(directory),
        "--cores",
        "1",
    ]
    if configfiles:
        command += ["--configfile", *configfiles]
    result = subprocess.run(command + ["--", *files], capture_output=True, text=True)
    if result.returncode != 0:
        raise GridError(f"snakemake --dry-run failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout + result.stderr


def expand_targets(config: dict, targets: list[str]) -> list[str]:
    return [f"{config['results_dir']}/{name}.tex" for name in table_names(config, targets)]


def parse_jobs(output: str) -> list[tuple[str, list[Cell]]]:
    """Each job of a dry run, in its order: its rule and the cells it trains or reads (those of
    its outputs' metrics.json for a training job, else its wildcards' cell; [] for none)."""
    jobs: list[tuple[str, list[Cell]]] = []
    in_job = False  # a job's block ends at the first blank line
    for line in output.splitlines():
        header = JOB_HEADER.match(line)
        if header:
            jobs.append((header.group(1), []))
            in_job = True
            continue
        in_job = in_job and bool(line.strip())
        if not in_job:
            continue
        rule, cells = jobs[-1]
        output_files = OUTPUT.match(line)
        # a pack, or a cell's group of seeds (seed fusion): its cells' metrics.json
        if output_files and (rule.startswith(PACK_RULE_PREFIX) or rule == TRAIN_RULE):
            paths = [p for p in output_files.group(1).split(", ") if p.endswith("metrics.json")]
            cells.extend(Cell(*cell_of_path(p)) for p in paths)
        wildcards = WILDCARDS.match(line)
        if wildcards and rule != TRAIN_RULE:
            w = dict(item.split("=", 1) for item in wildcards.group(1).split(", "))
            if {"dataset", "model", "dz", "seed"} <= w.keys():
                cells.append(Cell(w["dataset"], w["model"], int(w["dz"]), int(w["seed"])))
    return jobs


def parse_dry_run(output: str) -> tuple[Counter, dict[str, list[Cell]]]:
    """Jobs per rule, and the cell of each job that has one (by rule), from a dry run."""
    jobs, cells = Counter(), {}
    for rule, job_cells in parse_jobs(output):
        jobs[rule] += 1
        if job_cells:
            cells.setdefault(rule, []).extend(job_cells)
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
    if started_spec_changes(folder, cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)):
        return total
    last = last_json_line(folder / "evals.jsonl")
    return total - (last["images"] if last else 0)


def training_cost(
    config: dict,
    directory: Path,
    cells: list[Cell],
    card: str,
    rates: list[dict],
    step: str = "eager",
    precision: str = "",
):
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


def cost_report(
    config,
    configfiles,
    directory: Path,
    targets,
    card: str,
    rates=None,
    output=None,
    step="eager",
    precision: str = "",
    gpus: list[int] | None = None,
) -> list[str]:
    """The dry run's jobs and the GPU-hours (CPU-hours for a CPU `card`) of its training at
    measured rates, each rate named with its source (and what stands in where the step or
    precision was not measured); with `gpus`, the wall-clock hours on each number of GPUs."""
    rates = load_rates() if rates is None else rates
    output = dry_run(config, configfiles, directory, targets) if output is None else output
    jobs, cells_by_rule = parse_dry_run(output)
    packs = {rule: cells for rule, cells in cells_by_rule.items() if rule.startswith(PACK_RULE_PREFIX)}
    cells = cells_by_rule.get(TRAIN_RULE, []) + [cell for pack in packs.values() for cell in pack]
    unit = hours_unit(card)
    lines = [
        f"targets: {' '.join(expand_targets(config, targets))}; directory {directory}; card {card}; {step} step"
        + (f", {precision} convolutions" if precision else "")
    ]
    lines += cpu_card_lines(config, card, rates)
    lines.append("jobs that would run (snakemake --dry-run):")
    lines += [f"  {rule:<16} {n:>5}" for rule, n in sorted(jobs.items())]
    lines.append(f"  {'total':<16} {sum(jobs.values()):>5}")
    rows, train_hours = training_cost(config, directory, cells, card, rates, step, precision)
    lines.append(f"training cells that would run: {len(cells)}")
    lines.append(f"  {'dataset':<8} {'dz':>5} {'model':<10} {'cells':>5} {'kimg':>9} {'img/s':>6} {unit[:5]:>7}  rate")
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
        f"{unit} of training steps on {card} ({step}): {train_hours:.1f} "
        f"({extrapolated} of {len(rows)} settings extrapolated, {estimated} estimated from another model, "
        f"{stand_ins} at a stand-in step or precision; "
        "evaluations not included: "
        f"{evaluations(config)} per cell)"
    )
    lines += pack_cost_lines(
        config, directory, packs, card, rates, step, len(cells_by_rule.get(TRAIN_RULE, [])), precision, sources
    )
    lines += kmeans_cost_lines(config, jobs, cells_by_rule.get("kmeans", []), card, rates)
    if gpus:
        costed = device_jobs(config, directory, parse_jobs(output), card, rates, step, precision)
        lines += wall_clock_lines(config, costed, gpus, card, jobs.get("kmeans", 0))
    lines += [f"[{i}] {source}" for i, source in enumerate(sources, 1)]
    return lines


def cpu_card_lines(config: dict, card: str, rates: list[dict]) -> list[str]:
    """What a CPU card's numbers are: CPU-hours at the cores the rates were measured with."""
    if not is_cpu_card(card):
        return []
    cores = ", ".join(map(str, sorted(train_cores(rates, card)))) or "?"
    device = "the config's device is the CPU: " if config.get("device") == "cpu" else ""
    return [
        f"{device}costed at rates measured on a CPU ({card}), in CPU-hours: a training job at the {cores} "
        f"core(s) its rate was measured with (resources.train.threads: {config['resources']['train']['threads']})"
    ]


def pack_hours(
    config,
    directory: Path,
    cells: list[Cell],
    card: str,
    rates: list[dict],
    step: str,
    precision: str,
    sources: list[str],
) -> tuple[float, str]:
    """A pack's hours on one device, from its measured packed rate, else from its cells' solo
    rates one after another (an upper bound); and how it was costed."""
    left = [images_left(config, directory, cell) for cell in cells]
    rate = packed_rate(rates, card, cells[0].dataset, len(cells), step, precision)
    if rate is not None:
        return sum(left) / rate.value / 3600, f"packed rate {rate.value:.0f} img/s, {rate.note(sources)}"
    return cells_hours(config, directory, cells, card, rates, step, precision), "solo rate, packed rate not measured"


def cells_hours(
    config, directory: Path, cells: list[Cell], card: str, rates: list[dict], step: str, precision: str
) -> float:
    """Hours of `cells` trained one after another at their solo rates (a fused group's seeds:
    the step's rate, as training_cost counts them)."""
    return (
        sum(
            images_left(config, directory, c) / train_rate(rates, card, c.dataset, c.dz, c.model, step, precision).value
            for c in cells
        )
        / 3600
    )


def pack_cost_lines(
    config,
    directory: Path,
    packs: dict,
    card: str,
    rates: list[dict],
    step: str,
    singles: int,
    precision: str = "",
    sources: list[str] | None = None,
) -> list[str]:
    """Training jobs: packs (one job each) and single cells; each pack's GPU-hours from its
    measured packed rate, else from its cells' solo rates one after another (an upper bound)."""
    if not packs:
        return []
    sources = [] if sources is None else sources
    unit = hours_unit(card)
    lines = [
        f"training jobs: {len(packs)} packs (rules {PACK_RULE_PREFIX}*, "
        f"{sum(len(c) for c in packs.values())} cells) + {singles} single cells ({TRAIN_RULE})"
    ]
    hours_sum = 0.0
    for rule, cells in sorted(packs.items()):
        hours, how = pack_hours(config, directory, cells, card, rates, step, precision, sources)
        hours_sum += hours
        kimg = sum(images_left(config, directory, cell) for cell in cells) / 1024
        lines.append(f"  {rule:<28} {len(cells):>3} cells {kimg:>9.0f} kimg {hours:>7.2f} {unit[:5]}  {how}")
    lines.append(
        f"{unit} of the packs on {card}: {hours_sum:.1f} (one {'CPU' if is_cpu_card(card) else 'GPU'} job per pack)"
    )
    return lines


def kmeans_cost_lines(config: dict, jobs: Counter, cells: list[Cell], card: str, rates: list[dict]) -> list[str]:
    """K-Means jobs from the measured CPU (and GPU) runs; the other small jobs are not costed."""
    restarts = config["clustering"]["restarts"]
    lines = [f"K-Means jobs: {len(cells)} (cells) + {jobs.get('pixels_kmeans', 0)} (pixels), {restarts} restarts"]
    places = [(CPU_CARD, "CPU-hours")] + ([] if is_cpu_card(card) else [(card, f"GPU-hours on {card}")])
    for where, unit in places:
        per_dz = Counter(cell.dz for cell in cells)
        estimates = {dz: kmeans_seconds(rates, where, dz, restarts) for dz in sorted(per_dz)}
        if not cells or not all(estimates.values()):
            continue
        hours = sum(n * estimates[dz][0] * estimates[dz][1] for dz, n in per_dz.items()) / 3600
        each = "; ".join(f"{per_dz[dz]} x dz{dz} {s:.0f} s x {c} cores" for dz, (s, c, _) in estimates.items())
        lines.append(
            f"  on {where}: {each} -> {hours:.2f} {unit} [measured at 60000 points: {next(iter(estimates.values()))[2]}; linear in restarts]"
        )
    lines.append(
        "  not costed (never measured): export_latents, probe, pixels_kmeans, pixels_probe, prepare_dataset, tables"
    )
    return lines


# ---- wall-clock on N devices -------------------------------------------------------------
@dataclass(frozen=True)
class DeviceJob:
    name: str  # its rule and first cell
    hours: float  # on one device
    after: str | None = None  # the job that must end before it starts (a K-Means job's training)


def device_jobs(
    config, directory: Path, jobs: list[tuple[str, list[Cell]]], card: str, rates: list[dict], step: str, precision: str
) -> list[DeviceJob]:
    """The dry run's jobs that hold a device, costed: every training job (a cell, a fused group
    or a pack) and, where K-Means runs on the device (the config's device is not the CPU) and
    the card's K-Means was measured, each cell's K-Means after the job that trains that cell."""
    costed, trained_by = [], {}
    for rule, cells in jobs:
        if rule == TRAIN_RULE or rule.startswith(PACK_RULE_PREFIX):
            name = f"{rule} {cells[0].name}" + (f" +{len(cells) - 1}" if len(cells) > 1 else "")
            if rule == TRAIN_RULE:
                hours = cells_hours(config, directory, cells, card, rates, step, precision)
            else:
                hours = pack_hours(config, directory, cells, card, rates, step, precision, [])[0]
            costed.append(DeviceJob(name, hours))
            trained_by.update({cell: name for cell in cells})
    on_device = config.get("device") != "cpu" and not is_cpu_card(card)
    restarts = config["clustering"]["restarts"]
    for rule, cells in jobs:
        measured = kmeans_seconds(rates, card, cells[0].dz, restarts) if rule == "kmeans" and cells else None
        if on_device and measured:
            costed.append(DeviceJob(f"kmeans {cells[0].name}", measured[0] / 3600, trained_by.get(cells[0])))
    return costed


def schedule(jobs: list[DeviceJob], devices: int) -> float:
    """Hours until the last of `jobs` ends on `devices` devices, one job per device at a time:
    a job starts once the job it comes after has ended; when a device frees, the longest ready
    job takes it (Snakemake's own order may differ: a bound of the same kind, not its plan)."""
    free = [0.0] * devices  # when each device is next free (a heap)
    ends: dict[str, float] = {}
    pending = list(jobs)
    while pending:
        now = heapq.heappop(free)
        ready = [j for j in pending if j.after is None or ends.get(j.after, float("inf")) <= now]
        if not ready:  # the device idles until the next predecessor ends
            heapq.heappush(free, min(ends[j.after] for j in pending if j.after in ends))
            continue
        job = max(ready, key=lambda j: j.hours)
        pending.remove(job)
        ends[job.name] = now + job.hours
        heapq.heappush(free, ends[job.name])
    return max(ends.values(), default=0.0)


def wall_clock_lines(
    config: dict, jobs: list[DeviceJob], gpus: list[int], card: str, kmeans_jobs: int = 0
) -> list[str]:
    """Hours until the targets are done on each number of GPUs (the costed device jobs; of the
    dry run's `kmeans_jobs`, those whose K-Means was measured on `card`)."""
    if is_cpu_card(card) or config.get("device") == "cpu":
        return [
            f"--gpus: the config's device is {config.get('device')} and the rates are {card}'s: no GPU to "
            "schedule on; the hours above are CPU-hours"
        ]
    total = sum(j.hours for j in jobs)
    kmeans = sum(1 for j in jobs if j.name.startswith("kmeans "))
    unmeasured = (
        f" ({kmeans_jobs - kmeans} more never measured on {card}: not included)" if kmeans_jobs > kmeans else ""
    )
    lines = [
        f"wall-clock until the targets are done on N GPUs ({card} rates above; {len(jobs) - kmeans} training "
        f"jobs and {kmeans} K-Means jobs{unmeasured} on the devices, each on one device, a cell's K-Means after its "
        "training; evaluations, latent export, probes and pixel K-Means not included; "
        f"resources.train.gpu_share {config['resources']['train']['gpu_share']} is costed as one job per "
        "device at a time):"
    ]
    lines.append(f"  {'GPUs':>4} {'hours':>8} {'device-hours':>13} {'busy':>5}")
    for n in gpus:
        hours = schedule(jobs, n)
        busy = total / (n * hours) if hours else 1.0
        lines.append(f"  {n:>4} {hours:>8.2f} {total:>13.2f} {busy:>5.0%}")
    return lines
