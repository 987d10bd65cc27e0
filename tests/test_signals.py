"""SIGTERM/SIGUSR1 mid-run: the state of the very step under way is saved, the run exits
non-zero, and a rerun ends bit-identical to a run that was never stopped."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from acai_repro.training.signals import StopRequest, TrainingInterrupted, stop_requests
from acai_repro.training.train import EVALS_FILE, STATE_FILE, train_cell, train_pack
from tests.conftest import ROOT, child_env, start_child, tiny_spec
from tests.test_train import QUIET, _assert_same_weights, _evals_without_timing, _weights

CHILD = """
import json, sys, torch
torch.set_num_threads(1)
from acai_repro.training.train import train_cell
train_cell(json.loads(sys.argv[1]), sys.argv[2], log=lambda m: print(m, flush=True))
"""


def test_a_stop_signal_sets_the_request_and_the_old_handler_comes_back():
    before = signal.getsignal(signal.SIGUSR1)
    with stop_requests() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.01)  # Python runs handlers between bytecodes of the main thread
        assert stop.requested and stop.signum == signal.SIGUSR1
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal does not rename the stop
        time.sleep(0.01)
        assert stop.signum == signal.SIGUSR1
    assert signal.getsignal(signal.SIGUSR1) is before


def test_interruption_message_names_signal_step_and_state(tmp_path):
    stopped = TrainingInterrupted(signal.SIGTERM, 17, tmp_path / STATE_FILE)
    assert "SIGTERM" in str(stopped) and "step 17" in str(stopped) and STATE_FILE in str(stopped)
    assert not StopRequest().requested


def _start_child(spec, cell):
    return start_child([sys.executable, "-c", CHILD, json.dumps(spec), str(cell)])


def _wait_for_first_evaluation(cell, proc, seconds=900):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if (cell / EVALS_FILE).exists() and (cell / EVALS_FILE).read_text().count("\n") >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the run never reached its first evaluation")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_signal_mid_run_saves_that_step_and_resume_is_bit_identical(smoke_config, tmp_path, signum):
    # No periodic checkpoint: a state file can only come from the signal.
    spec = tiny_spec(smoke_config, "vae", total_images=64 * 16, eval_every=64 * 4, checkpoint_minutes=1e9)
    unbroken = train_cell(spec, tmp_path / "unbroken", QUIET)

    cell = tmp_path / "stopped"
    proc = _start_child(spec, cell)
    _wait_for_first_evaluation(cell, proc)
    proc.send_signal(signum)
    output, _ = proc.communicate(timeout=900)  # generous: CI machines can be loaded
    assert proc.returncode != 0, output
    name = signal.Signals(signum).name
    match = re.search(rf"stopped by {name} at step (\d+)", output)
    assert match, output
    stopped_at = int(match.group(1))
    print(
        f"{name} arrived during step {stopped_at}; train_state.pt step {torch.load(cell / STATE_FILE, weights_only=False)['step']}"
    )
    assert 4 <= stopped_at < 16, "the signal landed after the first evaluation, before the end"
    assert not (cell / "metrics.json").exists()
    state = torch.load(cell / STATE_FILE, weights_only=False)
    assert state["step"] == stopped_at
    assert len(state["evals"]) == stopped_at // 4

    messages = []
    resumed = train_cell(spec, cell, messages.append)
    assert any(f"resumed from {cell / STATE_FILE} at step {stopped_at}" in m for m in messages)
    _assert_same_weights(_weights(tmp_path / "unbroken/model.pt"), _weights(cell / "model.pt"))
    assert _evals_without_timing(resumed) == _evals_without_timing(unbroken)
    assert not (cell / STATE_FILE).exists()


# --- ^C: SIGINT saves like SIGTERM ---


def test_sigint_is_a_stop_signal_unless_the_process_was_started_ignoring_it():
    previous = signal.getsignal(signal.SIGINT)
    try:
        # As a process started from a terminal has it, even where pytest was started ignoring ^C.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with stop_requests() as stop:
            os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: the handler records it
            time.sleep(0.01)
            assert stop.signum == signal.SIGINT, f"^C recorded as {stop.signum}"
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup` or `cmd &` in a script start it
        with stop_requests() as stop:
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN, "a stop on ^C in a process told to ignore it"
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


PACK_OF_SIX = {"total_images": 64 * 8, "eval_every": 64 * 2, "checkpoint_minutes": 1e9}  # a state only from the signal


def _six_cells(smoke_config, folder):
    from acai_repro.models import MODELS

    return [(tiny_spec(smoke_config, model, **PACK_OF_SIX), folder / model) for model in sorted(MODELS)]


def _every_cell_evaluated(folders, proc, seconds=900):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if all((f / EVALS_FILE).exists() and (f / EVALS_FILE).read_text().count("\n") >= 1 for f in folders):
            return
        time.sleep(0.05)
    raise AssertionError("the pack never reached every cell's first evaluation")


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_sigint_mid_pack_of_six_saves_every_cell_and_the_rerun_is_bit_identical(smoke_config, tmp_path):
    from tests.test_pack import _start_pack

    unbroken = train_pack(_six_cells(smoke_config, tmp_path / "unbroken"), QUIET)
    cells = _six_cells(smoke_config, tmp_path / "stopped")
    proc = _start_pack(cells)
    _every_cell_evaluated([folder for _, folder in cells], proc)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode != 0 and "KeyboardInterrupt" not in output, output
    steps = {}
    for spec, folder in cells:
        label = f"lines/{spec['model']}/dz{spec['dz']}/seed0"
        match = re.search(rf"\[{label}\] stopped by SIGINT at step (\d+)", output)
        assert match, f"{label} saved nothing on SIGINT:\n{output[-3000:]}"
        steps[folder] = int(match.group(1))
        assert 2 <= steps[folder] < 8, f"{label}: the signal landed at step {steps[folder]}, not mid-run"
        assert torch.load(folder / STATE_FILE, weights_only=False)["step"] == steps[folder]
        assert not (folder / "metrics.json").exists()

    messages = []
    rerun = train_pack(cells, messages.append)
    for (spec, folder), metrics, reference in zip(cells, rerun, unbroken):
        assert any(f"resumed from {folder / STATE_FILE} at step {steps[folder]}" in m for m in messages), messages
        _assert_same_weights(
            _weights(tmp_path / "unbroken" / spec["model"] / "model.pt"), _weights(folder / "model.pt")
        )
        assert _evals_without_timing(metrics) == _evals_without_timing(reference), spec["model"]


@pytest.mark.slow
def test_ctrl_c_on_snakemake_saves_every_cell_of_a_pack_and_the_rerun_resumes_them(tmp_path):
    """^C in a terminal sends SIGINT to the whole foreground process group: Snakemake and the
    pack's training process. The trainer saves every cell; Snakemake waits for it, reports the
    job failed and leaves the state files (not declared outputs); the plain rerun resumes."""
    overlay = tmp_path / "pack6.yaml"
    overlay.write_text(
        "resources:\n  train: {gpu: 0, threads: 1, mem_mb: 1000, runtime: 10, pack: 6}\n"
        f"training: {{total_images: {PACK_OF_SIX['total_images']}, eval_every: {PACK_OF_SIX['eval_every']}, "
        "checkpoint_minutes: 1000000}\n"
    )
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path / "w"),
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        str(overlay),
        "--",
        "results/smoke/table1.tex",
    ]
    env = child_env()
    # A session of its own, so that the group's SIGINT reaches what a terminal's ^C reaches.
    proc = start_child(command, cwd=ROOT, start_new_session=True)
    cells = sorted((tmp_path / "w" / "results" / "smoke" / "lines").glob("*/dz*/seed0"))
    deadline = time.monotonic() + 900
    while len(cells) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
        cells = sorted((tmp_path / "w" / "results" / "smoke" / "lines").glob("*/dz*/seed0"))
    _every_cell_evaluated(cells, proc)
    os.killpg(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode != 0, output
    log = next((tmp_path / "w" / "results" / "smoke" / "logs" / "train" / "packs").glob("*.log")).read_text()
    steps = {}
    for cell in cells:
        label = cell.relative_to(tmp_path / "w" / "results" / "smoke").as_posix()
        match = re.search(rf"\[{label}\] stopped by SIGINT at step (\d+)", log)
        assert match, f"{label} saved nothing on ^C:\n{log[-3000:]}\n{output[-2000:]}"
        steps[cell] = int(match.group(1))
        assert torch.load(cell / STATE_FILE, weights_only=False)["step"] == steps[cell], label
        assert not (cell / "metrics.json").exists(), label

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    log = next((tmp_path / "w" / "results" / "smoke" / "logs" / "train" / "packs").glob("*.log")).read_text()
    for cell, step in steps.items():
        assert (
            f"resumed from results/smoke/{cell.relative_to(tmp_path / 'w' / 'results' / 'smoke')}/{STATE_FILE} at step {step}"
            in log
        ), log[-3000:]
        assert (cell / "metrics.json").exists() and not (cell / STATE_FILE).exists()
