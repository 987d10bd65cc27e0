import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from acai_repro.training.train import EVALS_FILE, STATE_FILE, train_cell
from tests.conftest import ROOT, tiny_spec

QUIET = lambda message: None  # noqa: E731


def _weights(path):
    return torch.load(path, weights_only=False)["model"]


def _evals_without_timing(record):
    """Evaluation history minus wall-clock throughput, which no two runs share, as JSON text
    (so that an undefined smoothness, NaN, compares equal to itself)."""
    evals = [{k: v for k, v in e.items() if k != "images_per_s"} for e in record["evals"]]
    return json.dumps(evals, sort_keys=True)


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_same_seed_same_metrics(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "denoising", total_images=512, eval_every=256)
    first = train_cell(spec, tmp_path / "a", QUIET)
    second = train_cell(spec, tmp_path / "b", QUIET)
    assert first["status"] == "ok" and len(first["evals"]) == 2
    assert _evals_without_timing(first) == _evals_without_timing(second)
    _assert_same_weights(_weights(tmp_path / "a/model.pt"), _weights(tmp_path / "b/model.pt"))
    other = train_cell(dict(spec, seed=1), tmp_path / "c", QUIET)
    assert _evals_without_timing(other) != _evals_without_timing(first)


def test_outputs_and_evaluation_log(smoke_config, tmp_path):
    """Regular evaluations every eval_every, the reporting rule's over the last last/of of training
    (one every 1/of of it), and metrics.json's values: the median of the rule's window."""
    spec = tiny_spec(smoke_config, "baseline", total_images=64 * 16, eval_every=64 * 8)
    spec["report_rule"] = {"last": 4, "of": 16}  # steps 13-16: the last 4/16 of 16 steps
    metrics = train_cell(spec, tmp_path, QUIET)
    lines = (tmp_path / EVALS_FILE).read_text().splitlines()
    made = [json.loads(line)["images"] for line in lines]
    assert made == [512, 832, 896, 960, 1024], f"evaluations at {made} images"
    record = json.loads(lines[-1])
    for key in ("mean_distance", "smoothness", "classifier_accuracy", "loss_ae", "images_per_s"):
        assert key in record, f"{key} missing from an evaluation: {sorted(record)}"
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert json.dumps(on_disk["reported"], sort_keys=True) == json.dumps(metrics["reported"], sort_keys=True)
    window = [e["mean_distance"] for e in metrics["evals"][-4:]]
    assert metrics["reported"]["mean_distance"] == pytest.approx(float(np.median(window))), (
        metrics["reported"],
        window,
    )
    assert on_disk["report_rule"] == "median of the 4 evaluations over the last 4/16 of training (0.8-1.0 kimg)"
    assert on_disk["provenance"]["device"] == "cpu" and on_disk["spec"] == spec
    assert not (tmp_path / STATE_FILE).exists()


RESUME_SCRIPT = """
import json, sys, torch
torch.set_num_threads(1)
from acai_repro.training.train import train_cell
train_cell(json.loads(sys.argv[1]), sys.argv[2], log=lambda m: print(m, flush=True))
"""


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_resume_after_kill_is_bit_identical(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "acai", total_images=64 * 30, eval_every=64 * 10, checkpoint_minutes=1e-6)
    assert_kill_and_resume_is_exact(spec, tmp_path)


def assert_kill_and_resume_is_exact(spec, tmp_path):
    """SIGKILL a run once it has checkpointed mid-way, rerun it, compare with an unbroken run."""
    unbroken = train_cell(spec, tmp_path / "unbroken", QUIET)

    cell = tmp_path / "killed"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.Popen([sys.executable, "-c", RESUME_SCRIPT, json.dumps(spec), str(cell)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (cell / EVALS_FILE).exists():
        time.sleep(0.05)
    while time.monotonic() < deadline and (cell / EVALS_FILE).read_text().count("\n") < 1:
        time.sleep(0.05)  # past the first evaluation, so the kill lands mid-run
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (cell / STATE_FILE).exists(), "a checkpoint exists after the kill"
    assert not (cell / "metrics.json").exists(), "the run was killed before finishing"
    killed_at = torch.load(cell / STATE_FILE, weights_only=False)["step"]
    assert 0 < killed_at < 30

    messages = []
    resumed = train_cell(spec, cell, messages.append)
    assert any("resumed from" in m and f"step {killed_at}" in m for m in messages)
    _assert_same_weights(_weights(tmp_path / "unbroken/model.pt"), _weights(cell / "model.pt"))
    assert _evals_without_timing(resumed) == _evals_without_timing(unbroken)
    # regular at steps 10, 20, 30 and the reporting rule's at 28, 29 (one every 1/256 of 30 steps, rounded down)
    made = [json.loads(line)["step"] for line in (cell / EVALS_FILE).read_text().splitlines()]
    assert made == [10, 20, 28, 29, 30], made


def test_checkpoint_of_another_configuration_is_ignored(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "baseline", total_images=256, eval_every=128)
    train_cell(spec, tmp_path, QUIET)
    state = {"digest": "something-else", "step": 3}
    torch.save(state, tmp_path / STATE_FILE)
    messages = []
    metrics = train_cell(spec, tmp_path, messages.append)
    assert any("another configuration" in m for m in messages)
    assert metrics["steps"] == 4


def test_explosion_past_the_bound_stops_the_cell_as_diverged(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "acai", divergence_bound=1e-3, check_every=1)
    metrics = train_cell(spec, tmp_path, QUIET)
    assert metrics["status"] == "diverged" and metrics["steps"] == 1
    assert "bound" in metrics["reason"] and metrics["reported"] == {}
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    assert (tmp_path / "model.pt").exists()


def test_nan_or_inf_loss_stops_the_cell_as_diverged(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "baseline", learning_rate=1e8, divergence_bound=1e300, check_every=1)
    metrics = train_cell(spec, tmp_path, QUIET)
    assert metrics["status"] == "diverged"
    assert "inf" in metrics["reason"] or "nan" in metrics["reason"]


def test_progress_lines_report_kimg_rate_and_eta(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "baseline", progress_seconds=1e-9)
    messages = []
    train_cell(spec, tmp_path, messages.append)
    progress = [m for m in messages if "kimg" in m]
    assert progress and all("img/s" in m and "ETA" in m and "ae " in m for m in progress)
