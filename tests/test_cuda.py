"""The CUDA paths: skipped without a GPU (CI has none); run on a lent GPU machine with
`python -m pytest tests/test_cuda.py` (the timed GPU session, benchmarks/gpu_session.sh, proves
its own paths first with benchmarks/cuda_proof.py and acai_repro.training.fusion_check instead).

Same checks as on the CPU, on the device: rendering, every model's training, the image
source and latent export, exact resume after a kill, and the dense batched K-Means. And the
captured step (acai_repro.training.cuda_graphs): which models capture, graphed = eager bit for bit
(weights and evaluation histories), kill-and-resume exact with graphs on, divergence found
at the next evaluation; the dense nearest-line search on the device = the CPU's sparse one.
Packed training: a mixed pack of all six models (one process, a stream and a graph per cell)
equals each model trained alone, graphed, bit for bit. The fast path and seed fusion: graphed =
eager for every model, the same command the same bits; each fused seed equals the seed trained
alone (acai_repro.training.fusion_check), and a gradient leak between seeds fails that check.
"""

import math

import numpy as np
import pytest
import torch

from acai_repro.data.lines import random_angles, render_lines
from acai_repro.downstream import export_latents, read_latents
from acai_repro.metrics.clustering import kmeans
from acai_repro.metrics.lines import nearest_lines
from acai_repro.models import MODELS
from acai_repro.training import fusion_check
from acai_repro.training.fusion import FusedGroup
from acai_repro.training.train import train_cell, train_pack
from acai_repro.training.training_run import build_run
from tests.conftest import LINES_REFERENCE, fused_specs, tiny_spec
from tests.test_clustering import _blobs
from tests.test_downstream import tiny_mnist_h5  # noqa: F401 (fixture)
from tests.test_train import (
    QUIET,
    _assert_same_weights,
    _evals_without_timing,
    _weights,
    assert_kill_and_resume_is_exact,
)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_renderer_on_cuda_matches_cpu():
    angles = random_angles(512, torch.Generator().manual_seed(0))
    on_gpu = render_lines(angles.cuda())
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu(), render_lines(angles), atol=1e-6, rtol=0)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_trains_on_cuda(smoke_config, tmp_path, model):
    spec = tiny_spec(smoke_config, model, total_images=64 * 8, eval_every=64 * 4)
    spec["device"] = "cuda"
    metrics = train_cell(spec, tmp_path, QUIET)
    assert metrics["status"] == "ok", metrics.get("reason")
    assert metrics["provenance"]["device"].startswith("cuda")
    assert all(math.isfinite(e["loss_ae"]) for e in metrics["evals"])


@pytest.mark.parametrize("model", ["acai", "vqvae"])
def test_cuda_training_resumes_exactly_after_a_kill(smoke_config, tmp_path, model):
    """With graphs on (the default on CUDA): Adam's state tensors and the generator states
    round-trip through train_state.pt, and the resumed run captures again from them."""
    spec = tiny_spec(smoke_config, model, total_images=64 * 30, eval_every=64 * 10, checkpoint_minutes=1e-6)
    spec.update(device="cuda")
    spec["training"]["cuda_graphs"] = "auto"
    assert_kill_and_resume_is_exact(spec, tmp_path)


def _cuda_run(smoke_config, tmp_path, model, graphs, name, **training):
    # The caller's settings win over these defaults (a test may shorten the run).
    spec = tiny_spec(smoke_config, model, **{"total_images": 64 * 12, "eval_every": 64 * 4, **training})
    spec["device"] = "cuda"
    spec["training"]["cuda_graphs"] = graphs
    messages = []
    metrics = train_cell(spec, tmp_path / name, messages.append)
    return metrics, messages


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_captures_on_cuda(smoke_config, tmp_path, model):
    """Which models capture: every one, or the log line names what stopped it."""
    _, messages = _cuda_run(smoke_config, tmp_path, model, "auto", "graphed", total_images=64 * 4)
    graph_lines = [m for m in messages if "CUDA graph" in m]
    assert graph_lines and "captured" in graph_lines[0] and "not captured" not in graph_lines[0], graph_lines


@pytest.mark.parametrize("model", sorted(MODELS))
def test_graphed_run_equals_eager_run_bit_for_bit(smoke_config, tmp_path, model):
    """Three evaluations, each after 4 replays: weights and histories equal the eager run's."""
    graphed, messages = _cuda_run(smoke_config, tmp_path, model, "auto", "graphed")
    eager, _ = _cuda_run(smoke_config, tmp_path, model, "off", "eager")
    assert any("CUDA graph: the training step is captured" in m for m in messages), messages
    assert len(graphed["evals"]) == 3
    assert _evals_without_timing(graphed) == _evals_without_timing(eager)
    _assert_same_weights(_weights(tmp_path / "graphed/model.pt"), _weights(tmp_path / "eager/model.pt"))


@pytest.mark.parametrize("model", sorted(MODELS))
def test_eager_cuda_runs_repeat_exactly(smoke_config, tmp_path, model):
    """The baseline of the test above: if this fails too, the model is not deterministic on
    this GPU (e.g. float atomics), whatever the graph does."""
    first, _ = _cuda_run(smoke_config, tmp_path, model, "off", "a")
    second, _ = _cuda_run(smoke_config, tmp_path, model, "off", "b")
    assert _evals_without_timing(first) == _evals_without_timing(second)
    _assert_same_weights(_weights(tmp_path / "a/model.pt"), _weights(tmp_path / "b/model.pt"))


def test_graphed_divergence_is_found_at_the_next_evaluation(smoke_config, tmp_path):
    metrics, _ = _cuda_run(smoke_config, tmp_path, "acai", "auto", "graphed", divergence_bound=1e-3, check_every=1)
    assert metrics["status"] == "diverged" and metrics["steps"] == 4  # the first evaluation
    assert "bound" in metrics["reason"]


@pytest.mark.parametrize("case", ["perfect", "crossfade", "abrupt", "longway", "noisy", "blurred"])
def test_dense_search_on_cuda_matches_the_sparse_cpu_search(case):
    images = np.load(LINES_REFERENCE)[f"case_{case}"].reshape(-1, 32 * 32)
    cpu_d, cpu_a = nearest_lines(images)
    gpu_d, gpu_a = nearest_lines(torch.from_numpy(images).cuda())
    np.testing.assert_array_equal(gpu_a, cpu_a)
    np.testing.assert_allclose(gpu_d, cpu_d, rtol=0, atol=1e-6)


def test_image_training_and_latent_export_on_cuda(smoke_config, tiny_mnist_h5, tmp_path):  # noqa: F811
    path, splits = tiny_mnist_h5
    spec = tiny_spec(smoke_config, "aae", total_images=128, eval_every=64)
    spec.update(dataset="mnist", dz=32, device="cuda")
    spec["architecture"].update(latent_width=4, latent_channels=2)
    spec["data"] = {"path": str(path), "train_splits": ["train"], "test_split": "test", "max_examples": None}
    assert train_cell(spec, tmp_path / "cell", QUIET)["status"] == "ok"
    export_latents(tmp_path / "cell/model.pt", ["test"], tmp_path / "gpu.h5", chunk=16, device="cuda")
    export_latents(tmp_path / "cell/model.pt", ["test"], tmp_path / "cpu.h5", chunk=16, device="cpu")
    gpu, labels = read_latents(tmp_path / "gpu.h5", "test")
    np.testing.assert_array_equal(labels, splits["test"][1])
    np.testing.assert_allclose(gpu, read_latents(tmp_path / "cpu.h5", "test")[0], atol=1e-4)


def test_dense_kmeans_on_cuda_matches_elkan_on_cpu():
    x, _ = _blobs(n_per=150, d=16, spread=2.5, seed=4)
    gpu = kmeans(x, k=10, restarts=30, seed=7, device="cuda")
    cpu = kmeans(x, k=10, restarts=30, seed=7, backend="elkan")
    assert gpu.backend == "torch" and cpu.backend == "elkan"
    np.testing.assert_allclose(gpu.inertias, cpu.inertias, rtol=1e-5)
    np.testing.assert_array_equal(gpu.iterations, cpu.iterations)


@pytest.mark.parametrize("conv_tf32", [False, True])
def test_the_convolution_precision_follows_the_spec(smoke_config, conv_tf32):
    """float32 convolutions unless the spec asks for TF32 (PyTorch's own default is TF32)."""
    torch.backends.cudnn.allow_tf32 = not conv_tf32
    build_run(tiny_spec(smoke_config, "acai", conv_tf32=conv_tf32), torch.device("cuda"))
    assert torch.backends.cudnn.allow_tf32 is conv_tf32
    assert not torch.backends.cuda.matmul.allow_tf32  # matrix products stay float32 either way


def test_a_mixed_pack_on_cuda_equals_each_model_trained_alone_graphed(smoke_config, tmp_path):
    """Six cells replayed concurrently on six streams: each one's weights and evaluation
    history are the solo graphed run's (no shared cuBLAS workspace, generator or state)."""
    specs = []
    for model in sorted(MODELS):
        spec = tiny_spec(smoke_config, model, total_images=64 * 12, eval_every=64 * 4)
        spec["device"] = "cuda"
        spec["training"]["cuda_graphs"] = "auto"
        specs.append(spec)
    solos = [train_cell(spec, tmp_path / "solo" / spec["model"], QUIET) for spec in specs]
    messages = []
    packed = train_pack([(spec, tmp_path / "pack" / spec["model"]) for spec in specs], messages.append)
    assert sum("CUDA graph: the training step is captured" in m for m in messages) == len(specs), messages
    for spec, metrics, solo in zip(specs, packed, solos):
        assert metrics["status"] == "ok" and len(metrics["evals"]) == 3
        assert _evals_without_timing(metrics) == _evals_without_timing(solo)
        folder = spec["model"]
        _assert_same_weights(
            _weights(tmp_path / "pack" / folder / "model.pt"), _weights(tmp_path / "solo" / folder / "model.pt")
        )


# ---- the fast path (training.fast_path) on CUDA ------------------------------------------
@pytest.mark.parametrize("model", sorted(MODELS))
def test_fast_path_graphed_equals_fast_eager_bit_for_bit(smoke_config, tmp_path, model):
    """The compiled step in the project's own CUDA graph replays what it computes eagerly."""
    graphed, messages = _cuda_run(smoke_config, tmp_path, model, "auto", "graphed", fast_path=True)
    eager, _ = _cuda_run(smoke_config, tmp_path, model, "off", "eager", fast_path=True)
    assert any("CUDA graph: the training step is captured" in m for m in messages), messages
    assert graphed["path"] == "fast", graphed["path"]
    assert _evals_without_timing(graphed) == _evals_without_timing(eager)
    _assert_same_weights(_weights(tmp_path / "graphed/model.pt"), _weights(tmp_path / "eager/model.pt"))


def test_fast_path_resumes_exactly_after_a_kill(smoke_config, tmp_path):
    spec = tiny_spec(
        smoke_config, "acai", total_images=64 * 30, eval_every=64 * 10, checkpoint_minutes=1e-6, fast_path=True
    )
    spec.update(device="cuda")
    spec["training"]["cuda_graphs"] = "auto"
    assert_kill_and_resume_is_exact(spec, tmp_path)


def test_a_fast_mixed_pack_on_cuda_equals_each_model_trained_alone(smoke_config, tmp_path):
    specs = []
    for model in sorted(MODELS):
        spec = tiny_spec(smoke_config, model, total_images=64 * 12, eval_every=64 * 4, fast_path=True)
        spec["device"] = "cuda"
        spec["training"]["cuda_graphs"] = "auto"
        specs.append(spec)
    solos = [train_cell(spec, tmp_path / "solo" / spec["model"], QUIET) for spec in specs]
    packed = train_pack([(spec, tmp_path / "pack" / spec["model"]) for spec in specs], QUIET)
    for spec, metrics, solo in zip(specs, packed, solos):
        assert _evals_without_timing(metrics) == _evals_without_timing(solo), spec["model"]
        folder = spec["model"]
        _assert_same_weights(
            _weights(tmp_path / "pack" / folder / "model.pt"), _weights(tmp_path / "solo" / folder / "model.pt")
        )


# ---- seed fusion (training.seed_fusion) on CUDA -------------------------------------------
def _fused_group(smoke_config, tmp_path, model, graphs, name):
    """A fused group of three seeds of a lines cell on CUDA; (metrics per seed, log lines)."""
    specs = fused_specs(smoke_config, model, dz=64, total_images=64 * 12, eval_every=64 * 4)
    for spec in specs:
        spec["device"] = "cuda"
        spec["training"]["cuda_graphs"] = graphs
    messages = []
    metrics = train_pack([(spec, tmp_path / name / f"seed{spec['seed']}") for spec in specs], messages.append)
    return metrics, messages


@pytest.mark.parametrize("model", sorted(MODELS))
def test_fused_group_graphed_equals_fused_eager_bit_for_bit(smoke_config, tmp_path, model):
    """The fused step of a group of seeds captures in one CUDA graph and replays what it
    computes eagerly, for every seed (weights and evaluation histories)."""
    graphed, messages = _fused_group(smoke_config, tmp_path, model, "auto", "graphed")
    eager, _ = _fused_group(smoke_config, tmp_path, model, "off", "eager")
    assert any("CUDA graph: the training step is captured" in m for m in messages), messages
    for seed, (g, e) in enumerate(zip(graphed, eager)):
        assert g["path"] == "fast-fused", g["path"]
        assert _evals_without_timing(g) == _evals_without_timing(e), f"seed {seed}: histories differ"
        _assert_same_weights(
            _weights(tmp_path / f"graphed/seed{seed}/model.pt"), _weights(tmp_path / f"eager/seed{seed}/model.pt")
        )


def test_a_fused_group_on_cuda_trained_again_gives_the_same_bits(smoke_config, tmp_path):
    first, _ = _fused_group(smoke_config, tmp_path, "acai", "auto", "a")
    second, _ = _fused_group(smoke_config, tmp_path, "acai", "auto", "b")
    for seed, (a, b) in enumerate(zip(first, second)):
        assert _evals_without_timing(a) == _evals_without_timing(b), f"seed {seed}: histories differ"
        _assert_same_weights(
            _weights(tmp_path / f"a/seed{seed}/model.pt"), _weights(tmp_path / f"b/seed{seed}/model.pt")
        )


@pytest.mark.parametrize("model", sorted(MODELS))
def test_five_fused_steps_on_cuda_leave_each_seed_as_trained_alone(model):
    """The CPU's fused-against-alone check (acai_repro.training.fusion_check) on the device, the fused
    step captured: each seed's weights, Adam moments and buffers after 5 fused steps are those of
    the seed trained alone, within the check's tolerance."""
    messages = []
    gaps = fusion_check.compare(model, "cuda", steps=5, log=messages.append)
    assert any("fused step graphed" in m for m in messages), f"{model}: the fused step was not captured: {messages}"
    over = [g for g in gaps if not g.largest() <= fusion_check.TOLERANCE]
    assert not over, f"{model}: fused seeds differ from the seeds trained alone on CUDA: {over}"


def test_a_gradient_leak_between_seeds_fails_the_check_on_cuda(monkeypatch):
    attribute, make_faulty = fusion_check.CONTROLS["gradient-leak"]
    monkeypatch.setattr(FusedGroup, attribute, make_faulty(getattr(FusedGroup, attribute)))
    gaps = fusion_check.compare("vqvae", "cuda", steps=5)
    assert all(g.weights > 1e3 * fusion_check.TOLERANCE for g in gaps), (
        f"a 1e-4 gradient leak passes the check on CUDA: {gaps}"
    )
