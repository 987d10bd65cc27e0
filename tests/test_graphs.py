"""The CPU-checkable parts of the captured CUDA step (acai_repro.graphs) and of the device
evaluation: the config switch, which steps capture, the exact warm-up snapshot, the eager
path, and the dense nearest-line search against the sparse one. The GPU side is in
tests/test_cuda.py."""

import numpy as np
import pytest
import torch

from acai_repro.config import ConfigError, load_config
from acai_repro.data import ImageSource, LinesSource
from acai_repro.data.lines import render_lines
from acai_repro.graphs import capture_blockers, resolve_cuda_graphs, restore, snapshot, step_blockers
from acai_repro.metrics.lines import nearest_lines
from acai_repro.models import MODELS
from acai_repro.train import build_run, evaluate, one_step, train_cell, train_step
from tests.conftest import LINES_REFERENCE, ROOT, tiny_spec
from tests.test_train import QUIET, _assert_same_weights, _evals_without_timing, _weights


# ---- the switch ------------------------------------------------------------------------
def test_cuda_graphs_auto_is_on_for_cuda_only():
    assert resolve_cuda_graphs("auto", torch.device("cpu")) is False
    assert resolve_cuda_graphs("auto", torch.device("cuda")) is True
    assert resolve_cuda_graphs("off", torch.device("cuda")) is False
    with pytest.raises(ValueError, match="cuda_graphs"):
        resolve_cuda_graphs("on", torch.device("cuda"))


def test_config_defaults_to_auto_and_rejects_other_values(tmp_path):
    config = load_config(ROOT / "config" / "config.yaml")
    assert config["training"]["cuda_graphs"] == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: {cuda_graphs: always}\n")
    with pytest.raises(ConfigError, match="cuda_graphs"):
        load_config(ROOT / "config" / "config.yaml", bad)


# ---- which steps capture ---------------------------------------------------------------
@pytest.mark.parametrize(
    "name, fn, reason",
    [
        ("item", lambda t: t.sum().item(), "reads a value back"),
        ("if", lambda t: bool(t.sum() > 0), "reads a value back"),
        ("bincount", lambda t: torch.bincount(t.long()), "bincount"),
        ("mask", lambda t: t[t > 0.5], "boolean-mask"),
        ("nonzero", lambda t: t.nonzero(), "nonzero"),
    ],
)
def test_audit_names_each_op_that_stops_a_capture(name, fn, reason):
    t = torch.rand(16, generator=torch.Generator().manual_seed(0))
    blockers = capture_blockers(lambda: fn(t))
    assert len(blockers) >= 1 and reason in blockers[0], (name, blockers)


def test_audit_passes_device_only_work():
    t = torch.rand(8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    index = torch.randint(8, (4,), generator=torch.Generator().manual_seed(1))

    def work():
        loss = (t @ t.T).relu()[index].logsumexp(1).mean() + torch.where(t > 0.5, t, 0.0).sum()
        loss.backward()
        torch.maximum(loss.detach(), loss.detach().abs(), out=torch.zeros(()))

    assert capture_blockers(work) == []


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_step_captures(smoke_config, model):
    """The step of each model (batch drawn by the renderer, losses, every backward, the
    VQ-VAE's EMA update) has nothing that stops a CUDA graph: this is the list of models
    that capture (`python -m acai_repro.graphs` prints it)."""
    spec = tiny_spec(smoke_config, model, batch_size=8)
    assert step_blockers(spec) == []


def test_batch_draws_capture():
    generator = torch.Generator().manual_seed(0)
    lines = LinesSource(torch.device("cpu"), test_size=8, seed=0)
    assert capture_blockers(lambda: lines.train_batch(16, generator)) == []
    images = ImageSource.__new__(ImageSource)  # the on-device uint8 dataset, without a file
    images.device = torch.device("cpu")
    images.train_images = torch.randint(0, 256, (50, 32, 32, 3), dtype=torch.uint8)
    images.train_labels = torch.randint(0, 10, (50,))
    assert capture_blockers(lambda: images.train_batch(16, generator)) == []


# ---- exact warm-up: snapshot and in-place restore --------------------------------------
def _steps(run, source, n):
    worst = torch.zeros(())
    for _ in range(n):
        one_step(run, source, 16, worst)
    return worst


@pytest.mark.parametrize("model", ["acai", "vqvae"])
def test_warm_up_steps_undone_by_restore_leave_the_run_exact(smoke_config, model):
    """What GraphedStep does around its capture (warm-up steps from a snapshot, then the
    snapshot copied back in place) must leave the run as if nothing had happened."""
    spec = tiny_spec(smoke_config, model)
    spec["device"] = "cpu"
    plain, warmed = build_run(spec, torch.device("cpu")), build_run(spec, torch.device("cpu"))
    source = LinesSource(torch.device("cpu"), test_size=8, seed=0)
    worst = torch.zeros(())
    saved = snapshot(warmed, [worst])
    parameters = [p for p in warmed.model.parameters()]
    _steps(warmed, source, 3)
    assert not all(torch.equal(p, q) for p, q in zip(parameters, saved["tensors"]))
    restore(warmed, [worst], saved)
    assert [p for p in warmed.model.parameters()] == parameters  # same tensors, new values
    _steps(plain, source, 4)
    _steps(warmed, source, 4)
    _assert_same_weights(plain.model.state_dict(), warmed.model.state_dict())
    for name in plain.optimizers:
        a, b = plain.optimizers[name].state_dict()["state"], warmed.optimizers[name].state_dict()["state"]
        assert all(torch.equal(a[i][k], b[i][k]) for i in a for k in a[i])
    assert torch.equal(plain.data_generator.get_state(), warmed.data_generator.get_state())


# ---- the eager (CPU) path --------------------------------------------------------------
def test_cpu_run_is_the_plain_eager_loop(smoke_config, tmp_path):
    """train_cell on the CPU (cuda_graphs auto -> eager) equals a loop written out by hand:
    draw, step, evaluate every eval_every images."""
    spec = tiny_spec(smoke_config, "aae", total_images=64 * 6, eval_every=64 * 3)
    messages = []
    metrics = train_cell(spec, tmp_path, messages.append)
    assert not any("CUDA graph" in m for m in messages)

    device = torch.device("cpu")
    run, source = build_run(spec, device), LinesSource(device, spec["evaluation"]["test_lines"], 0)
    evals = []
    for step in range(1, 7):
        x, y = source.train_batch(64, run.data_generator)
        losses = train_step(run, x, y)
        if step % 3 == 0:
            record = {"step": step, "images": step * 64, "kimg": step * 64 / 1024}
            record.update({f"loss_{k}": float(v.detach()) for k, v in losses.items()})
            record.update(evaluate(run, source, len(evals)))
            evals.append(record)
    _assert_same_weights(_weights(tmp_path / "model.pt"), run.model.state_dict())
    assert _evals_without_timing(metrics) == _evals_without_timing({"evals": evals})


def test_checkpoint_of_a_cuda_run_resumes_on_the_cpu(smoke_config):
    """A CUDA run's Adam (capturable, step count on the device) loads as the CPU's Adam."""
    spec = tiny_spec(smoke_config, "baseline")
    run = build_run(spec, torch.device("cpu"))
    _steps(run, LinesSource(torch.device("cpu"), 8, 0), 2)
    state = run.state()
    for opt_state in state["optimizers"].values():
        for group in opt_state["param_groups"]:
            group["capturable"] = True
    resumed = build_run(spec, torch.device("cpu"))
    resumed.load(state)
    for opt in resumed.optimizers.values():
        assert all(group["capturable"] is False for group in opt.param_groups)
        assert all(s["step"].device.type == "cpu" and float(s["step"]) == 2 for s in opt.state.values())


# ---- the dense nearest-line search (the GPU's path, run here on CPU tensors) ----------
def _decoded_like(n=2048, seed=0):
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, n)
    noise = rng.normal(0, 0.05, (n, 1, 32, 32))
    return (render_lines(torch.from_numpy(angles)).numpy() + noise).astype(np.float32)


@pytest.mark.parametrize("case", ["perfect", "crossfade", "abrupt", "longway", "noisy", "blurred", "decoded"])
def test_dense_search_finds_the_sparse_search_lines(case):
    if case == "decoded":
        images = _decoded_like()
    else:
        images = np.load(LINES_REFERENCE)[f"case_{case}"]
    images = images.reshape(-1, 32 * 32)
    sparse_d, sparse_a = nearest_lines(images, method="sparse")
    dense_d, dense_a = nearest_lines(torch.from_numpy(images), method="dense")
    np.testing.assert_array_equal(dense_a, sparse_a)
    np.testing.assert_allclose(dense_d, sparse_d, rtol=0, atol=1e-6)


def test_nearest_lines_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        nearest_lines(np.zeros((1, 1024)), method="fast")
