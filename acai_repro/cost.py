"""What running the targets would cost: the jobs a Snakemake dry run lists, and the GPU-hours
(and K-Means CPU-hours) of its training cells at the measured rates (acai_repro.rates).

Each cell is costed for what it still has to train (a resumed cell from its last logged
evaluation). With `resources.train.pack` > 1 the tables' cells train in packs (rules
train_pack_*, one job each): each pack is costed from its measured packed rate where
benchmarks/rates.csv has one, else from its cells' solo rates one after another.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from acai_repro.cell_status import last_json_line, started_spec_changes
from acai_repro.config import cell_spec, evaluations
from acai_repro.grid_cells import PACK_RULE_PREFIX, ROOT, TRAIN_RULE, Cell, GridError, cell_folder, table_names
from acai_repro.cells import cell_of_path
from acai_repro.rates import kmeans_seconds, load_rates, packed_rate, train_rate


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
        # a pack, or a cell's group of seeds (seed fusion): its cells' metrics.json
        if output and rule and (rule.startswith(PACK_RULE_PREFIX) or rule == TRAIN_RULE):
            paths = [p for p in output.group(1).split(", ") if p.endswith("metrics.json")]
            cells.setdefault(rule, []).extend(Cell(*cell_of_path(p)) for p in paths)
        wildcards = WILDCARDS.match(line)
        if wildcards and rule and rule != TRAIN_RULE:
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
    if started_spec_changes(folder, cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)):
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
