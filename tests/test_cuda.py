"""The CUDA paths: skipped without a GPU (CI has none); run on a lent GPU machine.

Same checks as on the CPU, on the device: rendering, every model's training, the image
source and latent export, exact resume after a kill, and the dense batched K-Means.
"""

import math

import numpy as np
import pytest
import torch

from acai_repro.data.lines import random_angles, render_lines
from acai_repro.downstream import export_latents, read_latents
from acai_repro.metrics.clustering import kmeans
from acai_repro.models import MODELS
from acai_repro.train import train_cell
from tests.conftest import tiny_spec
from tests.test_clustering import _blobs
from tests.test_downstream import tiny_mnist_h5  # noqa: F401 (fixture)
from tests.test_train import QUIET, assert_kill_and_resume_is_exact

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


def test_cuda_training_resumes_exactly_after_a_kill(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "acai", total_images=64 * 30, eval_every=64 * 10, checkpoint_minutes=1e-6)
    spec["device"] = "cuda"
    assert_kill_and_resume_is_exact(spec, tmp_path)


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
