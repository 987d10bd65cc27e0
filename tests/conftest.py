import copy
from pathlib import Path

import pytest
import torch

from acai_repro.config import cell_spec, load_config

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LINES_REFERENCE = SHARED / "data" / "lines_reference.npz"


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
    spec = cell_spec(config, "lines", model, 64, 0)
    spec = copy.deepcopy(spec)
    spec["training"].update(training)
    return spec
