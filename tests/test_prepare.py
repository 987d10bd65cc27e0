import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import yaml
from PIL import Image

from acai_repro.data.prepare import (
    DataError,
    SourceFile,
    fetch,
    load_celeba,
    load_cifar10,
    load_mnist,
    load_svhn,
    prepare,
    read_idx,
    read_svhn_mat,
    verify,
    write_h5,
)
from tests.conftest import MNIST_DIR, NO_MNIST, ROOT

OFFICIAL = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]["sources"]


def _paths(found):
    return {key: path for key, (path, _) in found.items()}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _idx_gz(path, array):
    magic = 2051 if array.ndim == 3 else 2049
    header = struct.pack(">II", magic, len(array)) + (struct.pack(">II", *array.shape[1:]) if array.ndim == 3 else b"")
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def _tiny_mnist(folder, n=5):
    rng = np.random.default_rng(0)
    files = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        labels = _idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
        files[f"{split}_images"] = SourceFile(images.name, (_md5(images.read_bytes()),))
        files[f"{split}_labels"] = SourceFile(labels.name, (_md5(labels.read_bytes()),))
    return files


def test_idx_parsing_and_padding(tmp_path):
    files = _tiny_mnist(tmp_path)
    paths = _paths(fetch(files, {"path": tmp_path}, tmp_path / "downloads"))
    splits = load_mnist(paths)
    images, labels = splits["train"]
    raw = read_idx(paths["train_images"])
    assert images.shape == (5, 32, 32, 1) and images.dtype == np.uint8 and labels.shape == (5,)
    assert np.array_equal(images[:, 2:30, 2:30, 0], raw)
    assert images[:, :2].max() == 0 and images[:, :, -2:].max() == 0  # background -> -1 later


def test_md5_of_decompressed_content_is_accepted(tmp_path):
    path = _idx_gz(tmp_path / "labels.gz", np.arange(10))
    content_md5 = _md5(gzip.decompress(path.read_bytes()))
    assert verify(path, ("0" * 32, content_md5)) == content_md5


def test_checksum_mismatch_names_file_and_expected(tmp_path):
    files = _tiny_mnist(tmp_path)
    files["train_labels"] = SourceFile(files["train_labels"].name, ("ab" * 16,))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz.*abababab"):
        fetch(files, {"path": tmp_path}, tmp_path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="nothere.mat: missing"):
        fetch({"train": SourceFile("nothere.mat", ("0" * 32,))}, {"path": tmp_path}, tmp_path)


def test_truncated_gzip_is_reported(tmp_path):
    path = _idx_gz(tmp_path / "images.gz", np.zeros((4, 28, 28)))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)
    with pytest.raises(DataError, match="images.gz"):
        verify(path, ("0" * 32,))


def test_svhn_mat_v5(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 4), ("extra", 3), ("test", 2)):
        x = rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
        y = np.array([[10], [1], [9], [5]][:n], dtype=np.uint8)
        scipy.io.savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y}, format="5")
    splits = load_svhn({s: tmp_path / f"{s}_32x32.mat" for s in ("train", "extra", "test")})
    images, labels = splits["train"]
    assert images.shape == (4, 32, 32, 3)
    assert labels.tolist() == [0, 1, 9, 5]  # 10 means digit 0
    x = scipy.io.loadmat(tmp_path / "train_32x32.mat")["X"]
    assert np.array_equal(images[2], x[..., 2])


def _cifar_archive(path, n=3):
    rng = np.random.default_rng(2)
    data = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"labels": list(rng.integers(0, 10, n))}
            data[name] = batch
            blob = pickle.dumps(batch)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return data


def test_cifar10_python_pickles_in_tar_gz(tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    data = _cifar_archive(archive)
    files = {"archive": SourceFile(archive.name, (_md5(archive.read_bytes()),))}
    splits = load_cifar10(_paths(fetch(files, {"path": archive}, tmp_path)))
    images, labels = splits["train"]
    assert images.shape == (15, 32, 32, 3) and splits["test"][0].shape == (3, 32, 32, 3)
    first = data["data_batch_1"][b"data"][0].reshape(3, 32, 32)
    assert np.array_equal(images[0, :, :, 1], first[1])  # channel-last
    assert labels[:3].tolist() == list(data["data_batch_1"][b"labels"])


def test_truncated_cifar_archive_is_reported(tmp_path):
    archive = tmp_path / "cifar.tar.gz"
    _cifar_archive(archive)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match="cifar.tar.gz"):
        load_cifar10({"archive": archive})


def _celeba_jpegs(folder, n=3):
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3)).astype(np.uint8)).save(folder / f"{i:06d}.jpg")
    return folder


def test_celeba_folder_and_zip(tmp_path):
    folder = _celeba_jpegs(tmp_path / "img_align_celeba")
    archive = tmp_path / "img_align_celeba.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.iterdir()):
            z.write(p, f"img_align_celeba/{p.name}")
    from_folder, from_zip = load_celeba(folder)["train"], load_celeba(archive)["train"]
    assert from_folder[0].shape == (3, 32, 32, 3) and from_folder[0].dtype == np.uint8
    assert np.array_equal(from_folder[0], from_zip[0])
    crop = np.asarray(Image.open(folder / "000000.jpg"))[36:-36, 16:-16]
    expected = np.asarray(Image.fromarray(crop).resize((32, 32), Image.BICUBIC))
    assert np.array_equal(from_folder[0][0], expected)


def test_h5_round_trip_and_no_partial_output(tmp_path):
    images = np.zeros((3, 32, 32, 1), np.uint8)
    out = tmp_path / "d.h5"
    write_h5(out, {"train": (images, np.arange(3))}, {"dataset": "tiny"})
    with h5py.File(out) as f:
        assert f["train/images"].shape == (3, 32, 32, 1) and list(f["train/labels"]) == [0, 1, 2]
        assert f.attrs["dataset"] == "tiny"
    bad = tmp_path / "bad.h5"
    with pytest.raises(DataError):
        write_h5(bad, {"train": (np.zeros((3, 28, 28, 1), np.uint8), np.arange(3))}, {})
    assert list(tmp_path.iterdir()) == [out]


def test_failed_prepare_leaves_nothing(tmp_path):
    (tmp_path / "src").mkdir()
    source = {**OFFICIAL["mnist"], "path": str(tmp_path / "src")}
    with pytest.raises(DataError, match=r"missing \(expected md5 f68b3c2dcbeaaa9fbdd348bbdeb94873 or 6bbc"):
        prepare("mnist", source, tmp_path / "mnist.h5", tmp_path / "dl")
    assert not (tmp_path / "mnist.h5").exists()
    with pytest.raises(DataError, match="format 'jpeg2000'; valid: idx, svhn_mat, cifar10_python, celeba_jpeg"):
        prepare("imagenet", {"format": "jpeg2000"}, tmp_path / "x.h5", tmp_path)


@pytest.mark.skipif(MNIST_DIR is None, reason=NO_MNIST)
def test_real_mnist(tmp_path):
    out = tmp_path / "mnist.h5"
    prepare("mnist", {**OFFICIAL["mnist"], "path": str(MNIST_DIR)}, out, tmp_path / "downloads")
    with h5py.File(out) as f:
        train, test = f["train/images"], f["test/images"]
        assert train.shape == (60_000, 32, 32, 1) and test.shape == (10_000, 32, 32, 1)
        assert f["train/labels"][:].min() == 0 and f["train/labels"][:].max() == 9
        assert train[:, :2].max() == 0 and train[:100].max() == 255
        assert f.attrs["md5:train-images-idx3-ubyte.gz"] == "6bbc9ace898e44ae57da46a324031adb"


def test_truncated_file_message_gives_the_expected_checksum(tmp_path):
    path = _idx_gz(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28)))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: truncated.*; expected md5 " + "ab" * 16):
        verify(path, ("ab" * 16,))


def test_every_single_byte_corruption_of_a_gz_is_a_named_data_error(tmp_path):
    """No corruption may end in a bare zlib.error / struct.error naming no file."""
    clean = _idx_gz(tmp_path / "clean.gz", np.arange(60).reshape(3, 4, 5)).read_bytes()
    expected = (_md5(clean), _md5(gzip.decompress(clean)))
    corrupt = tmp_path / "images.gz"
    for position in range(len(clean)):
        for flip in (0x01, 0xFF):
            data = bytearray(clean)
            data[position] ^= flip
            corrupt.write_bytes(bytes(data))
            for check in (lambda: verify(corrupt, expected), lambda: read_idx(corrupt)):
                try:
                    check()  # some corruptions (gzip header's mtime, flags) leave the content intact
                except DataError as error:
                    assert "images.gz" in str(error)


def test_idx_dataset_of_any_splits(tmp_path):
    rng = np.random.default_rng(4)
    paths = {}
    for split, n in (("train", 6), ("valid", 2), ("test", 3)):
        paths[f"{split}_images"] = _idx_gz(tmp_path / f"{split}-img.gz", rng.integers(0, 256, (n, 28, 28)))
        paths[f"{split}_labels"] = _idx_gz(tmp_path / f"{split}-lab.gz", rng.integers(0, 10, n))
    splits = load_mnist(paths)
    assert {s: len(v[1]) for s, v in splits.items()} == {"test": 3, "train": 6, "valid": 2}
    del paths["valid_labels"]
    with pytest.raises(DataError, match="pairs <split>_images / <split>_labels"):
        load_mnist(paths)


def test_svhn_file_without_its_arrays_is_a_data_error(tmp_path):
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"Z": np.zeros(3)}, format="5")
    with pytest.raises(DataError, match="train_32x32.mat: not a readable SVHN MATLAB file"):
        read_svhn_mat(tmp_path / "train_32x32.mat")


def test_an_md5_key_on_a_data_source_is_rejected(tmp_path):
    from acai_repro.config import ConfigError, load_config

    overlay = tmp_path / "md5.yaml"
    overlay.write_text("data: {sources: {mnist: {md5: f68b3c2dcbeaaa9fbdd348bbdeb94873}}}\n")
    with pytest.raises(ConfigError, match=r"'data.sources.mnist.md5' is unknown; .*: format, path, mirrors, files"):
        load_config(ROOT / "config" / "config.yaml", overlay)


# ---- what a prepared file must be before it is written or read ----------------------------------
def _tiny_idx_source(folder, test_shape=(5, 28, 28), labels_up_to=9):
    """An IDX `data.sources` entry over tiny files in `folder` (their md5s listed)."""
    rng = np.random.default_rng(1)
    folder.mkdir(exist_ok=True)
    files = {}
    for split, shape in (("train", (5, 28, 28)), ("test", test_shape)):
        images = _idx_gz(folder / f"{split}-images.gz", rng.integers(0, 256, shape))
        labels = _idx_gz(folder / f"{split}-labels.gz", np.arange(shape[0]) % (labels_up_to + 1))
        for key, path in ((f"{split}_images", images), (f"{split}_labels", labels)):
            files[key] = {"name": path.name, "md5": [_md5(path.read_bytes())], "urls": []}
    return {"format": "idx", "path": str(folder), "files": files}


@pytest.mark.parametrize(
    "shape,message",
    [
        ((5, 28, 27), r"test-images.gz: images of 28×27 pixels; an IDX dataset's images are square"),
        (
            (5, 27, 27),
            r"train-images.gz: images of 28×28 pixels, but split test has 27×27: every split of a dataset has one image size",
        ),
    ],
)
def test_an_idx_file_of_the_wrong_shape_is_refused_though_its_md5_is_listed(tmp_path, shape, message):
    source = _tiny_idx_source(tmp_path / "src", test_shape=shape)
    with pytest.raises(DataError, match=message):
        prepare("mnist", source, tmp_path / "data" / "mnist.h5", tmp_path / "dl")
    assert not (tmp_path / "data" / "mnist.h5").exists()


def test_labels_beyond_classes_are_refused_at_preparation_and_nothing_is_written(tmp_path):
    source = _tiny_idx_source(tmp_path / "src", labels_up_to=9)  # 5 images a split: labels 0-4
    labels = {"classes": 3, "splits": ["train", "test"], "key": "datasets.mnist.classes"}
    out = tmp_path / "data" / "mnist.h5"
    with pytest.raises(
        DataError,
        match=r"^config key 'datasets.mnist.classes': 3, but the data being prepared into "
        r".*mnist.h5 have labels up to 4: classes must be at least 5 \(nothing written\)$",
    ):
        prepare("mnist", source, out, tmp_path / "dl", labels=labels)
    assert not out.exists()
    prepare("mnist", source, out, tmp_path / "dl", labels={**labels, "classes": 5})
    assert out.exists()


def test_a_read_only_data_folder_is_one_line_before_any_download(tmp_path, monkeypatch):
    import acai_repro.data.prepare as prepare_module

    source = _tiny_idx_source(tmp_path / "src")
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    if os.geteuid() == 0:  # root writes into a read-only folder: the folder reads as one it may not
        monkeypatch.setattr(prepare_module.os, "access", lambda path, mode: Path(path) != data)
    try:
        with pytest.raises(DataError) as error:
            prepare("mnist", source, data / "mnist.h5", data / "downloads")
    finally:
        data.chmod(0o755)
    assert str(error.value) == (
        f"{data}: the data folder (data.data_dir) is not writable, so the prepared file cannot be written there: "
        "make it writable, or name another data.data_dir"
    )
    assert list(data.iterdir()) == []


def test_a_write_refused_midway_is_one_line_naming_the_file(tmp_path, monkeypatch):
    import acai_repro.data.prepare as prepare_module

    def refused(path, splits, attrs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(prepare_module, "write_h5", refused)
    with pytest.raises(
        DataError, match=r"mnist.h5: cannot write the prepared file \(Permission denied\); make data.data_dir writable"
    ):
        prepare("mnist", _tiny_idx_source(tmp_path / "src"), tmp_path / "mnist.h5", tmp_path / "dl")


def test_prepared_data_carry_checksums_and_name_their_content(tmp_path):
    from acai_repro.config import content_digest, content_of_source
    from acai_repro.data import CHECKSUM_KIND, CHECKSUMS, CONTENT

    source = _tiny_idx_source(tmp_path / "src")
    out = tmp_path / "mnist.h5"
    prepare("mnist", source, out, tmp_path / "dl")
    with h5py.File(out) as f:
        assert f.attrs[CHECKSUMS] == CHECKSUM_KIND and f.attrs[CONTENT] == content_digest(content_of_source(source))
        assert all(f[f"{split}/{name}"].fletcher32 for split in ("train", "test") for name in ("images", "labels"))
