"""Damage named, never read as data: every reader of a prepared dataset checks its checksums
(HDF5's Fletcher-32 on each dataset) and, where a cell names its data, that the file holds them."""

import os

import h5py
import numpy as np
import pytest
import torch

from acai_repro.data import DamagedDataError, ImageSource, read_split
from acai_repro.data.checksums import add_checksums, has_checksums
from acai_repro.data.checksums import main as checksums_main
from acai_repro.data.prepare import write_h5
from acai_repro.results import DamagedRecordError

SPLITS = {"train": 300, "test": 40}


def _splits(seed=0):
    rng = np.random.default_rng(seed)
    return {
        s: (rng.integers(0, 256, (n, 32, 32, 1)).astype(np.uint8), rng.integers(0, 10, n)) for s, n in SPLITS.items()
    }


@pytest.fixture
def prepared(tmp_path):
    path = tmp_path / "mnist.h5"
    write_h5(path, _splits(), {"dataset": "mnist", "content": "c0ffee"})
    return path


def _corrupt_chunk(path, dataset, offset_in_chunk=100):
    """Zero a few bytes inside the first stored chunk of `dataset` (as a disk fault would)."""
    with h5py.File(path) as f:
        start = f[dataset].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(start + offset_in_chunk)
        f.write(bytes(16))


@pytest.mark.parametrize("dataset", ["train/images", "train/labels"])
def test_a_damaged_prepared_file_is_named_not_read_as_data(prepared, dataset):
    _corrupt_chunk(prepared, dataset, offset_in_chunk=8 if dataset.endswith("labels") else 100)
    with pytest.raises(DamagedDataError) as error:
        read_split(prepared, "train")
    message = str(error.value)
    assert (
        message.startswith(f"{prepared}: damaged prepared data (") and "delete it to have it prepared again" in message
    )
    assert isinstance(error.value, DamagedRecordError), "the training job reports it in one line, as a damaged record"
    assert len(read_split(prepared, "test")[1]) == SPLITS["test"], "an intact split still reads"


def test_without_the_checksum_filter_the_damage_reads_as_data(tmp_path):
    """Why the filter: the same fault in a file written without it reads back as other pixels."""
    path = tmp_path / "plain.h5"
    images = _splits()["train"][0]
    with h5py.File(path, "w") as f:
        f.create_dataset("train/images", data=images, chunks=(64, 32, 32, 1))
    _corrupt_chunk(path, "train/images")
    with h5py.File(path) as f:
        assert not np.array_equal(f["train/images"][:], images)


def test_a_file_without_checksums_is_refused_until_they_are_added_in_place(tmp_path):
    path = tmp_path / "mnist.h5"
    splits = _splits()
    with h5py.File(path, "w") as f:  # as prepared before files carried checksums
        for split, (images, labels) in splits.items():
            f.create_dataset(f"{split}/images", data=images, chunks=(20, 32, 32, 1), compression="lzf")
            f.create_dataset(f"{split}/labels", data=labels)
        f.attrs["dataset"] = "mnist"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(DamagedDataError) as error:
        read_split(path, "train")
    assert str(error.value) == (
        f"{path}: prepared without checksums (by an earlier version), so damage could not be told from data: add them "
        f"in place with `python -m acai_repro.data.checksums {path}` (content and file time kept: nothing retrains), "
        "or delete it to have it prepared again"
    )
    assert checksums_main([str(path)]) == 0 and has_checksums(path)
    assert os.stat(path).st_mtime_ns == 1_000_000_000, "the file time moved: every cell on it would retrain"
    for split, (images, labels) in splits.items():
        got_images, got_labels = read_split(path, split)
        assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels), split
    with h5py.File(path) as f:
        assert f.attrs["dataset"] == "mnist" and f["train/images"].compression == "lzf"
    assert add_checksums(path) is False, "a file with checksums is left as it is"


def test_a_cell_naming_other_data_is_refused(prepared):
    data = {"path": prepared, "train_splits": ["train"], "test_split": "test", "content": "0ther"}
    with pytest.raises(DamagedDataError, match=r"mnist.h5: holds data c0ffee, but the cell names data 0ther"):
        ImageSource(data, torch.device("cpu"), 10, "mnist")
    source = ImageSource({**data, "content": "c0ffee"}, torch.device("cpu"), 10, "mnist")
    assert len(source.train_labels) == SPLITS["train"]


def test_missing_prepared_data_are_one_line(tmp_path):
    with pytest.raises(DamagedDataError, match=r"mnist.h5: no prepared data there \(data.data_dir\)"):
        read_split(tmp_path / "mnist.h5", "train")
