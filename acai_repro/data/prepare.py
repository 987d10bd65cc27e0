"""Preparation of the real datasets into one HDF5 file each (PROTOCOL §2).

Layout of `{dataset}.h5`: for each split a group with `images` (uint8, N×32×32×C, chunked)
and `labels` (int64, N); file attributes name the dataset, its splits, the source files with
their verified md5 and the code version. Sources are the official files, either downloaded
(`url`) or found in a local directory or archive (`path`), for compute nodes without internet.

Every source file is verified by md5 before it is parsed: the md5 of the file itself, or of
its decompressed content for gzip files (mirrors re-compress). A mismatch, a truncated file
or a missing file raises `DataError` naming the file (and the expected checksum), and no
partial output is left: the HDF5 file is written under a temporary name and renamed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIZE = 32


class DataError(RuntimeError):
    """A source file that is missing, corrupt or not what the protocol expects."""


@dataclass(frozen=True)
class SourceFile:
    name: str
    md5: tuple[str, ...]  # accepted md5s: of the file, or of its decompressed content
    url: str | None = None


MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/{}"
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/{}"
SOURCES: dict[str, dict[str, SourceFile]] = {
    "mnist": {
        "train_images": SourceFile("train-images-idx3-ubyte.gz",
                                   ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb")),
        "train_labels": SourceFile("train-labels-idx1-ubyte.gz",
                                   ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624")),
        "test_images": SourceFile("t10k-images-idx3-ubyte.gz",
                                  ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea")),
        "test_labels": SourceFile("t10k-labels-idx1-ubyte.gz",
                                  ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637")),
    },
    "svhn": {
        "train": SourceFile("train_32x32.mat", ("e26dedcc434d2e4c54c9b2d4a06d8373",)),
        "test": SourceFile("test_32x32.mat", ("eb5a983be6a315427106f1b69d0c4bb4",)),
        "extra": SourceFile("extra_32x32.mat", ("a93ce644f1a588dc4d68dda5feec44a7",)),
    },
    "cifar10": {
        "archive": SourceFile("cifar-10-python.tar.gz", ("c58f30108f718f92721af3b95e74349a",),
                              "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
    },
}  # fmt: skip
for _dataset, _url in (("mnist", MNIST_URL), ("svhn", SVHN_URL)):
    for _key, _file in SOURCES[_dataset].items():
        SOURCES[_dataset][_key] = SourceFile(_file.name, _file.md5, _url.format(_file.name))


# ---- verification ------------------------------------------------------------------
def md5sum(path: Path, decompress: bool = False) -> str:
    digest = hashlib.md5()
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except (EOFError, OSError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: truncated or corrupt ({error})") from None
    return digest.hexdigest()


def verify(path: Path, expected: tuple[str, ...]) -> str:
    """Return the matching md5 of `path` (or of its gzip content); raise DataError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing (expected md5 {' or '.join(expected)})")
    found = md5sum(path)
    if found in expected:
        return found
    if path.suffix == ".gz":
        content = md5sum(path, decompress=True)
        if content in expected:
            return content
    raise DataError(f"{path}: md5 {found} does not match the expected {' or '.join(expected)}")


def fetch(files: dict[str, SourceFile], source: dict, download_dir: Path) -> dict[str, Path]:
    """Local, verified paths of `files`: from `source['path']` (a directory, or the archive
    itself for a one-file dataset) or downloaded.

    A verified file already in `download_dir` is not downloaded again.
    """
    download_dir = Path(download_dir)
    local = Path(source["path"]) if source.get("path") else None
    paths = {}
    for key, spec in files.items():
        if local is not None and local.is_file() and len(files) == 1:
            path = local  # the archive itself, under whatever name the site gave it
        else:
            path = (local / spec.name) if local else (download_dir / spec.name)
        if local is None and not _is_valid(path, spec.md5):
            _download(spec, path)
        verify(path, spec.md5)
        paths[key] = path
    return paths


def _is_valid(path: Path, expected) -> bool:
    try:
        verify(path, expected)
        return True
    except DataError:
        return False


def _download(spec: SourceFile, path: Path) -> None:
    if not spec.url:
        raise DataError(f"{spec.name}: no download address; give a local path in the config")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        urllib.request.urlretrieve(spec.url, tmp)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{spec.name}: download from {spec.url} failed ({error})") from None
    os.replace(tmp, path)


# ---- parsers -----------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip): uint8 images N×H×W (magic 2051) or labels N (magic 2049)."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (EOFError, OSError) as error:
        raise DataError(f"{path}: truncated or corrupt ({error})") from None
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        shape, offset = (count, rows, cols), 16
    elif magic == 2049:
        shape, offset = (count,), 8
    else:
        raise DataError(f"{path}: not an IDX image or label file (magic {magic})")
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise DataError(f"{path}: truncated, {len(data) - offset} of {expected} bytes")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def pad_to_32(images: np.ndarray) -> np.ndarray:
    """Pad N×H×W(×C) uint8 images with background 0 (i.e. -1 after scaling) to 32×32."""
    if images.ndim == 3:
        images = images[..., None]
    dh, dw = IMAGE_SIZE - images.shape[1], IMAGE_SIZE - images.shape[2]
    pad = ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0))
    return np.pad(images, pad, constant_values=0)


def load_mnist(paths: dict[str, Path]) -> dict:
    splits = {}
    for split in ("train", "test"):
        images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
        if len(images) != len(labels):
            raise DataError(f"MNIST {split}: {len(images)} images but {len(labels)} labels")
        splits[split] = (pad_to_32(images), labels.astype(np.int64))
    return splits


def read_svhn_mat(path: Path):
    """SVHN cropped digits (MATLAB v5): X 32×32×3×N -> N×32×32×3, y 1..10 -> 0..9."""
    import scipy.io

    try:
        data = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as error:
        raise DataError(f"{path}: not a readable MATLAB file ({error})") from None
    images = np.ascontiguousarray(np.transpose(data["X"], (3, 0, 1, 2)), dtype=np.uint8)
    labels = data["y"].reshape(-1).astype(np.int64) % 10
    return images, labels


def load_svhn(paths: dict[str, Path]) -> dict:
    return {split: read_svhn_mat(paths[split]) for split in ("train", "extra", "test")}


def load_cifar10(paths: dict[str, Path]) -> dict:
    """CIFAR-10 python version: five training pickles and one test pickle in a tar.gz."""
    members = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    try:
        with tarfile.open(paths["archive"], "r:gz") as tar:
            splits = {}
            for split, names in members.items():
                images, labels = [], []
                for name in names:
                    member = tar.extractfile(f"cifar-10-batches-py/{name}")
                    batch = pickle.load(member, encoding="bytes")
                    images.append(batch[b"data"].reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1))
                    labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
                splits[split] = (np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels))
    except (tarfile.TarError, KeyError, EOFError, OSError, pickle.UnpicklingError) as error:
        raise DataError(f"{paths['archive']}: truncated or not the CIFAR-10 python archive ({error})") from None
    return splits


CELEBA_CROP = (slice(36, -36), slice(16, -16))  # 218×178 -> 146×146


def celeba_image(data: bytes) -> np.ndarray:
    """Crop rows 36:-36, columns 16:-16, bicubic resize to 32×32 (PIL's bicubic)."""
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[CELEBA_CROP]
    return np.asarray(Image.fromarray(image).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC))


def load_celeba(source: Path) -> dict:
    """Aligned CelebA from a folder of JPEGs or a zip of them (sorted by name); no labels."""
    source = Path(source)
    if source.is_dir():
        names = sorted(p for p in source.rglob("*.jpg"))
        blobs = (p.read_bytes() for p in names)
    elif zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
        blobs = (archive.read(n) for n in names)
    else:
        raise DataError(f"{source}: neither a folder of JPEGs nor a zip archive")
    if not names:
        raise DataError(f"{source}: no .jpg images found")
    images = np.stack([celeba_image(blob) for blob in blobs])
    return {"train": (images, np.zeros(len(images), dtype=np.int64))}


# ---- output ------------------------------------------------------------------------
def write_h5(path, splits: dict, attrs: dict) -> None:
    """Write splits {name: (images uint8 N×32×32×C, labels)} atomically to an HDF5 file."""
    import h5py

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            for name, (images, labels) in splits.items():
                if images.dtype != np.uint8 or images.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
                    raise DataError(f"split {name}: expected uint8 N×32×32×C, got {images.dtype} {images.shape}")
                group = f.create_group(name)
                chunk = (min(len(images), 1024), *images.shape[1:])
                group.create_dataset("images", data=images, chunks=chunk, compression="lzf")
                group.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
            f.attrs["splits"] = list(splits)
            for key, value in attrs.items():
                f.attrs[key] = value
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def prepare(dataset: str, source: dict, out_path, download_dir, code_version: str = "unknown") -> None:
    """Verify, parse and write one dataset's HDF5 file."""
    if dataset == "celeba":
        if not source.get("path"):
            raise DataError("celeba: the official host is unreliable; set a local folder or zip as path")
        splits, provenance = load_celeba(Path(source["path"])), {"celeba": str(source["path"])}
    elif dataset in SOURCES:
        files = SOURCES[dataset]
        paths = fetch(files, source, Path(download_dir))
        loader = {"mnist": load_mnist, "svhn": load_svhn, "cifar10": load_cifar10}[dataset]
        splits = loader(paths)
        provenance = {f.name: verify(paths[k], f.md5) for k, f in files.items()}
    else:
        raise DataError(f"unknown dataset {dataset!r}; valid: mnist, svhn, cifar10, celeba")
    attrs = {"dataset": dataset, "code_version": code_version}
    attrs.update({f"md5:{name}": digest for name, digest in provenance.items()})
    write_h5(out_path, splits, attrs)
