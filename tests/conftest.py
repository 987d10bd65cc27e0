import json
import os
import signal
import subprocess
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


def child_env() -> dict:
    """The environment of a test's child Python: this checkout first on PYTHONPATH."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def _as_from_a_terminal():
    # An ignored SIGINT is inherited across exec: where pytest itself was started ignoring it
    # (`cmd &` in a script), a child would ignore the ^C a test sends it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_child(command: list, **popen_options) -> subprocess.Popen:
    """A child process whose output (stdout and stderr, as text) the test reads, taking ^C as one
    started from a terminal does."""
    return subprocess.Popen(
        command,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_as_from_a_terminal,
        **popen_options,
    )
