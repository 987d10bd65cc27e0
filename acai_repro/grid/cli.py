"""Watch the grid and cost it before running it.

    python -m acai_repro.grid status [--configfile F ...] [--directory D] TARGET ...
    python -m acai_repro.grid cost   [--configfile F ...] [--directory D] [--card h100] [--gpus N ...] TARGET ...
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
of a pack writes its own evals.jsonl). `cost --gpus 1 2 4 8` adds the wall-clock hours until the
targets are done on each number of GPUs: the training jobs and the cells' K-Means on the
devices, each job on one device, scheduled at the same rates. A config whose device is the CPU
is costed at rates measured on a CPU (card cpu2), in CPU-hours, unless --card names a card.
`check` validates a SLURM profile (array cap, runtime).
TARGET is a table under the config's results_dir (results/table1.tex for the paper,
results/quick/table1.tex with --configfile config/quick.yaml; or by its name, e.g. table3,
which resolves under the config's results_dir) or `all` for all four.

This module is the command line only; the work is done by acai_repro.grid_cells (the cells of
a target), acai_repro.grid.cell_status, acai_repro.grid.cost with acai_repro.grid.rates, and
acai_repro.grid.slurm_profile.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from acai_repro.config import ROOT, ConfigError
from acai_repro.grid.cell_status import grid_status
from acai_repro.grid.cost import cost_report
from acai_repro.grid.rates import STEP_KINDS, config_step, default_card, load_rates
from acai_repro.grid.slurm_profile import check_profile, runtime_minutes
from acai_repro.grid_cells import GridError, load_grid_config
from acai_repro.results import DamagedRecordError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m acai_repro.grid", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("status", "cost", "check", "runtime"):
        p = sub.add_parser(name)
        p.add_argument("--configfile", nargs="+", default=[], help="overlays on config/config.yaml")
        p.add_argument("--directory", type=Path, default=Path("."), help="the workflow's working directory")
        p.add_argument(
            "--card",
            default=None,
            help="the rates of which card (benchmarks/rates.csv); default h100, "
            "or cpu2 (measured on a CPU) for a config whose device is the CPU",
        )
        p.add_argument("--profile", type=Path, default=ROOT / "profiles" / "slurm")
        p.add_argument("--margin", type=float, default=1.5)
        p.add_argument(
            "--step",
            choices=("auto", *STEP_KINDS),
            default="auto",
            help="rates of the eager step (measured everywhere), the CUDA graph, the fast path or the "
            "seed-fused fast path (where measured; else the next, named); auto: the config's "
            "(device, seed_fusion, fast_path, cuda_graphs)",
        )
        if name == "cost":
            p.add_argument(
                "--gpus",
                type=int,
                nargs="+",
                default=[],
                metavar="N",
                help="also the wall-clock hours until the targets are done on N GPUs (one or more N)",
            )
        if name in ("status", "cost"):
            p.add_argument("targets", nargs="+")
    return parser


def check_arguments(args) -> None:
    """What the command needs, refused with the value before any work: the working directory
    of status and cost, a finite positive margin, an existing profile for check."""
    if args.command in ("status", "cost") and not args.directory.is_dir():
        raise GridError(
            f"--directory {args.directory}: no such folder (the workflow's working directory, "
            "where the results folder is)"
        )
    if args.command == "runtime" and not (math.isfinite(args.margin) and args.margin > 0):
        raise GridError(
            f"--margin {args.margin}: the margin multiplies the slowest cell's training time; "
            "give a finite number above 0 (1.5: half as long again)"
        )
    if args.command == "cost" and any(n < 1 for n in args.gpus):
        raise GridError(f"--gpus {' '.join(map(str, args.gpus))}: a number of GPUs is 1 or more")
    if args.command == "check" and not (args.profile / "config.yaml").is_file():
        raise GridError(
            f"--profile {args.profile}: no config.yaml there; name a Snakemake profile folder (profiles/slurm)"
        )


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        check_arguments(args)
        config = load_grid_config(args.configfile)
        rates = load_rates()
        card = args.card or (default_card(config) if args.command == "cost" else "h100")
        if args.command == "status":
            lines = grid_status(config, args.directory, args.targets)
        elif args.command == "cost":
            step, precision = config_step(config)
            step = step if args.step == "auto" else args.step
            lines = cost_report(
                config,
                args.configfile,
                args.directory,
                args.targets,
                card,
                rates,
                step=step,
                precision=precision,
                gpus=args.gpus,
            )
        elif args.command == "check":
            lines = check_profile(args.profile, config, card, rates)
        else:
            lines = [str(runtime_minutes(config, card, rates, args.margin))]
    except (GridError, DamagedRecordError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
