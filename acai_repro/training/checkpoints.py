"""A trained cell read back, and the provenance its records carry: load_trained reads a cell's
model.pt (after checking its checksums, acai_repro.training.weights_file); code_version and
provenance say which code, libraries and device computed a record. Downstream evaluation, the
figures and the data preparation import this module, not the trainers (acai_repro.training.train).
"""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import torch

from acai_repro.config import ROOT
from acai_repro.models import build_model
from acai_repro.nets import Architecture, dense
from acai_repro.results import DamagedRecordError
from acai_repro.training.devices import held_slot
from acai_repro.training.weights_file import check_contents, quarantine


def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "code_version": code_version(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": np.__version__,
        "device": str(device),
        "device_name": name or platform.machine(),
        "threads": torch.get_num_threads(),
        "host": platform.node(),
        # which of the machine's devices (acai_repro.training.devices): "cuda" is the job's one device
        **held_slot(),
    }


def load_trained(path, device="cpu"):
    """(model, classifier, spec) from a cell's model.pt, in eval mode. Weights whose bytes do
    not match their checksums are moved aside and named (DamagedRecordError): the cell's
    output is then missing, so the next run trains it again (acai_repro.training.weights_file)."""
    try:
        check_contents(path)
    except DamagedRecordError as error:
        try:
            aside = quarantine(path)
        except OSError as why:  # a read-only folder: the damage is still named
            raise DamagedRecordError(
                f"{error}; could not move it aside ({why}): delete it, and the next run trains the cell again"
            ) from None
        raise DamagedRecordError(
            f"{error}; moved to {aside}: the next run trains the cell again (rename it back to keep it as it is)"
        ) from None
    saved = torch.load(path, map_location=device, weights_only=False)
    spec = saved["spec"]
    arch = Architecture(**spec["architecture"])
    model = build_model(spec["model"], arch, spec["model_options"]).to(device)
    model.load_state_dict(saved["model"])
    classifier = dense(arch.dz, spec["classes"]).to(device)
    classifier.load_state_dict(saved["classifier"])
    return model.eval(), classifier.eval(), spec
