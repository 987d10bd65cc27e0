"""The CPU-checkable parts of the captured CUDA step (acai_repro.training.cuda_graphs) and of the device
evaluation: the config switch, which steps capture, the exact warm-up snapshot, the eager
path, and the dense nearest-line search against the sparse one. The GPU side is in
tests/test_cuda.py."""

import traceback
import weakref

import numpy as np
import pytest
import torch

from acai_repro.config import ConfigError, load_config
from acai_repro.data import ImageSource, LinesSource
from acai_repro.data.lines import render_lines
from acai_repro.metrics.lines import nearest_lines
from acai_repro.models import MODELS
from acai_repro.training.cuda_graphs import capture_blockers, resolve_cuda_graphs, restore, snapshot, step_blockers
from acai_repro.training.train import evaluate, train_cell
from acai_repro.training.training_run import build_run, one_step, train_step
from tests.conftest import LINES_REFERENCE, ROOT, tiny_spec
from tests.test_train import _assert_same_weights, _evals_without_timing, _weights


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
    that capture (`python -m acai_repro.cuda_graphs` prints it)."""
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
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
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


# ---- the graphed loop, with a stand-in for the CUDA graph ------------------------------
class _ReplayingGraph:
    """Stands in for torch.cuda.CUDAGraph on the CPU: "capture" runs the step for real (the
    snapshot restore undoes it, as it undoes the warm-up), a replay runs it again and copies
    its losses into the captured (static) output tensors, as a real replay rewrites them."""

    def __init__(self):
        self.registered = []

    def register_generator_state(self, generator):
        self.registered.append(generator)

    def replay(self):
        losses = self.step()()  # held weakly: a real graph holds no Python objects either
        with torch.no_grad():
            for key, value in losses.items():
                self.outputs[key].copy_(value)


def _fake_capture(graph, step):
    graph.step = weakref.ref(step)
    graph.outputs = step()
    return graph.outputs


class _Stream:
    def __init__(self, *args):
        pass

    def wait_stream(self, other):
        pass


def _ignoring_cpu_adam(blocking_reason):
    """On CUDA Adam is capturable and reads nothing back; the CPU's Adam reads its step count
    (a host tensor) each step. The stand-in graph runs the CPU's Adam: let that one pass."""

    def reason(func, args, kwargs):
        in_adam = any("torch/optim/" in frame.filename for frame in traceback.extract_stack())
        if func.overloadpacket is torch.ops.aten._local_scalar_dense and in_adam:
            return None
        return blocking_reason(func, args, kwargs)

    return reason


@pytest.fixture
def graphs_on_cpu(monkeypatch):
    """Run the graphed path of train_cell on the CPU with the stand-in graph."""
    import contextlib

    import acai_repro.training.cuda_graphs as graphs
    import acai_repro.training.train as train

    monkeypatch.setattr(train, "resolve_cuda_graphs", lambda setting, device: setting == "auto")
    monkeypatch.setattr(graphs, "_blocking_reason", _ignoring_cpu_adam(graphs._blocking_reason))
    monkeypatch.setattr(graphs, "_capture", _fake_capture)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _ReplayingGraph)
    monkeypatch.setattr(torch.cuda, "Stream", _Stream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *a: _Stream())
    monkeypatch.setattr(torch.cuda, "default_stream", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)


def _run_both(smoke_config, tmp_path, model, **training):
    spec = tiny_spec(smoke_config, model, total_images=64 * 9, eval_every=64 * 3, **training)
    results = {}
    for setting in ("auto", "off"):
        spec["training"]["cuda_graphs"] = setting
        messages = []
        results[setting] = (train_cell(spec, tmp_path / setting, messages.append), messages)
    return results


@pytest.mark.parametrize("model", ["acai", "vqvae"])
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_graphed_loop_equals_eager_loop(smoke_config, tmp_path, graphs_on_cpu, model):
    """The plumbing around the graph (warm-up and restore, registered generators, static
    outputs, running max, evaluations) gives the eager run's weights and history."""
    results = _run_both(smoke_config, tmp_path, model)
    (graphed, log), (eager, _) = results["auto"], results["off"]
    assert any("CUDA graph: the training step is captured" in m for m in log), log
    assert len(graphed["evals"]) == 3
    assert _evals_without_timing(graphed) == _evals_without_timing(eager)
    _assert_same_weights(_weights(tmp_path / "auto/model.pt"), _weights(tmp_path / "off/model.pt"))


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_step_with_a_host_read_trains_eagerly_and_says_why(smoke_config, tmp_path, graphs_on_cpu, monkeypatch):
    from acai_repro.models.baseline import Baseline

    plain = Baseline.training_losses

    def with_item(self, x, generator):
        losses, features = plain(self, x, generator)
        if losses["ae"] > 1e9:  # a host read: the capture must be refused
            raise AssertionError
        return losses, features

    monkeypatch.setattr(Baseline, "training_losses", with_item)
    results = _run_both(smoke_config, tmp_path, "baseline")
    (graphed, log), (eager, _) = results["auto"], results["off"]
    refused = [m for m in log if "not captured" in m]
    assert refused and "reads a value back" in refused[0], log
    assert _evals_without_timing(graphed) == _evals_without_timing(eager)
    _assert_same_weights(_weights(tmp_path / "auto/model.pt"), _weights(tmp_path / "off/model.pt"))


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_failed_capture_falls_back_with_the_run_intact(smoke_config, tmp_path, graphs_on_cpu, monkeypatch):
    import acai_repro.training.cuda_graphs as graphs

    def failing_capture(graph, step):
        step()  # half a capture happened, then the driver said no
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs, "_capture", failing_capture)
    results = _run_both(smoke_config, tmp_path, "denoising")
    (graphed, log), (eager, _) = results["auto"], results["off"]
    assert any("not captured" in m and "not permitted" in m for m in log), log
    assert _evals_without_timing(graphed) == _evals_without_timing(eager)
    _assert_same_weights(_weights(tmp_path / "auto/model.pt"), _weights(tmp_path / "off/model.pt"))


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_graphed_divergence_is_found_at_the_next_evaluation(smoke_config, tmp_path, graphs_on_cpu):
    results = _run_both(smoke_config, tmp_path, "acai", divergence_bound=1e-3, check_every=1)
    graphed, eager = results["auto"][0], results["off"][0]
    assert eager["status"] == graphed["status"] == "diverged"
    assert eager["steps"] == 1 and graphed["steps"] == 3  # the first evaluation


def _stepper_and_refs(config):
    """A graphed stepper, and weak references to what its graph uses (the caller keeps none)."""
    from acai_repro.training.cuda_graphs import GraphedStep

    run = build_run(tiny_spec(config, "baseline"), torch.device("cpu"))
    source = LinesSource(torch.device("cpu"), 8, 0)
    worst = torch.zeros(())
    stepper = GraphedStep(run, lambda: one_step(run, source, 8, worst), [worst], warmup=1)
    return stepper, [weakref.ref(x) for x in (run, source, worst)]


def test_graphed_step_keeps_what_the_graph_uses_alive(graphs_on_cpu, smoke_config):
    """A replay writes into the weights, optimiser state and data source by address: the
    stepper must hold them, or a caller that drops its references frees memory in use."""
    import gc

    stepper, alive = _stepper_and_refs(smoke_config)
    gc.collect()
    assert all(ref() is not None for ref in alive)
    stepper()
