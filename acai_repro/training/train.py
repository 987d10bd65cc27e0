"""Training of cells (dataset × model × dz × seed) with exact resume, one or several at once.

Layout of a cell directory:
- `metrics.json`, `model.pt`: the declared outputs, written atomically when the cell ends.
- `train_state.pt`: the full training state (weights, every optimiser, the VQ-VAE's EMA
  codebook, generator states, step, evaluation history), rewritten atomically every
  `checkpoint_minutes`. It is not a declared output, so Snakemake leaves it in place when a
  job dies; the rerun continues from it. A cell that ends writes its final state (with its
  status) before its outputs and keeps it until every cell of its pack has ended: Snakemake
  deletes all outputs of a failed multi-output job, and the rerun re-finishes such a cell
  from that state at no cost. The state files go once the whole pack is done.
- `evals.jsonl`: one line per evaluation, appended as training goes (watch it with tail).
- `.trainer.lock`: held (flock) by the live trainer of the cell; a second trainer refuses at
  once, and a trainer whose Snakemake died saves its state and stops (acai_repro.training.guard).

`train_pack` trains several cells in one process, step by step: each cell (`CellTrainer`)
keeps its own run, data source, stepper, evaluation schedule, checkpoint and divergence
check, so each ends bit-identical to the same cell trained alone (`train_cell` is a pack of
one). On CUDA each cell runs on its own stream, so the kernels of different cells overlap;
the host reads a cell's values back only at its divergence checks, evaluations and progress
lines, and then waits for that cell's stream alone (a CUDA event), never for the device.

On CUDA the whole step is a captured CUDA graph (`training.cuda_graphs`, acai_repro.training.cuda_graphs):
then the divergence check runs at evaluations only, so nothing is read back between
evaluations but progress lines.

Under seed fusion (`training.seed_fusion`, acai_repro.training.fusion) the seeds of a cell are one unit,
a `FusedGroupTrainer`: one stacked step for the group, then each seed's `CellTrainer` does that
step's bookkeeping on its slice (its own state file, evaluations, outputs, divergence check).

Solo, fused and packed training share one interface, `Trainer` (a typing.Protocol: `advance`,
`done`, `members`); a pack is a `PackTrainer` over the trainers of its units.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch

from acai_repro.cells import cell_folders, group_folders
from acai_repro.config import spec_digest
from acai_repro.data import build_source
from acai_repro.files import write_atomically, write_json
from acai_repro.metrics.lines import line_metrics
from acai_repro.report_rule import ReportRule, reported_values
from acai_repro.results import write_started_spec
from acai_repro.training import fastpath
from acai_repro.training.checkpoints import provenance
from acai_repro.training.cuda_graphs import build_stepper, resolve_cuda_graphs
from acai_repro.training.fusion import FusedGroup
from acai_repro.training.guard import CellLock, ParentWatch
from acai_repro.training.signals import TrainingInterrupted, stop_requests
from acai_repro.training.training_run import Run, build_run, make_generator, one_step, resolve_device
from acai_repro.units import format_duration

STATE_FILE = "train_state.pt"
EVALS_FILE = "evals.jsonl"


@torch.no_grad()
@fastpath.eager()
def evaluate(run: Run, source, index: int) -> dict:
    """Classifier accuracy and reconstruction on a fresh test set; lines metrics on lines.
    Compiled networks (the fast path) evaluate eagerly: evaluation batches have other sizes."""
    model, spec = run.model, run.spec
    model.eval()
    x, y = source.test_set(index)
    generator = make_generator(run.device, 7919 * spec["seed"] + index)
    correct, squared_error = 0, 0.0
    for xb, yb in zip(x.split(1024), y.split(1024)):
        correct += (run.classifier(model.features(xb)).argmax(1) == yb).sum()
        squared_error += (model.decode(model.encode(xb, generator)) - xb).square().sum()
    result = {
        "classifier_accuracy": float(correct) / len(x),
        "test_recon_mse": float(squared_error) / x.numel(),
    }
    if source.line_metrics:
        ev = spec["evaluation"]
        pairs = ev["interpolation_pairs"]
        images = model.interpolate(x[:pairs], x[pairs : 2 * pairs], ev["interpolation_points"], generator)
        # On a GPU the nearest-reference search runs there (dense float64 product).
        result.update(line_metrics(images if images.is_cuda else images.cpu().numpy(), ev["references"]))
    model.train()
    return result


class WriteFailedError(OSError):
    """An output or checkpoint that could not be written (a full disk, a quota): named, with
    what the system said; the file it would have replaced is left as it was."""


@contextlib.contextmanager
def _write_failure_named(path: Path):
    """An OSError while writing `path` raised as WriteFailedError naming it, with what the
    system said (the atomic write has already removed its temporary file)."""
    try:
        yield
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise WriteFailedError(
            error.errno,
            f"{path}: cannot write it: {reason}; free space there and rerun (a cell resumes from its last checkpoint)",
        ) from None


def _write_cell_file(path: Path, write) -> None:
    """`write(temporary)` then rename over `path` (files.write_atomically): a reader sees the
    old file or the new one, never part of one; on failure WriteFailedError names `path`."""
    with _write_failure_named(path):
        write_atomically(path, write)


def _write_cell_json(path: Path, data) -> None:
    """A cell's JSON record (files.write_json); a failure named as by _write_cell_file."""
    with _write_failure_named(path):
        write_json(path, data)


def _torch_save(obj, path: Path) -> None:
    """torch.save into memory, then the bytes to `path` with Python's own write: a full disk
    is OSError ENOSPC ("No space left on device"), where torch writing the file itself says
    "basic_ios::clear: iostream error" or "unexpected pos"."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with open(path, "wb") as f:
        f.write(buffer.getbuffer())


class Progress:
    """A status line at least every `seconds`: kimg, losses, images/s, ETA."""

    def __init__(self, label: str, seconds: float, total_images: int, log):
        self.label, self.seconds, self.total, self.log = label, seconds, total_images, log
        self.last = time.monotonic()

    def due(self, now: float) -> bool:
        return now - self.last >= self.seconds

    def show(self, images: int, losses: dict, rate: float) -> None:
        self.last = time.monotonic()
        parts = " ".join(f"{k} {float(v.detach()):.4g}" for k, v in losses.items())
        eta = (self.total - images) / rate if rate > 0 else float("nan")
        self.log(
            f"[{self.label}] {images / 1024:.1f}/{self.total / 1024:.0f} kimg  {parts}  "
            f"{rate:.0f} img/s  ETA {format_duration(eta)}"
        )


class SegmentTimer:
    """Seconds of a cell's training since `restart`. On CUDA the host queues replays far
    ahead of the device, so the host clock would time the queueing: there the segment runs
    between two CUDA events on the cell's stream, and reading it waits for that stream only."""

    def __init__(self, stream):
        self.stream = stream
        self.restart()

    def restart(self) -> None:
        if self.stream is None:
            self.start = time.monotonic()
        else:
            self.start = torch.cuda.Event(enable_timing=True)
            self.start.record(self.stream)

    def seconds(self) -> float:
        if self.stream is None:
            return time.monotonic() - self.start
        end = torch.cuda.Event(enable_timing=True)
        end.record(self.stream)
        end.synchronize()
        return self.start.elapsed_time(end) / 1000


def on_stream(stream) -> contextlib.AbstractContextManager:
    """Run on `stream` (a CUDA stream; None on the CPU: as is)."""
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def _load_state(run: Run, outdir: Path, log) -> dict | None:
    """Resume `run` from the cell's state file if it was written for this configuration;
    returns the end record ({status, reason}) of a cell that had already ended, else None."""
    path = outdir / STATE_FILE
    if not path.exists():
        return None
    state = torch.load(path, map_location=run.device, weights_only=False)
    if state.get("digest") != spec_digest(run.spec):
        log(f"ignoring {path}: it was written for another configuration of this cell")
        return None
    run.load(state)
    log(f"resumed from {path} at step {run.step} ({run.step * run.spec['training']['batch_size']} images)")
    return state.get("ended")


def _rewrite_evals(outdir: Path, evals: list) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in evals)
    _write_cell_file(outdir / EVALS_FILE, lambda p: p.write_text(lines))


class Trainer(Protocol):
    """What trains: a unit of cells that `train_pack` steps until it is done. Solo training is a
    `CellTrainer` (one cell), fused training a `FusedGroupTrainer` (a cell's seeds as one stacked
    model), packed training a `PackTrainer` (several of either, one step of each in turn).

    `advance()` trains one step of every cell not yet ended and does its bookkeeping (divergence
    check, evaluation, checkpoint, progress; a cell that ends writes its outputs); `done` is set
    once every cell has ended; `members` are the cells, each a CellTrainer holding its run, state
    file and metrics record (saved on a stop, finished when the pack ends)."""

    done: bool

    @property
    def members(self) -> list[CellTrainer]: ...

    def advance(self) -> None: ...


class CellTrainer:
    """One cell of a pack: its run, data source, stepper (a captured graph on CUDA), CUDA
    stream, evaluation schedule, divergence check, checkpoints and progress lines.

    `advance()` trains one step and does that step's bookkeeping; once the cell has ended
    (trained out or diverged) `done` is set and its outputs are written. `finish()` removes
    the state file and returns the metrics record.
    """

    def __init__(self, spec: dict, outdir, log, group_stream=None):
        """`group_stream`: the cell is a seed of a fused group (FusedGroupTrainer), which steps it
        on that stream and checkpoints it; the cell builds no stepper of its own."""
        self.spec, self.outdir, self.log = spec, Path(outdir), log
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(spec["device"])
        tr = self.tr = spec["training"]
        self.batch = tr["batch_size"]
        self.total_steps, self.eval_steps = tr["total_images"] // self.batch, tr["eval_every"] // self.batch
        # the reporting rule's evaluations (acai_repro.report_rule), beside the regular ones
        self.rule = ReportRule.from_setting(spec.get("report_rule"))
        self.report_steps = self.rule.report_steps(self.total_steps)
        self.label = cell_folders(spec["dataset"], spec["model"], spec["dz"], spec["seed"])
        self.in_group = group_stream is not None
        own_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" and not self.in_group else None
        self.stream = group_stream if self.in_group else own_stream
        self.done, self.metrics, self.stepper, self.graphed = False, None, None, False
        # a fused seed's Run is refreshed from the group's stacked state before it is read
        self.pull: Callable[[], None] = lambda: None
        with self.on_stream():
            self.run = build_run(spec, self.device)
            self.source = build_source(spec, self.device)
            ended = _load_state(self.run, self.outdir, log)
            _rewrite_evals(self.outdir, self.run.evals)
            if ended is not None or self.run.step >= self.total_steps:
                ended = ended or {"status": "ok", "reason": None}
                self._write_outputs(ended["status"], ended["reason"])
                return
            log(
                f"[{self.label}] device {self.device}, {self.total_steps} steps of {self.batch}, from step {self.run.step}"
            )
            self.worst = torch.zeros((), device=self.device)
            if not self.in_group:
                graphs = resolve_cuda_graphs(tr.get("cuda_graphs", "auto"), self.device)
                step = lambda: one_step(self.run, self.source, self.batch, self.worst)  # noqa: E731
                self.stepper = build_stepper(self.run, step, [self.worst], graphs, log)
                self.graphed = self.stepper.graphed
            self.progress = Progress(self.label, tr["progress_seconds"], tr["total_images"], log)
            self.timer = SegmentTimer(self.stream)
        self.segment_steps = 0
        self.last_checkpoint = self.wall_mark = time.monotonic()

    def on_stream(self):
        """Everything of this cell (build, capture, steps, evaluations) runs on its stream."""
        return on_stream(self.stream)

    @property
    def members(self) -> list[CellTrainer]:
        """The cells this trainer trains (itself; a fused group's seeds)."""
        return [self]

    def advance(self) -> None:
        """One training step and its bookkeeping (check, evaluation, checkpoint, progress)."""
        with self.on_stream():
            self.after_step(self.stepper())
            if time.monotonic() - self.last_checkpoint >= self.tr["checkpoint_minutes"] * 60:
                self.save_state()

    def after_step(self, losses: dict) -> None:
        """The bookkeeping of the step just taken: divergence check, evaluation, progress, end."""
        run = self.run
        run.step += 1
        self.segment_steps += 1
        at_eval = run.step % self.eval_steps == 0 or run.step == self.total_steps or run.step in self.report_steps
        # Graphed: no read-back between evaluations, so a divergence shows at the next one.
        if at_eval or (not self.graphed and run.step % self.tr["check_every"] == 0):
            reason = self._divergence()
            if reason:
                self.log(f"[{self.label}] diverged: {reason}")
                self._end("diverged", reason)
                return
        if at_eval:
            self._evaluate(losses)
        elif self.progress.due(time.monotonic()):
            self.progress.show(run.step * self.batch, losses, self._segment_rate())
        if run.step >= self.total_steps:
            self._end("ok", None)

    def _divergence(self) -> str | None:
        bad = float(self.worst)  # a read-back on this cell's stream: waits for it alone
        bound = self.tr["divergence_bound"]
        if math.isfinite(bad) and bad <= bound:
            return None
        return f"|loss| reached {bad:.3g} (bound {bound:.3g}) by step {self.run.step}"

    def _segment_rate(self) -> float:
        return self.segment_steps * self.batch / max(self.timer.seconds(), 1e-9)

    def _close_segment(self) -> float:
        """Images/s of the training since the last close (evaluations excluded)."""
        seconds = self.timer.seconds()
        rate = self.segment_steps * self.batch / max(seconds, 1e-9)
        self.run.train_seconds += seconds
        self.segment_steps = 0
        return rate

    def _evaluate(self, losses: dict) -> None:
        run = self.run
        rate = self._close_segment()
        record = {"step": run.step, "images": run.step * self.batch, "kimg": run.step * self.batch / 1024}
        record.update({f"loss_{k}": float(v.detach()) for k, v in losses.items()})
        record["images_per_s"] = rate
        self.pull()
        record.update(evaluate(run, self.source, len(run.evals)))
        run.evals.append(record)
        with open(self.outdir / EVALS_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.progress.show(run.step * self.batch, losses, rate)
        self.timer.restart()

    def _tick_wall(self) -> None:
        now = time.monotonic()
        self.run.wall_seconds += now - self.wall_mark
        self.wall_mark = now

    def save_state(self, ended: dict | None = None) -> Path:
        """Write the full training state now (the segment so far counts as trained)."""
        with self.on_stream():
            self._close_segment()
            self._tick_wall()
            self.pull()
            state = self.run.state()
            if ended is not None:
                state["ended"] = ended
            path = self.outdir / STATE_FILE
            _write_cell_file(path, lambda p: _torch_save(state, p))
            self.timer.restart()
        self.last_checkpoint = time.monotonic()
        return path

    def _end(self, status: str, reason: str | None) -> None:
        """The cell has ended: its final state first (kept until the pack ends), then outputs."""
        self.save_state({"status": status, "reason": reason})
        self._write_outputs(status, reason)
        self.stepper = None  # frees the captured graph's memory for the cells still training

    def _write_outputs(self, status: str, reason) -> None:
        run, spec, tr = self.run, self.spec, self.tr
        weights = {"spec": spec, "model": run.model.state_dict(), "classifier": run.classifier.state_dict()}
        _write_cell_file(self.outdir / "model.pt", lambda p: _torch_save(weights, p))
        images = run.step * tr["batch_size"]
        self.metrics = {
            "status": status,
            "reason": reason,
            "cell": {k: spec[k] for k in ("dataset", "model", "dz", "seed")},
            "reported": reported_values(run.evals, self.rule) if status == "ok" else {},
            "report_rule": self.rule.record_text(run.evals) if status == "ok" and run.evals else None,
            "path": fastpath.path_name(spec),
            "steps": run.step,
            "images": images,
            "train_seconds": run.train_seconds,
            "images_per_s": images / max(run.train_seconds, 1e-9),
            # Evaluations, checkpoints and (in a pack) the other cells' steps included.
            "wall_seconds": run.wall_seconds,
            "wall_images_per_s": images / run.wall_seconds if run.wall_seconds > 0 else None,
            "provenance": provenance(self.device),
            "spec": spec,
            "spec_digest": spec_digest(spec),
            "evals": run.evals,
        }
        _write_cell_json(self.outdir / "metrics.json", self.metrics)
        self.done = True

    def finish(self) -> dict:
        (self.outdir / STATE_FILE).unlink(missing_ok=True)
        return self.metrics


class FusedGroupTrainer:
    """The seeds of one cell trained as one stacked model (training.seed_fusion,
    acai_repro.training.fusion): one step of the whole group (a captured graph on CUDA), then each seed's
    own bookkeeping (CellTrainer.after_step) on its slice of the losses. The group checkpoints
    every seed at the same step, so that a rerun resumes them in step; a seed that ends early
    (diverged) writes its outputs and leaves its slice computing, unread, until the group ends.
    """

    def __init__(self, cells: list[tuple[dict, Path]], log):
        spec = cells[0][0]
        self.log, self.tr = log, spec["training"]
        self.device = resolve_device(spec["device"])
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self.label = group_folders(spec["dataset"], spec["model"], spec["dz"], spec["fused_seeds"])
        self.stepper = None
        self.cells = cells
        self.members = self._members()
        live = [m for m in self.members if not m.done]
        if len({m.run.step for m in live}) > 1:
            log(
                f"[{self.label}] its seeds' checkpoints are at different steps "
                f"({', '.join(f'{m.label}: {m.run.step}' for m in live)}; a stop came between their "
                "writes): the group trains again from the start"
            )
            for member in self.members:
                (member.outdir / STATE_FILE).unlink(missing_ok=True)
            self.members = self._members()
            live = self.members
        self.done = not live
        if self.done:
            return
        with on_stream(self.stream):
            self.group = FusedGroup(
                [m.run for m in self.members], [m.source for m in self.members], spec["training"]["batch_size"]
            )
            self.group.push(counts_from=self.members.index(live[0]))
            graphs = resolve_cuda_graphs(self.tr.get("cuda_graphs", "auto"), self.device)
            self.stepper = build_stepper(self.group, self.group.step, [self.group.worst], graphs, log)
        for index, member in enumerate(self.members):
            member.worst = self.group.worst[index]
            member.graphed = self.stepper.graphed
            if not member.done:
                member.pull = functools.partial(self.group.pull, index)
        log(f"[{self.label}] seeds {', '.join(str(m.spec['seed']) for m in self.members)} fused into one stacked model")
        self.last_checkpoint = time.monotonic()

    def _members(self) -> list[CellTrainer]:
        # One after another: build_run seeds the global generator before each initialisation.
        return [CellTrainer(spec, outdir, self.log, group_stream=self.stream) for spec, outdir in self.cells]

    def advance(self) -> None:
        """One step of every seed, each seed's bookkeeping, and the group's checkpoint when due."""
        with on_stream(self.stream):
            losses = self.stepper()
        for index, member in enumerate(self.members):
            if not member.done:
                with member.on_stream():
                    member.after_step({name: value[index] for name, value in losses.items()})
        if time.monotonic() - self.last_checkpoint >= self.tr["checkpoint_minutes"] * 60:
            for member in self.members:
                if not member.done:
                    member.save_state()
            self.last_checkpoint = time.monotonic()
        self.done = all(m.done for m in self.members)
        if self.done:
            self.stepper = None  # frees the captured graph's memory for the cells still training


def training_units(cells: list[tuple[dict, Path]]) -> list[list[tuple[dict, Path]]]:
    """The cells in the units they train in: a cell alone, or a fused group's seeds (in the
    group's order), each unit where its first cell is in `cells`. A fused group must be whole."""
    units, groups = [], {}
    for spec, outdir in cells:
        if not fastpath.is_fused(spec):
            units.append([(spec, outdir)])
            continue
        key = (spec["dataset"], spec["model"], spec["dz"], tuple(spec["fused_seeds"]))
        if key not in groups:
            groups[key] = []
            units.append(groups[key])
        groups[key].append((spec, outdir))
    for (dataset, model, dz, seeds), unit in groups.items():
        have = sorted(spec["seed"] for spec, _ in unit)
        if have != sorted(seeds):
            raise ValueError(
                f"train_pack: seed fusion trains the seeds {list(seeds)} of {dataset}/{model}/dz{dz} as one group; "
                f"this job holds seeds {have} (the group is the unit of training: ask for all its seeds)"
            )
        unit.sort(key=lambda cell: seeds.index(cell[0]["seed"]))
    return units


class PackTrainer:
    """Several trainers in one process (resources.train.pack): one step of each in turn, the
    trainers that have ended left out of the next rounds."""

    def __init__(self, trainers: list[Trainer]):
        self.trainers = trainers
        self.active = [t for t in trainers if not t.done]
        self.done = not self.active

    @property
    def members(self) -> list[CellTrainer]:
        return [m for t in self.trainers for m in t.members]

    def advance(self) -> None:
        """One round: a step of every trainer still training."""
        for trainer in self.active:
            trainer.advance()
        self.active = [t for t in self.active if not t.done]
        self.done = not self.active


def build_trainers(units: list[list[tuple[dict, Path]]], log) -> list[Trainer]:
    """A trainer per unit of `training_units`: a FusedGroupTrainer for a fused group, else a
    CellTrainer. One after another: build_run seeds the global generator before each
    initialisation."""
    return [
        FusedGroupTrainer(unit, log) if fastpath.is_fused(unit[0][0]) else CellTrainer(*unit[0], log) for unit in units
    ]


def train_cell(spec: dict, outdir, log=print) -> dict:
    """Train (or resume) one cell and write its outputs; returns the metrics record.

    SIGTERM, SIGUSR1 or SIGINT (^C) meanwhile: the state is saved at the end of the step under way and
    TrainingInterrupted is raised (a rerun resumes from that step).
    """
    return train_pack([(spec, Path(outdir))], log)[0]


def train_pack(cells: list[tuple[dict, Path]], log=print) -> list[dict]:
    """Train (or resume) several cells in one process, one step of each in turn; returns
    their metrics records in order. Each cell ends bit-identical to the cell trained alone.

    A cell that diverges ends alone (its outputs written) and the others go on. SIGTERM,
    SIGUSR1 or SIGINT (^C) meanwhile: every cell's state is saved at the end of the round under way and
    TrainingInterrupted is raised (a rerun resumes every cell from that step).
    """
    _check_pack(cells)
    units = training_units(cells)  # a fused group that is not whole is refused before any lock
    with contextlib.ExitStack() as locks, stop_requests() as stop:
        # Each cell's trainer lock before its state is read: a second trainer refuses at once.
        for spec, outdir in cells:
            locks.enter_context(CellLock(outdir))
            write_started_spec(outdir, spec)  # what `grid status` compares with the config
        parent = ParentWatch()
        pack = PackTrainer(build_trainers(units, log))
        while not pack.done:
            pack.advance()
            # Plain attributes and one getppid() call: no device sync. A trainer whose
            # Snakemake died stops as on SIGTERM (SIGHUP: its controlling process is gone).
            if stop.requested or parent.gone:
                if parent.gone and not stop.requested:
                    log("the parent process (Snakemake) is gone: saving every cell and stopping")
                _save_and_stop(pack, stop.signum or signal.SIGHUP, log)
        metrics = {m.outdir: m.finish() for m in pack.members}
        return [metrics[Path(outdir)] for _, outdir in cells]


def _check_pack(cells) -> None:
    if not cells:
        raise ValueError("train_pack needs at least one cell")
    folders = [Path(outdir).resolve() for _, outdir in cells]
    if len(set(folders)) != len(folders):
        raise ValueError("train_pack: two cells of the pack share an output directory")
    devices = {str(resolve_device(spec["device"])) for spec, _ in cells}
    if len(devices) > 1:
        raise ValueError(f"train_pack: the cells of a pack share one device, got {sorted(devices)}")
    precisions = {spec["training"]["conv_tf32"] for spec, _ in cells}
    if len(precisions) > 1:
        raise ValueError("train_pack: the cells of a pack share one training.conv_tf32 setting (it is process-wide)")


def _save_and_stop(pack: Trainer, signum: int, log) -> None:
    """Pre-emption or time limit: write every training cell's full state now and stop with a
    non-zero exit (cells that already ended keep their final state)."""
    stops = []
    for trainer in pack.members:
        if not trainer.done:
            stops.append(TrainingInterrupted(signum, trainer.run.step, trainer.save_state()))
            log(f"[{trainer.label}] {stops[-1]}")
    if stops:  # else every cell ended in this very round: the pack finishes normally
        raise stops[0]
