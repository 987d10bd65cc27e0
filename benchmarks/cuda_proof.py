"""Proof that the CUDA training paths run as they claim, before anything measures them (the GPU
session's stage 0).

For one lines ACAI cell on the exact path, one on the fast path and one fused group of 3 seeds,
each built as training builds it (acai_repro.training.train.build_trainers) with its log collected:
- the capture is asserted, not only attempted: the trainer's stepper is a captured CUDA graph and
  the log has no "not captured" line (cuda_graphs.build_stepper falls back to eager with that line);
- a few replayed steps leave every loss finite;
- the fast path compiled its networks: `acai_repro.training.fastpath.compiled_summary()` after its steps
  (graphs and convolutions compiled) is printed; none compiled is a failure.
One line per path ("proof exact: ok ..." or "proof fast: FAILED: ..."), then "proof: ok" or
"proof: FAILED (paths)". A device without CUDA graphs (the CPU) proves nothing: every path fails.

    python benchmarks/cuda_proof.py --device cuda [--paths exact fast fused] [--steps 3]

Exit status: 0 every path proven, 1 a path failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from acai_repro.config import cell_spec, load_config, table1_cells, with_run_settings
from acai_repro.training import fastpath
from acai_repro.training.train import build_trainers, training_units

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("exact", "fast", "fused")
FALLBACK = "not captured"


def proof_specs(config: dict, path: str, device: str) -> list[dict]:
    """The lines ACAI cell (seed 0) on `path`; on the fused path the group of seeds 0-2. Long
    enough that no evaluation or checkpoint falls inside the proof."""
    seeds = [0, 1, 2] if path == "fused" else [0]
    config = dict(config, seeds=seeds, training=dict(config["training"]))
    config["training"].update(fast_path=path != "exact", seed_fusion=path == "fused")
    dz = dict(table1_cells(config))["acai"]
    specs = []
    for seed in seeds:
        spec = with_run_settings(cell_spec(config, "lines", "acai", dz, seed), config)
        spec["device"] = device
        spec["training"].update(total_images=2**40, eval_every=2**40, checkpoint_minutes=1e9, progress_seconds=1e9)
        specs.append(spec)
    return specs


def unit_problems(trainer, log_lines: list[str], device: str) -> list[str]:
    """What keeps one trained unit (a cell, or a fused group) from being proven."""
    problems = [f"the log says: {line}" for line in log_lines if FALLBACK in line]
    stepper = trainer.stepper
    if stepper is None or not getattr(stepper, "graphed", False):
        where = "a CPU has no CUDA graphs" if device == "cpu" else "the stepper is eager"
        problems.append(f"capture not asserted ({where})")
    for member in trainer.members:
        if member.done:
            problems.append(f"{member.label} ended during the proof")
        elif not bool(torch.isfinite(member.worst).all()):
            problems.append(f"{member.label}: a loss is not finite")
    return problems


def prove(config: dict, path: str, device: str, steps: int, folder: Path) -> list[str]:
    """Build `path`'s unit, step it `steps` times; the problems found (none: proven)."""
    log_lines: list[str] = []
    cells = [(spec, folder / path / f"seed{spec['seed']}") for spec in proof_specs(config, path, device)]
    start = time.perf_counter()
    (trainer,) = build_trainers(training_units(cells), log_lines.append)
    for _ in range(steps):
        trainer.advance()
    if device == "cuda":
        torch.cuda.synchronize()
    problems = unit_problems(trainer, log_lines, device)
    extra = ""
    if path == "fast":
        summary = fastpath.compiled_summary()
        extra = (
            f", compiled graphs: {summary['graphs']} ({summary['convolutions']} convolutions; "
            f"dynamo's unique graphs {summary['dynamo_unique_graphs']})"
        )
        if summary["graphs"] == 0 or summary["convolutions"] == 0:
            problems.append("no convolution was compiled: the fast path ran eagerly")
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(
        f"proof {path}: {verdict} ({len(trainer.members)} cell(s), {steps} steps, "
        f"{time.perf_counter() - start:.1f} s{extra})",
        flush=True,
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--steps", type=int, default=3, help="replayed steps after the capture")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("proof: FAILED (torch sees no CUDA device)", flush=True)
        return 1
    config = load_config(ROOT / "config" / "config.yaml")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.paths:
            try:
                problems = prove(config, path, args.device, args.steps, Path(tmp))
            except Exception as error:  # a path that cannot even be built is a failed proof
                print(f"proof {path}: FAILED: {type(error).__name__}: {error}", flush=True)
                problems = [str(error)]
            if problems:
                failed.append(path)
    print("proof: ok" if not failed else f"proof: FAILED ({', '.join(failed)})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
