"""The trainer guards wired into training: one trainer per cell, and a trainer whose parent
(Snakemake) is killed with `kill -9` saves its state at the step boundary and stops."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from acai_repro.training.guard import CellBusyError
from acai_repro.training.train import STATE_FILE, train_cell
from tests.conftest import ROOT, tiny_spec

# The trainer: writes its PID, then trains the cell given as JSON (long enough to be killed).
TRAINER = """
import json, os, sys
from pathlib import Path
import torch
from acai_repro.training.signals import TrainingInterrupted
from acai_repro.training.train import train_cell
torch.set_num_threads(1)
spec, outdir = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
Path(sys.argv[3]).write_text(str(os.getpid()))
try:
    train_cell(spec, outdir, lambda m: print(m, flush=True))
except TrainingInterrupted as stopped:
    print("INTERRUPTED", stopped.step, flush=True)
    sys.exit(3)
"""
# Stands in for Snakemake: starts the trainer and waits.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
child.wait()
time.sleep(600)
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def _long_spec(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "baseline", total_images=64 * 4000, eval_every=64 * 2000, checkpoint_minutes=600)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return spec, path


def _running_trainer(tmp_path, spec_path, parent_code=None):
    """Start a trainer (under a stand-in parent when given) and wait until it trains."""
    pid_file, cell = tmp_path / "trainer.pid", tmp_path / "cell"
    if parent_code:
        args = [sys.executable, "-c", parent_code, TRAINER, spec_path, cell, pid_file]
    else:
        args = [sys.executable, "-c", TRAINER, spec_path, cell, pid_file]
    process = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, text=True)
    _wait_for(pid_file.exists, 120)
    _wait_for(lambda: (cell / "evals.jsonl").exists(), 300)  # past start-up: the lock is held
    time.sleep(1.0)
    return process, int(pid_file.read_text()), cell


@pytest.mark.slow
def test_a_second_trainer_of_a_training_cell_is_refused_at_once(smoke_config, tmp_path):
    spec, spec_path = _long_spec(smoke_config, tmp_path)
    process, pid, cell = _running_trainer(tmp_path, spec_path)
    try:
        started = time.monotonic()
        with pytest.raises(CellBusyError, match=f"PID {pid} "):
            train_cell(spec, cell, lambda m: None)
        assert time.monotonic() - started < 30  # refused before any training
        assert not (cell / "metrics.json").exists()
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_kill_9_of_the_parent_makes_the_trainer_save_and_stop(smoke_config, tmp_path):
    spec, spec_path = _long_spec(smoke_config, tmp_path)
    parent, pid, cell = _running_trainer(tmp_path, spec_path, PARENT)
    try:
        os.kill(parent.pid, signal.SIGKILL)  # the parent only, not its process group
        parent.wait()
        _wait_for(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 120)
        state = cell / STATE_FILE
        assert state.exists(), "the trainer stopped without saving its state"
        assert not (cell / "metrics.json").exists()
        # The rerun takes the lock the dead trainer held and resumes from the saved step.
        messages = []
        spec["training"]["total_images"] = 64 * 4000
        with pytest.raises(RuntimeError, match="resumed: enough"):  # stop the rerun at once: no need to train it out
            train_cell(spec, cell, _raise_after_resume(messages))
        assert any("resumed from" in m for m in messages)
    finally:
        _kill_quietly(pid)


def _raise_after_resume(messages):
    def log(message):
        messages.append(message)
        if "resumed from" in message:
            raise RuntimeError("resumed: enough")

    return log


def _zombie(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except OSError:
        return True


def _kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
