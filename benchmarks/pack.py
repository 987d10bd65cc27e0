"""Aggregate images/s of packed training (acai_repro.train.train_pack's cells, one process),
beside each model's solo rate, and a torch.profiler summary of one packed round.

Pack sizes 1, 2, 4 and 8 are lines ACAI cells (seeds 0..K-1, the slowest model); 18 is Table
1's six models x seeds 0-2 (each model at its Table 1 dz). Each cell is a `CellTrainer` with
its own captured graph and CUDA stream, exactly as in training; evaluations and checkpoints
are pushed out of the timed window. The timed window is bracketed by device syncs.

    python benchmarks/pack.py --device cuda                 # the measurement (a GPU session)
    python benchmarks/pack.py --smoke                       # tiny sizes on the CPU (CI check)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from acai_repro.config import cell_spec, load_config, table1_cells, with_run_settings
from acai_repro.train import CellTrainer

ROOT = Path(__file__).resolve().parent.parent
QUIET = lambda message: None  # noqa: E731


def cell(config: dict, model: str, seed: int, device: str) -> dict:
    """A lines cell at the model's Table 1 dz, with nothing but steps in the timed window."""
    spec = with_run_settings(cell_spec(config, "lines", model, dict(table1_cells(config))[model], seed), config)
    spec["device"] = device
    spec["training"].update(total_images=2**40, eval_every=2**40, checkpoint_minutes=1e9, progress_seconds=1e9)
    return spec


def pack_specs(config: dict, size: int, device: str) -> list[dict]:
    """`size` lines ACAI cells, or Table 1's 18 cells (6 models x seeds 0-2) for 18."""
    if size == 18:
        return [cell(config, model, seed, device) for model, _ in table1_cells(config) for seed in (0, 1, 2)]
    return [cell(config, "acai", seed, device) for seed in range(size)]


def build(specs: list[dict], folder: Path) -> list[CellTrainer]:
    return [CellTrainer(spec, folder / f"cell{i}", QUIET) for i, spec in enumerate(specs)]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def rounds_rate(trainers: list[CellTrainer], rounds: int, device: str) -> float:
    """Aggregate images/s of `rounds` rounds (one step of every cell each)."""
    _sync(device)
    start = time.perf_counter()
    for _ in range(rounds):
        for trainer in trainers:
            trainer.advance()
    _sync(device)
    return rounds * sum(t.batch for t in trainers) / (time.perf_counter() - start)


def measure(config, size: int, device: str, warmup: int, rounds: int, repeats: int, folder: Path) -> tuple[float, list]:
    trainers = build(pack_specs(config, size, device), folder / f"pack{size}")
    rounds_rate(trainers, warmup, device)
    rates = [rounds_rate(trainers, rounds, device) for _ in range(repeats)]
    return statistics.median(rates), trainers


def profile_round(trainers: list[CellTrainer], device: str, rounds: int, top: int) -> list[str]:
    """Top kernels (or CPU ops) of `rounds` packed rounds, and the share of the window in which
    no kernel ran on the device (the union of kernel intervals: an upper bound on SM idleness
    is not available without hardware counters, so this is the floor: the device fully idle)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    _sync(device)
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(rounds):
            for trainer in trainers:
                trainer.advance()
        _sync(device)
        window_us = (time.perf_counter() - start) * 1e6
    sort = "self_cuda_time_total" if device == "cuda" else "self_cpu_time_total"
    lines = [prof.key_averages().table(sort_by=sort, row_limit=top)]
    if device == "cuda":
        kernels = sorted((e.time_range.start, e.time_range.end) for e in prof.events()
                         if e.device_type == torch.autograd.DeviceType.CUDA)  # fmt: skip
        busy, end = 0.0, float("-inf")
        for a, b in kernels:
            if b > end:
                busy += b - max(a, end)
                end = b
        lines.append(f"{len(kernels)} device kernels in {rounds} rounds of {len(trainers)} cells; "
                     f"device busy (some kernel running) {100 * busy / window_us:.1f}% of {window_us / 1e3:.1f} ms, "
                     f"fully idle {100 - 100 * busy / window_us:.1f}%")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 18])
    parser.add_argument("--warmup", type=int, default=50, help="untimed rounds after the capture")
    parser.add_argument("--rounds", type=int, default=300, help="timed rounds per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile-rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks the script runs")
    args = parser.parse_args()
    files = [ROOT / "config" / "config.yaml"]
    if args.smoke:
        files.append(ROOT / "config" / "smoke.yaml")
        args.device, args.sizes, args.warmup, args.rounds, args.repeats, args.profile_rounds = "cpu", [1, 2], 1, 2, 1, 1
    config = load_config(*files)
    print(f"device {args.device}" + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
          + f", torch {torch.__version__}, batch {config['training']['batch_size']}, {args.rounds} rounds x "
          f"{args.repeats} repeats (median)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("\nsolo rate of each model (a pack of one; graphed on CUDA):")
        print(f"  {'model':<10} {'dz':>4} {'img/s':>9}")
        for model, dz in table1_cells(config):
            trainers = build([cell(config, model, 0, args.device)], folder / f"solo_{model}")
            rounds_rate(trainers, args.warmup, args.device)
            rate = statistics.median(rounds_rate(trainers, args.rounds, args.device) for _ in range(args.repeats))
            print(f"  {model:<10} {dz:>4} {rate:>9.0f}")
            del trainers
        print("\npacked (one process, a stream per cell on CUDA):")
        print(f"  {'cells':>5} {'what':<28} {'aggregate img/s':>16} {'per cell':>9}")
        last = None
        for size in args.sizes:
            rate, trainers = measure(config, size, args.device, args.warmup, args.rounds, args.repeats, folder)
            what = "Table 1: 6 models x 3 seeds" if size == 18 else f"lines ACAI x {size}"
            print(f"  {size:>5} {what:<28} {rate:>16.0f} {rate / size:>9.0f}")
            last = trainers
        print(f"\nprofile of {args.profile_rounds} rounds of the {args.sizes[-1]}-cell pack:")
        print("\n".join(profile_round(last, args.device, args.profile_rounds, 15)))


if __name__ == "__main__":
    main()
