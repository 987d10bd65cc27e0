import json
import os
import signal
from pathlib import Path

import pytest
import torch
import yaml

from acai_repro.config import cell_spec, load_config, with_run_settings

ROOT = Path(__file__).resolve().parent.parent
LINES_REFERENCE = ROOT / "tests" / "data" / "lines_reference.npz"  # provenance: tests/data/README.md

# The four official MNIST .gz files, for the tests that prepare or train on real MNIST. Only
# CI sets this (.ci/run); elsewhere those tests skip, saying how to run them.
MNIST_DIR = Path(os.environ["ACAI_MNIST_DIR"]) if os.environ.get("ACAI_MNIST_DIR") else None
NO_MNIST = (
    "needs the four MNIST .gz files: set ACAI_MNIST_DIR to the folder holding them "
    "(e.g. from https://storage.googleapis.com/cvdf-datasets/mnist/)"
)


def require_mnist() -> Path:
    """The local MNIST folder, or skip the calling test."""
    if MNIST_DIR is None or not MNIST_DIR.is_dir():
        pytest.skip(NO_MNIST)
    return MNIST_DIR


def mnist_overlay(directory: Path) -> Path:
    """A config overlay that reads MNIST from ACAI_MNIST_DIR instead of downloading it."""
    path = Path(directory) / "mnist_local.yaml"
    path.write_text(yaml.safe_dump({"data": {"sources": {"mnist": {"path": str(require_mnist())}}}}))
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    # Bit-exact comparisons need the same thread count in every run of a test.
    torch.set_num_threads(1)


@pytest.fixture
def smoke_config():
    return load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml")


@pytest.fixture
def paper_config():
    return load_config(ROOT / "config" / "config.yaml")


def tiny_spec(config, model, **training):
    """What the training job receives for a lines cell at dz 64: the spec plus the run settings."""
    spec = with_run_settings(cell_spec(config, "lines", model, 64, 0), config)
    spec["training"].update(training)
    return spec


def fused_specs(config, model, dz=16, seeds=(0, 1, 2), **training):
    """What the training job receives for each seed of a fused group (training.seed_fusion) of a
    lines cell: the specs plus the run settings."""
    config = json.loads(json.dumps(config))
    config["seeds"] = list(seeds)
    config["training"].update(fast_path=True, seed_fusion=True)
    specs = [with_run_settings(cell_spec(config, "lines", model, dz, seed), config) for seed in seeds]
    for spec in specs:
        spec["training"].update(training)
    return specs


def pytest_collection_modifyitems(items):
    """Tests that read the MNIST files carry the `mnist` marker (those of the smoke run, which
    reads them, and those marked by hand), so CI's second pass can run them alone."""
    for item in items:
        if "smoke_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)


def as_from_a_terminal():
    """Popen's preexec_fn for a child that must take ^C as one started from a terminal does, even
    where pytest itself was started with SIGINT ignored (`cmd &` in a script): an ignored
    disposition is inherited across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
