import h5py
import numpy as np
import pytest
import torch

from acai_repro.data import DamagedDataError, ImageSource
from acai_repro.data.prepare import write_h5
from acai_repro.downstream import cluster, export_latents, linear_probe, read_latents
from acai_repro.training.train import train_cell
from tests.conftest import tiny_spec


def test_linear_probe_on_separable_latents_scores_one():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    z = rng.normal(0, 0.1, (400, 16)).astype(np.float32)
    z[np.arange(400), labels] += 3.0  # one informative direction per class
    result = linear_probe(z[:300], labels[:300], z[300:], labels[300:], classes=4)
    assert result["accuracy"] == 1.0 and result["train_accuracy"] == 1.0
    # the loss after training, not the untrained ln(4) = 1.386 the optimiser's first evaluation saw
    assert result["final_loss"] < 0.01


def test_linear_probe_on_noise_keeps_its_loss_near_chance_too():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(1000, 8)).astype(np.float32)
    result = linear_probe(z, rng.integers(0, 10, 1000), z, rng.integers(0, 10, 1000), classes=10)
    assert 1.9 < result["final_loss"] < np.log(10)


def test_linear_probe_on_noise_is_near_chance():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2000, 8)).astype(np.float32)
    result = linear_probe(z[:1000], rng.integers(0, 10, 1000), z[1000:], rng.integers(0, 10, 1000), classes=10)
    assert result["accuracy"] < 0.2


def test_cluster_on_separated_latents():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(10), 60)
    z = (rng.normal(size=(10, 12)) * 10)[labels] + rng.normal(size=(600, 12))
    options = {"k": 10, "restarts": 20, "max_iter": 100, "tol": 1e-4, "seed": 0, "backend": "auto"}
    result = cluster(z, z, labels, options)
    assert result["accuracy"] == 1.0 and result["whitened"] and result["restarts"] == 20


@pytest.fixture
def tiny_mnist_h5(tmp_path):
    rng = np.random.default_rng(0)
    splits = {
        s: (rng.integers(0, 256, (n, 32, 32, 1)).astype(np.uint8), rng.integers(0, 10, n))
        for s, n in (("train", 96), ("test", 40))
    }
    path = tmp_path / "mnist.h5"
    write_h5(path, splits, {"dataset": "mnist"})
    return path, splits


def test_image_source_scales_to_minus_one_one(tiny_mnist_h5):
    path, splits = tiny_mnist_h5
    source = ImageSource({"path": path, "train_splits": ["train"], "test_split": "test"}, torch.device("cpu"))
    x, y = source.train_batch(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 32, 32) and x.min() >= -1 and x.max() <= 1
    test_x, test_y = source.test_set(0)
    expected = splits["test"][0][..., 0].astype(np.float32) * 2 / 255 - 1
    np.testing.assert_allclose(test_x[:, 0].numpy(), expected, atol=1e-6)


def test_train_on_images_and_export_latents_round_trip(smoke_config, tiny_mnist_h5, tmp_path):
    path, splits = tiny_mnist_h5
    smoke_config["datasets"]["mnist"]["max_examples"] = None
    spec = tiny_spec(smoke_config, "vae", total_images=128, eval_every=64)
    spec.update(dataset="mnist", dz=32)
    spec["architecture"].update(latent_width=4, latent_channels=2)
    spec["data"] = {"path": str(path), "train_splits": ["train"], "test_split": "test", "max_examples": None}
    metrics = train_cell(spec, tmp_path / "cell", lambda m: None)
    assert metrics["status"] == "ok" and "classifier_accuracy" in metrics["reported"]
    assert "mean_distance" not in metrics["reported"]
    out = tmp_path / "latents.h5"
    export_latents(tmp_path / "cell" / "model.pt", ["train", "test"], out, chunk=32)
    z, labels = read_latents(out, "test")
    assert z.shape == (40, 32) and z.dtype == np.float32
    np.testing.assert_array_equal(labels, splits["test"][1])
    with h5py.File(out) as f:
        assert f.attrs["model"] == "vae" and f.attrs["latent"] == "sample" and f.attrs["dz"] == 32
    assert list(tmp_path.glob(".latents*")) == []


def test_latents_are_exported_from_where_the_data_lie_now(smoke_config, tiny_mnist_h5, tmp_path):
    """The data moved after training (a run setting): the export reads the rule's data file, not
    the location the weights recorded; the recorded location alone is refused, naming it."""
    path, splits = tiny_mnist_h5
    spec = tiny_spec(smoke_config, "baseline", total_images=64, eval_every=64)
    spec.update(dataset="mnist", dz=32)
    spec["architecture"].update(latent_width=4, latent_channels=2)
    spec["data"] = {"path": str(path), "train_splits": ["train"], "test_split": "test", "max_examples": None}
    train_cell(spec, tmp_path / "cell", lambda m: None)
    moved = tmp_path / "elsewhere" / path.name
    moved.parent.mkdir()
    path.rename(moved)
    with pytest.raises(DamagedDataError, match=str(path)):
        export_latents(tmp_path / "cell" / "model.pt", ["test"], tmp_path / "old.h5", chunk=32)
    export_latents(tmp_path / "cell" / "model.pt", ["test"], tmp_path / "latents.h5", chunk=32, data_path=moved)
    _, labels = read_latents(tmp_path / "latents.h5", "test")
    np.testing.assert_array_equal(labels, splits["test"][1])
