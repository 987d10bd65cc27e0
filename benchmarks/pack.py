"""Aggregate images/s of packed training (acai_repro.training.train.train_pack's cells, one process),
beside each model's solo rate, on the exact path, the fast path (training.fast_path) and the
fast path with seed fusion (training.seed_fusion), with the FLOPs they reach and a
torch.profiler summary of packed rounds.

Pack sizes 1, 2, 4 and 8 are lines ACAI cells (seeds 0..K-1, the slowest model); 18 is Table
1's six models x seeds 0-2 (each model at its Table 1 dz). Each cell is a `CellTrainer` with
its own captured graph and CUDA stream, exactly as in training; evaluations and checkpoints
are pushed out of the timed window. The timed window is bracketed by device syncs.

Each rate says how its steps ran ("graphed 18/18": every cell's step captured in a CUDA graph;
"eager (cpu)"): the trainers' own log lines about the capture are read, not assumed. On CUDA a
step that was not captured (training fell back to eager) is an ERROR line naming the reason,
in place of the rate: an eager rate is never reported as a graphed one.

On the fused path the seeds of a model are one group (a `FusedGroupTrainer`, one captured
graph and stream for the group): a pack of K ACAI cells is one group of K seeds, the 18-cell
pack six groups of 3, and a model's "solo" rate is its group of 3 seeds (aggregate, and per
seed). A cell-step there is one seed's share of a group step.

FLOPs: one training step of each model counted by `torch.utils.flop_counter` (forward and
backward of every loss; the convolutions and matrix products, which is what the card's FP32
peak counts); TFLOP/s = images/s x FLOP per image, beside the card's FP32 peak (PEAK_TFLOPS).
The profile counts kernels per cell-step and the share of device time in convolution or GEMM
kernels (by kernel name: cuDNN/cuBLAS/CUTLASS math, not their layout conversions).

    python benchmarks/pack.py --device cuda                 # every path (a GPU session)
    python benchmarks/pack.py --device cuda --paths fused --sizes 3 18
    python benchmarks/pack.py --device cuda --paths fast --sizes 1 18
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
from torch.utils.flop_counter import FlopCounterMode

from acai_repro.config import cell_spec, load_config, table1_cells, with_run_settings
from acai_repro.data import build_source
from acai_repro.training.train import CellTrainer, build_trainers, training_units
from acai_repro.training.training_run import build_run, compute_gradients

ROOT = Path(__file__).resolve().parent.parent
QUIET = lambda message: None  # noqa: E731
# Dense FP32 peak (no tensor cores), TFLOP/s, from NVIDIA's data sheets (SXM boards).
PEAK_TFLOPS = {"H100": 67.0, "H200": 67.0, "A100": 19.5}
# Kernel-name fragments of convolution and matrix-product math (cuDNN, cuBLAS, CUTLASS).
MATH_KERNELS = ("gemm", "conv", "fprop", "dgrad", "wgrad", "xmma", "cutlass", "winograd", "fft")
LAYOUT_KERNELS = ("nchwtonhwc", "nhwctonchw", "transpose")


PATHS = ("exact", "fast", "fused")


def cell(
    config: dict, model: str, seed: int, device: str, path: str = "exact", conv_tf32: bool = False, seeds: int = 1
) -> dict:
    """A lines cell at the model's Table 1 dz, with nothing but steps in the timed window; on the
    fused path, one of a group of `seeds` seeds (0..seeds-1)."""
    config = dict(config, seeds=list(range(max(seeds, seed + 1))), training=dict(config["training"]))
    config["training"].update(fast_path=path in ("fast", "fused"), seed_fusion=path == "fused")
    spec = with_run_settings(cell_spec(config, "lines", model, dict(table1_cells(config))[model], seed), config)
    spec["device"] = device
    spec["training"].update(total_images=2**40, eval_every=2**40, checkpoint_minutes=1e9, progress_seconds=1e9)
    spec["training"].update(conv_tf32=conv_tf32)
    return spec


def pack_specs(config: dict, size: int, device: str, path: str = "exact", conv_tf32: bool = False) -> list[dict]:
    """`size` lines ACAI cells, or Table 1's 18 cells (6 models x seeds 0-2) for 18."""
    if size == 18:
        return [
            cell(config, model, seed, device, path, conv_tf32, 3)
            for model, _ in table1_cells(config)
            for seed in (0, 1, 2)
        ]
    return [cell(config, "acai", seed, device, path, conv_tf32, size) for seed in range(size)]


def flops_per_image(spec: dict) -> float:
    """FLOPs of one training step of `spec`'s cell (every forward and backward, eagerly on the
    CPU: the count depends on the shapes, not the device), per image."""
    spec = dict(spec, device="cpu", training=dict(spec["training"], fast_path=False))
    device = torch.device("cpu")
    run, source = build_run(spec, device), build_source(spec, device)
    batch = spec["training"]["batch_size"]
    x, y = source.train_batch(batch, run.data_generator)
    with FlopCounterMode(display=False) as counter:
        compute_gradients(run, x, y)
    return counter.get_total_flops() / batch


def card_peak(device: str) -> float | None:
    if device != "cuda":
        return None
    name = torch.cuda.get_device_name()
    return next((peak for card, peak in PEAK_TFLOPS.items() if card in name), None)


def tflops_text(rate: float, flops: float, peak: float | None) -> str:
    achieved = rate * flops / 1e12
    return f"{achieved:7.2f}" + (f" ({100 * achieved / peak:4.1f}% of {peak:.0f})" if peak else "")


class CaptureLog:
    """The log of a benchmark's trainers: drops their progress lines, keeps what they say about
    the CUDA-graph capture (acai_repro.training.cuda_graphs.build_stepper: "CUDA graph: not captured, ...")."""

    def __init__(self):
        self.not_captured: list[str] = []

    def __call__(self, message: str) -> None:
        if "not captured" in message:
            self.not_captured.append(message)


def build(specs: list[dict], folder: Path) -> tuple[list, CaptureLog]:
    """The trainers of `specs`' cells as training builds them (a fused group: one trainer), and
    their log (whether each step was captured)."""
    log = CaptureLog()
    trainers = build_trainers(training_units([(spec, folder / f"cell{i}") for i, spec in enumerate(specs)]), log)
    return trainers, log


def how_stepped(trainers: list, log: CaptureLog, device: str) -> tuple[bool, str]:
    """(whether the rate is the one asked for, how the steps ran): on CUDA every trainer's step
    must have been captured; elsewhere steps are eager by design."""
    if device != "cuda":
        return True, f"eager ({device})"
    graphed = sum(bool(t.stepper is not None and t.stepper.graphed) for t in trainers)
    if graphed == len(trainers) and not log.not_captured:
        return True, f"graphed {graphed}/{len(trainers)}"
    reasons = "; ".join(log.not_captured) or "no stepper"
    return False, f"ERROR: {len(trainers) - graphed} of {len(trainers)} steps not captured (trained eagerly): {reasons}"


def cells_of(trainers: list) -> list[CellTrainer]:
    return [cell for trainer in trainers for cell in trainer.members]


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
    return rounds * sum(c.batch for c in cells_of(trainers)) / (time.perf_counter() - start)


def measure(config, size, device, warmup, rounds, repeats, folder: Path, path="exact", conv_tf32=False):
    """(median aggregate img/s or None when the steps did not run as asked, how they ran, trainers)."""
    trainers, log = build(pack_specs(config, size, device, path, conv_tf32), folder / f"{path}_pack{size}")
    return timed(trainers, log, device, warmup, rounds, repeats) + (trainers,)


def timed(trainers: list, log: CaptureLog, device: str, warmup: int, rounds: int, repeats: int) -> tuple:
    """(median img/s of `repeats` x `rounds` rounds after `warmup`, how the steps ran); the rate is
    None, unmeasured, when a CUDA step was not captured."""
    ok, how = how_stepped(trainers, log, device)
    if not ok:
        return None, how
    rounds_rate(trainers, warmup, device)
    return statistics.median(rounds_rate(trainers, rounds, device) for _ in range(repeats)), how


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
        events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kernels = sorted((e.time_range.start, e.time_range.end) for e in events)
        busy, end = 0.0, float("-inf")
        for a, b in kernels:
            if b > end:
                busy += b - max(a, end)
                end = b
        total = sum(b - a for a, b in kernels)
        math_time = sum(e.time_range.end - e.time_range.start for e in events if is_math_kernel(e.name))
        cell_steps = rounds * len(cells_of(trainers))
        lines.append(
            f"{len(kernels)} device kernels in {rounds} rounds of {len(cells_of(trainers))} cells: "
            f"{len(kernels) / cell_steps:.0f} kernels per cell-step, {total / max(len(kernels), 1):.1f} us each on average; "
            f"convolution/GEMM kernels {100 * math_time / max(total, 1e-9):.1f}% of kernel time; "
            f"device busy (some kernel running) {100 * busy / window_us:.1f}% of {window_us / 1e3:.1f} ms, "
            f"fully idle {100 - 100 * busy / window_us:.1f}%; kernels overlap {total / max(busy, 1e-9):.1f}-fold"
        )
    return lines


def is_math_kernel(name: str) -> bool:
    """Convolution or matrix-product math, by kernel name. Inductor's kernels are named after
    the ops they fuse ("triton_red_fused_convolution_backward_sum": a bias gradient's sum), so a
    Triton kernel counts only when it is a GEMM/convolution template ("triton_tem_...")."""
    lower = name.lower()
    if lower.startswith("triton_"):
        return lower.startswith("triton_tem")
    return any(k in lower for k in MATH_KERNELS) and not any(k in lower for k in LAYOUT_KERNELS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 18])
    parser.add_argument("--warmup", type=int, default=50, help="untimed rounds after the capture")
    parser.add_argument("--rounds", type=int, default=300, help="timed rounds per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile-rounds", type=int, default=5)
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=PATHS,
        default=["fused", "fast", "exact"],
        help="training paths to measure, in this order (fused: training.seed_fusion; fast: training.fast_path)",
    )
    parser.add_argument("--conv-tf32", action="store_true", help="TF32 convolutions (default float32, the protocol)")
    parser.add_argument("--no-solo", action="store_true", help="skip the per-model solo rates")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU: checks the script runs")
    args = parser.parse_args()
    files = [ROOT / "config" / "config.yaml"]
    if args.smoke:
        files.append(ROOT / "config" / "smoke.yaml")
        args.device, args.sizes, args.warmup, args.rounds, args.repeats, args.profile_rounds = "cpu", [1, 2], 1, 2, 1, 1
    config = load_config(*files)
    print(
        f"device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
        + f", torch {torch.__version__}, batch {config['training']['batch_size']}, {args.rounds} rounds x "
        f"{args.repeats} repeats (median), convolutions in {'TF32' if args.conv_tf32 else 'float32'}"
    )
    flops = {model: flops_per_image(cell(config, model, 0, "cpu")) for model, _ in table1_cells(config)}
    peak = card_peak(args.device)
    print(
        "FLOP per image of one training step: "
        + ", ".join(f"{m} {f / 1e6:.0f} M" for m, f in flops.items())
        + (f"; card FP32 peak {peak:.0f} TFLOP/s" if peak else "")
    )
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.paths:
            measure_path(config, args, path, flops, peak, Path(tmp))


def measure_path(config: dict, args, path: str, flops: dict, peak: float | None, folder: Path) -> None:
    """Solo rates, packed rates and a profile of the last pack, on one training path."""
    if not args.no_solo:
        group = 3 if path == "fused" else 1
        alone = "a group of 3 seeds, per seed beside it" if group > 1 else "a pack of one"
        print(f"\n[{path} path] solo rate of each model ({alone}):")
        print(f"  {'model':<10} {'dz':>4} {'img/s':>9} {'per seed':>9} {'TFLOP/s':>22}  steps")
        for model, dz in table1_cells(config):
            specs = [cell(config, model, seed, args.device, path, args.conv_tf32, group) for seed in range(group)]
            trainers, log = build(specs, folder / f"{path}_solo_{model}")
            rate, how = timed(trainers, log, args.device, args.warmup, args.rounds, args.repeats)
            if rate is None:
                print(f"  {model:<10} {dz:>4} {how}")
            else:
                print(
                    f"  {model:<10} {dz:>4} {rate:>9.0f} {rate / group:>9.0f} {tflops_text(rate, flops[model], peak):>22}  {how}"
                )
            del trainers
    print(f"\n[{path} path] packed (one process, a stream per cell on CUDA):")
    print(f"  {'cells':>5} {'what':<28} {'aggregate img/s':>16} {'per cell':>9} {'TFLOP/s':>22}  steps")
    last = None
    for size in args.sizes:
        rate, how, trainers = measure(
            config, size, args.device, args.warmup, args.rounds, args.repeats, folder, path, args.conv_tf32
        )
        what = "Table 1: 6 models x 3 seeds" if size == 18 else f"lines ACAI x {size}"
        if rate is None:
            print(f"  {size:>5} {what:<28} {how}")
            continue
        mean_flops = statistics.mean(flops[c.spec["model"]] for c in cells_of(trainers))
        print(
            f"  {size:>5} {what:<28} {rate:>16.0f} {rate / size:>9.0f} {tflops_text(rate, mean_flops, peak):>22}  {how}"
        )
        last = trainers
    if last is None:
        print(f"\n[{path} path] no profile: no pack's steps ran as asked")
        return
    print(f"\n[{path} path] profile of {args.profile_rounds} rounds of the {len(cells_of(last))}-cell pack:")
    print("\n".join(profile_round(last, args.device, args.profile_rounds, 15)))


if __name__ == "__main__":
    main()
