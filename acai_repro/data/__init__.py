"""Data sources behind one interface, keyed by dataset name.

A source yields training batches on the training device from an explicit generator
(so a resumed run draws the same batches) and a test set per evaluation.
"""

from __future__ import annotations

import torch

from acai_repro.data.lines import angle_labels, random_angles, render_lines


class LinesSource:
    """Infinite synthetic lines, rendered on the training device."""

    name = "lines"
    line_metrics = True

    def __init__(self, device: torch.device, test_size: int, seed: int):
        self.device = device
        self.test_size = test_size
        self.seed = seed

    def train_batch(self, batch: int, generator: torch.Generator):
        angles = random_angles(batch, generator, self.device)
        return render_lines(angles), angle_labels(angles)

    def test_set(self, evaluation: int):
        """Fresh random lines for evaluation number `evaluation` (fixed per seed and index)."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + evaluation)
        angles = random_angles(self.test_size, generator)
        return render_lines(angles).to(self.device), angle_labels(angles).to(self.device)


def build_source(spec: dict, device: torch.device):
    """The data source of a cell spec (see acai_repro.config.cell_spec)."""
    if spec["dataset"] == "lines":
        return LinesSource(device, spec["evaluation"]["test_lines"], spec["seed"])
    raise ValueError(f"unknown dataset {spec['dataset']!r}; valid datasets: lines")
