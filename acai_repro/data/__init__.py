"""Data sources behind one interface, keyed by dataset name.

A source yields training batches on the training device from an explicit generator
(so a resumed run draws the same batches) and a test set per evaluation.
"""

from __future__ import annotations

import numpy as np
import torch

from acai_repro.data.fetch import DataError
from acai_repro.data.lines import angle_labels, random_angles, render_lines
from acai_repro.results import DamagedRecordError


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


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×H×W×C -> float32 N×C×H×W in [-1, 1] (x·2/255 - 1)."""
    return images.permute(0, 3, 1, 2).float() * (2.0 / 255.0) - 1.0


# A prepared file's attributes: CHECKSUMS says every dataset carries HDF5's Fletcher-32 checksum
# (h5py verifies it on each read of a chunk); CONTENT is the digest of what its content depends
# on (acai_repro.config.content_digest), the data a cell's spec names.
CHECKSUMS, CHECKSUM_KIND, CONTENT = "checksums", "fletcher32", "content"


class DamagedDataError(DataError, DamagedRecordError):
    """A prepared data file that cannot be read as what it should be: damaged, without checksums,
    or not the data a cell names (the file named, with what to do)."""


def read_split(path, split: str, limit: int | None = None, content: str | None = None):
    """(uint8 images N×32×32×C, int64 labels) of one split of a prepared HDF5 file, its checksums
    verified; with `content`, the file must hold the data of that digest (a cell's data.content)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            check_prepared(f, path, content)
            if split not in f:
                raise KeyError(f"{path} has no split {split!r} (it has: {', '.join(f)})")
            n = len(f[split]["labels"]) if limit is None else min(limit, len(f[split]["labels"]))
            return f[split]["images"][:n], f[split]["labels"][:n]
    except FileNotFoundError:
        raise DamagedDataError(
            f"{path}: no prepared data there (data.data_dir): prepare it, or name the folder it is in"
        ) from None
    except OSError as error:
        raise DamagedDataError(
            f"{path}: damaged prepared data ({error}); delete it to have it prepared again"
        ) from None


def check_prepared(f, path, content: str | None = None) -> None:
    """A prepared file that carries checksums on every dataset and, where `content` is given,
    holds those data (DamagedDataError naming the file otherwise)."""
    unchecked = [name for name, item in _datasets(f) if not item.fletcher32]
    if f.attrs.get(CHECKSUMS) != CHECKSUM_KIND or unchecked:
        raise DamagedDataError(
            f"{path}: prepared without checksums (by an earlier version), so damage could not be told from data: "
            f"add them in place with `python -m acai_repro.data.checksums {path}` (content and file time "
            "kept: nothing retrains), or delete it to have it prepared again"
        )
    recorded = f.attrs.get(CONTENT)
    if content is not None and recorded is not None and str(recorded) != content:
        raise DamagedDataError(
            f"{path}: holds data {recorded}, but the cell names data {content} (another data.sources entry): "
            "prepare this dataset again (delete the file) or point data.data_dir at its data"
        )


def _datasets(f):
    found = []
    f.visititems(lambda name, item: found.append((name, item)) if hasattr(item, "fletcher32") else None)
    return found


class ImageSource:
    """A prepared real dataset, held on the training device as uint8.

    Training batches are drawn uniformly with replacement from the training splits by the
    cell's data generator; every evaluation uses the whole test split.
    """

    line_metrics = False

    def __init__(self, data: dict, device: torch.device, classes: int | None = None, dataset: str = "?"):
        limit, content = data.get("max_examples"), data.get("content")
        parts = [read_split(data["path"], s, limit, content) for s in data["train_splits"]]
        test_images, test_labels = read_split(data["path"], data["test_split"], limit, content)
        if classes is not None:
            check_labels(data["path"], [p[1] for p in parts] + [test_labels], classes, dataset)
        self.device = device
        self.train_images = torch.from_numpy(np.concatenate([p[0] for p in parts])).to(device)
        self.train_labels = torch.from_numpy(np.concatenate([p[1] for p in parts])).to(device)
        self.test = (to_float(torch.from_numpy(test_images).to(device)), torch.from_numpy(test_labels).to(device))

    def train_batch(self, batch: int, generator: torch.Generator):
        index = torch.randint(len(self.train_labels), (batch,), generator=generator, device=self.device)
        return to_float(self.train_images[index]), self.train_labels[index]

    def test_set(self, evaluation: int):
        return self.test


class LabelError(ValueError):
    """A prepared dataset whose labels the configured number of classes cannot hold."""


def check_labels(path, label_arrays, classes: int, dataset: str) -> None:
    """Every label is a class index below `classes` (the classifier's outputs), before training."""
    largest = max((int(labels.max()) for labels in label_arrays if len(labels)), default=-1)
    if largest >= classes:
        raise LabelError(
            f"config key 'datasets.{dataset}.classes': {classes}, but {path} has labels up to {largest}: "
            f"classes must be at least {largest + 1}"
        )


def build_source(spec: dict, device: torch.device):
    """The data source of a cell spec (see acai_repro.config.cell_spec)."""
    if spec["dataset"] == "lines":
        return LinesSource(device, spec["evaluation"]["test_lines"], spec["seed"])
    return ImageSource(spec["data"], device, spec["classes"], spec["dataset"])
