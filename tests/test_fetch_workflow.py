"""Data through Snakemake: a new IDX dataset by configuration alone, and a failed download.

Both run the real workflow (smoke scale) in a temporary directory, with a config overlay.
"""

import hashlib
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml

from tests.conftest import ROOT
from tests.test_fetch import server  # noqa: F401  (the HTTP server fixture)
from tests.test_prepare import _idx_gz

FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", (300, 28, 28)),
    "train_labels": ("train-labels-idx1-ubyte.gz", (300,)),
    "test_images": ("t10k-images-idx3-ubyte.gz", (100, 28, 28)),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", (100,)),
}
ARCHITECTURE = {"colors": 1, "classes": 10, "depth": 16, "latent_width": 4}


def run_snakemake(workdir, overlay: dict, *targets, options=()):
    (workdir / "overlay.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *options,
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        str(workdir / "overlay.yaml"),
        "--",
        *targets,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


def fabricate_idx(folder):
    """Tiny IDX files (gzip) in `folder`; returns data.sources file entries with their md5s."""
    folder.mkdir()
    rng = np.random.default_rng(7)
    entries = {}
    for key, (name, shape) in FILES.items():
        values = rng.integers(0, 10, shape) if len(shape) == 1 else rng.integers(0, 256, shape)
        data = _idx_gz(folder / name, values).read_bytes()
        entries[key] = {"name": name, "md5": [hashlib.md5(data).hexdigest()]}
    return entries


@pytest.mark.slow
def test_an_idx_dataset_added_by_configuration_alone_trains_one_cell(tmp_path):
    name = "fashion_mnist-tiny"  # `_` and `-` in a dataset name
    files = fabricate_idx(tmp_path / "src")
    overlay = {
        "datasets": {name: ARCHITECTURE},
        "data": {"sources": {name: {"format": "idx", "path": str(tmp_path / "src"), "files": files}}},
    }
    work = tmp_path / "work"
    work.mkdir()
    target = f"results/smoke/{name}/acai/dz32/seed0/metrics.json"
    result = run_snakemake(work, overlay, target)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads((work / target).read_text())
    assert metrics["spec"]["dataset"] == name and metrics["spec"]["architecture"]["colors"] == 1
    with h5py.File(work / f"results/data/{name}.h5") as f:
        assert f["train/images"].shape == (300, 32, 32, 1) and f["test/labels"].shape == (100,)
        assert f.attrs["md5:t10k-labels-idx1-ubyte.gz"] == files["test_labels"]["md5"][0]

    # Where the files come from and how they are downloaded never reruns anything...
    source = overlay["data"]["sources"][name]
    source["mirrors"] = ["https://mirror.example.org/idx"]
    overlay["data"]["download"] = {"retries": 7, "progress_seconds": 1}
    (tmp_path / "src").rename(tmp_path / "moved")
    source["path"] = str(tmp_path / "moved")
    again = run_snakemake(work, overlay, target, options=["-n"])
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, again.stderr
    # ...what the content is (an accepted md5) does.
    source["files"]["test_labels"]["md5"].append("0" * 32)
    changed = run_snakemake(work, overlay, target, options=["-n"])
    assert changed.returncode == 0 and "prepare_dataset" in changed.stdout, changed.stderr


@pytest.mark.slow
def test_a_failed_download_stops_the_workflow_with_one_clean_message(tmp_path, server):  # noqa: F811
    files = {
        key: {"name": name, "md5": ["ab" * 16], "urls": [f"{server.url}/a/{name}", f"{server.url}/b/{name}"]}
        for key, (name, _) in FILES.items()
    }
    urls = files["train_images"]["urls"]
    overlay = {
        "datasets": {"tiny": ARCHITECTURE},
        "data": {"download": {"retries": 0}, "sources": {"tiny": {"format": "idx", "files": files}}},
    }
    result = run_snakemake(tmp_path, overlay, "results/data/tiny.h5")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    expected = (
        f"ERROR: tiny: could not download train-images-idx3-ubyte.gz (expected md5 {'ab' * 16}); "
        f"tried {urls[0]} (HTTP 404 Not Found); {urls[1]} (HTTP 404 Not Found). To use a local copy "
        "instead, put train-images-idx3-ubyte.gz in a folder and set data.sources.tiny.path to that folder"
    )
    assert expected in (tmp_path / "results/smoke/logs/data/tiny.log").read_text().splitlines()
    assert expected in output.splitlines()
    assert "Traceback" not in output and "DataError" not in output
    assert not (tmp_path / "results/data/tiny.h5").exists()
    assert not (tmp_path / "results/data/downloads").exists()  # not left behind empty


def docs_overlay(marker="# fashion.yaml: "):
    """The Fashion-MNIST overlay of docs/data.md and the command written on its first line."""
    text = (ROOT / "docs" / "data.md").read_text()
    block = text[text.index(marker) :]
    block = block[: block.index("```")]
    command = block.splitlines()[0].removeprefix(marker)
    return command, block


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_the_docs_fashion_mnist_example_reaches_a_table(tmp_path):
    """A dry run of the documented command: the quick scale, every job from download to Table 2."""
    command, block = docs_overlay()
    (tmp_path / "fashion.yaml").write_text(block)
    assert command == "snakemake --cores all --configfile config/quick.yaml fashion.yaml -- results/quick/table2.tex"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path / "work"),
            "--configfile",
            str(ROOT / "config" / "quick.yaml"),
            str(tmp_path / "fashion.yaml"),
            "--",
            "results/quick/table2.tex",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for job in ("prepare_dataset", "train_cell", "pixels_probe", "table2"):
        assert f"rule {job}:" in output or f"\n{job} " in output, job
    assert "results/data/fashion-mnist.h5" in output and "results/quick/table2.tex" in output


@pytest.mark.slow
def test_labels_beyond_classes_stop_the_preparation_before_any_training(tmp_path):
    """In a fresh clone the data are not prepared when the config is checked: the preparation
    refuses them in one line, and no training job starts on them."""
    files = fabricate_idx(tmp_path / "src")  # labels 0-9
    overlay = {
        "datasets": {"tiny": {**ARCHITECTURE, "classes": 5}},
        "data": {"sources": {"tiny": {"format": "idx", "path": str(tmp_path / "src"), "files": files}}},
    }
    work = tmp_path / "work"
    work.mkdir()
    result = run_snakemake(work, overlay, "results/smoke/tiny/acai/dz32/seed0/metrics.json")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    expected = (
        "ERROR: config key 'datasets.tiny.classes': 5, but the data being prepared into results/data/tiny.h5 "
        "have labels up to 9: classes must be at least 10 (nothing written)"
    )
    assert expected in output.splitlines(), output[-3000:]
    assert "Traceback" not in output and not (work / "results/data/tiny.h5").exists()
    assert not (work / "results/smoke/logs/train").exists(), "a training job started"
