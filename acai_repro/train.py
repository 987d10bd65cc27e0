"""Training of one cell (dataset × model × dz × seed) with exact resume.

Layout of a cell directory:
- `metrics.json`, `model.pt`: the declared outputs, written atomically at the end.
- `train_state.pt`: the full training state (weights, every optimiser, the VQ-VAE's EMA
  codebook, generator states, step, evaluation history), rewritten atomically every
  `checkpoint_minutes`. It is not a declared output, so Snakemake leaves it in place when a
  job dies; the rerun continues from it. It is removed once the outputs exist.
- `evals.jsonl`: one line per evaluation, appended as training goes (watch it with tail).

The step loop never reads a value back from the device except at divergence checks
(every `check_every` steps), evaluations and progress lines. On CUDA the whole step is a
captured CUDA graph (`training.cuda_graphs`, acai_repro.graphs): then the divergence check
runs at evaluations only, so nothing is read back between evaluations but progress lines.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from acai_repro.config import spec_digest
from acai_repro.data import build_source
from acai_repro.graphs import build_stepper, resolve_cuda_graphs
from acai_repro.metrics.lines import line_metrics
from acai_repro.models import build_model
from acai_repro.nets import Architecture, dense
from acai_repro.signals import TrainingInterrupted, stop_requests
from acai_repro.step import Run, build_run, make_generator, one_step, resolve_device

STATE_FILE = "train_state.pt"
EVALS_FILE = "evals.jsonl"
REPORTED = ("mean_distance", "smoothness", "classifier_accuracy", "test_recon_mse")


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def evaluate(run: Run, source, index: int) -> dict:
    """Classifier accuracy and reconstruction on a fresh test set; lines metrics on lines."""
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
        images = model.interpolate(
            x[:pairs], x[pairs : 2 * pairs], ev["interpolation_points"], generator
        )
        # On a GPU the nearest-reference search runs there (dense float64 product).
        result.update(line_metrics(images if images.is_cuda else images.cpu().numpy(), ev["references"]))
    model.train()
    return result


def _atomic_write_bytes(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def save_json(path: Path, data) -> None:
    _atomic_write_bytes(path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))


def code_version() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root,
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "code_version": code_version(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": np.__version__,
        "device": str(device),
        "device_name": name or platform.machine(),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
    }


def summarise(evals: list, last: int) -> dict:
    """The cell's reported values: the median of the last `last` evaluations of each metric."""
    tail = evals[-last:]
    return {
        key: float(np.median([e[key] for e in tail]))
        for key in REPORTED
        if tail and all(key in e for e in tail)
    }


class Progress:
    """A status line at least every `seconds`: kimg, losses, images/s, ETA."""

    def __init__(self, label: str, seconds: float, total_images: int, log):
        self.label, self.seconds, self.total, self.log = label, seconds, total_images, log
        self.last = time.monotonic()

    def due(self, now: float) -> bool:
        return now - self.last >= self.seconds

    def maybe(self, images: int, losses: dict, rate: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.due(now):
            return
        self.last = now
        parts = " ".join(f"{k} {float(v.detach()):.4g}" for k, v in losses.items())
        eta = (self.total - images) / rate if rate > 0 else float("nan")
        self.log(
            f"[{self.label}] {images / 1024:.1f}/{self.total / 1024:.0f} kimg  {parts}  "
            f"{rate:.0f} img/s  ETA {_duration(eta)}"
        )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _resume(run: Run, outdir: Path, log) -> None:
    path = outdir / STATE_FILE
    if not path.exists():
        return
    state = torch.load(path, map_location=run.device, weights_only=False)
    if state.get("digest") != spec_digest(run.spec):
        log(f"ignoring {path}: it was written for another configuration of this cell")
        return
    run.load(state)
    log(f"resumed from {path} at step {run.step} ({run.step * run.spec['training']['batch_size']} images)")


def _rewrite_evals(outdir: Path, evals: list) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in evals)
    _atomic_write_bytes(outdir / EVALS_FILE, lambda p: p.write_text(lines))


def train_cell(spec: dict, outdir, log=print) -> dict:
    """Train (or resume) one cell and write its outputs; returns the metrics record.

    SIGTERM or SIGUSR1 meanwhile: the state is saved at the end of the step under way and
    TrainingInterrupted is raised (a rerun resumes from that step).
    """
    with stop_requests() as stop:
        return _train_cell(spec, outdir, log, stop)


def _train_cell(spec: dict, outdir, log, stop) -> dict:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(spec["device"])
    tr = spec["training"]
    batch = tr["batch_size"]
    total_steps, eval_steps = tr["total_images"] // batch, tr["eval_every"] // batch
    label = f"{spec['dataset']}/{spec['model']}/dz{spec['dz']}/seed{spec['seed']}"

    run = build_run(spec, device)
    source = build_source(spec, device)
    _resume(run, outdir, log)
    _rewrite_evals(outdir, run.evals)
    log(f"[{label}] device {device}, {total_steps} steps of {batch}, from step {run.step}")

    worst = torch.zeros((), device=device)
    graphs = resolve_cuda_graphs(tr.get("cuda_graphs", "auto"), device)
    step = build_stepper(run, lambda: one_step(run, source, batch, worst), [worst], graphs, log)
    progress = Progress(label, tr["progress_seconds"], tr["total_images"], log)
    last_checkpoint = time.monotonic()
    status, reason = "ok", None
    segment_start, segment_steps = time.monotonic(), 0
    while run.step < total_steps:
        losses = step()
        run.step += 1
        segment_steps += 1
        at_eval = run.step % eval_steps == 0 or run.step == total_steps
        # Graphed: no read-back between evaluations, so a divergence shows at the next one.
        if at_eval or (not step.graphed and run.step % tr["check_every"] == 0):
            bad = float(worst)
            if not math.isfinite(bad) or bad > tr["divergence_bound"]:
                status = "diverged"
                reason = f"|loss| reached {bad:.3g} (bound {tr['divergence_bound']:.3g}) by step {run.step}"
                log(f"[{label}] diverged: {reason}")
                break
        now = time.monotonic()
        if at_eval or progress.due(now):
            _synchronize(device)  # replays run ahead of the host: time what the device did
            now = time.monotonic()
        rate = segment_steps * batch / max(now - segment_start, 1e-9)
        progress.maybe(run.step * batch, losses, rate)
        if at_eval:
            run.train_seconds += now - segment_start
            record = {"step": run.step, "images": run.step * batch, "kimg": run.step * batch / 1024}
            record.update({f"loss_{k}": float(v.detach()) for k, v in losses.items()})
            record["images_per_s"] = rate
            record.update(evaluate(run, source, len(run.evals)))
            run.evals.append(record)
            with open(outdir / EVALS_FILE, "a") as f:
                f.write(json.dumps(record) + "\n")
            progress.maybe(run.step * batch, losses, rate, force=True)
            segment_start, segment_steps = time.monotonic(), 0
        if time.monotonic() - last_checkpoint >= tr["checkpoint_minutes"] * 60:
            if not at_eval:
                run.train_seconds += time.monotonic() - segment_start
                segment_start, segment_steps = time.monotonic(), 0
            _atomic_write_bytes(outdir / STATE_FILE, lambda p: torch.save(run.state(), p))
            last_checkpoint = time.monotonic()
        if stop.requested:  # a plain attribute set by the signal handler: no device sync
            _save_and_stop(run, outdir, stop.signum, segment_start, f"[{label}]", log)

    return _finish(run, outdir, status, reason, provenance(device))


def _save_and_stop(run: Run, outdir: Path, signum: int, segment_start: float, label: str, log) -> None:
    """Pre-emption or time limit: write the full state now and stop with a non-zero exit."""
    run.train_seconds += time.monotonic() - segment_start
    _atomic_write_bytes(outdir / STATE_FILE, lambda p: torch.save(run.state(), p))
    stopped = TrainingInterrupted(signum, run.step, outdir / STATE_FILE)
    log(f"{label} {stopped}")
    raise stopped


def _finish(run: Run, outdir: Path, status: str, reason, prov: dict) -> dict:
    spec = run.spec
    tr = spec["training"]
    weights = {"spec": spec, "model": run.model.state_dict(), "classifier": run.classifier.state_dict()}
    _atomic_write_bytes(outdir / "model.pt", lambda p: torch.save(weights, p))
    metrics = {
        "status": status,
        "reason": reason,
        "cell": {k: spec[k] for k in ("dataset", "model", "dz", "seed")},
        "reported": summarise(run.evals, tr["report_last"]) if status == "ok" else {},
        "report_rule": f"median of the last {tr['report_last']} evaluations",
        "steps": run.step,
        "images": run.step * tr["batch_size"],
        "train_seconds": run.train_seconds,
        "images_per_s": run.step * tr["batch_size"] / max(run.train_seconds, 1e-9),
        "provenance": prov,
        "spec": spec,
        "spec_digest": spec_digest(spec),
        "evals": run.evals,
    }
    save_json(outdir / "metrics.json", metrics)
    (outdir / STATE_FILE).unlink(missing_ok=True)
    return metrics


def load_trained(path, device="cpu"):
    """(model, classifier, spec) from a cell's model.pt, in eval mode."""
    saved = torch.load(path, map_location=device, weights_only=False)
    spec = saved["spec"]
    arch = Architecture(**spec["architecture"])
    model = build_model(spec["model"], arch, spec["model_options"]).to(device)
    model.load_state_dict(saved["model"])
    classifier = dense(arch.dz, spec["classes"]).to(device)
    classifier.load_state_dict(saved["classifier"])
    return model.eval(), classifier.eval(), spec
