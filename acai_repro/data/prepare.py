"""Preparation of the real datasets into one HDF5 file each (docs/protocol.md §2).

Layout of `{dataset}.h5`: for each split a group with `images` (uint8, N×32×32×C, chunked)
and `labels` (int64, N); file attributes name the dataset, its splits, the source files with
their verified md5 and the code version.

A dataset is described by configuration alone (`data.sources.<dataset>`): its `format`, its
files with their accepted md5s and URLs, and optionally a local `path`. The official sources
are written in config/config.yaml; `acai_repro.data.fetch` gets and verifies the files. Any
IDX dataset (MNIST's format: Fashion-MNIST, KMNIST...) needs no code: its files are named
`<split>_images` / `<split>_labels`. Every parse error raises `DataError` naming the file, and
no partial output is left: the HDF5 file is written under a temporary name and renamed.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from acai_repro.config import content_digest, content_of_source
from acai_repro.data import CHECKSUM_KIND, CHECKSUMS, CONTENT
from acai_repro.data.fetch import (  # noqa: F401  (re-exported: the data API in one place)
    DECOMPRESSION_ERRORS,
    DataError,
    DownloadSettings,
    SourceFile,
    fetch,
    source_files,
    verify,
)
from acai_repro.files import write_atomically

IMAGE_SIZE = 32


# ---- parsers -----------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip): uint8 images N×H×W (magic 2051) or labels N (magic 2049)."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except DECOMPRESSION_ERRORS as error:
        raise DataError(f"{path}: truncated or corrupt ({error})") from None
    if len(data) < 8:
        raise DataError(f"{path}: truncated, {len(data)} bytes is shorter than an IDX header")
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051 and len(data) >= 16:
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
    if images.shape[1] > IMAGE_SIZE or images.shape[2] > IMAGE_SIZE:
        raise DataError(
            f"images of {images.shape[1]}×{images.shape[2]} pixels: at most {IMAGE_SIZE}×{IMAGE_SIZE} supported"
        )
    dh, dw = IMAGE_SIZE - images.shape[1], IMAGE_SIZE - images.shape[2]
    pad = ((0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2), (0, 0))
    return np.pad(images, pad, constant_values=0)


def idx_splits(files) -> list[str]:
    """The splits of an IDX dataset, from its file keys `<split>_images` / `<split>_labels`."""
    keys = set(files)
    splits = sorted({key.rsplit("_", 1)[0] for key in keys})
    unpaired = [s for s in splits if {f"{s}_images", f"{s}_labels"} - keys]
    if unpaired or not splits or any(not k.endswith(("_images", "_labels")) for k in keys):
        raise DataError(
            f"IDX files must come in pairs <split>_images / <split>_labels; got {', '.join(sorted(keys)) or 'none'}"
        )
    return splits


def load_idx(paths: dict[str, Path]) -> dict:
    """Every split of an IDX dataset (MNIST, Fashion-MNIST, KMNIST...), padded to 32×32."""
    splits, sizes = {}, {}
    for split in idx_splits(paths):
        images, labels = read_idx(paths[f"{split}_images"]), read_idx(paths[f"{split}_labels"])
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"{paths[f'{split}_images']}: expected an image file and a label file for split {split}")
        if len(images) != len(labels):
            raise DataError(f"split {split}: {len(images)} images but {len(labels)} labels")
        sizes[split] = images.shape[1:]
        check_image_sizes(paths, sizes)
        splits[split] = (pad_to_32(images), labels.astype(np.int64))
    return splits


def check_image_sizes(paths: dict[str, Path], sizes: dict[str, tuple[int, int]]) -> None:
    """Square images, one size in every split: padding a 28×27 file to 32×32 beside 28×28
    training images would shift every picture without a word (a listed md5 does not vouch for
    the shape: the md5 list is configuration)."""
    for split, (rows, cols) in sizes.items():
        if rows != cols:
            raise DataError(
                f"{paths[f'{split}_images']}: images of {rows}×{cols} pixels; an IDX dataset's images are square"
            )
    first, *others = sizes
    for split in others:
        if sizes[split] != sizes[first]:
            (rows, cols), (first_rows, first_cols) = sizes[split], sizes[first]
            raise DataError(
                f"{paths[f'{split}_images']}: images of {rows}×{cols} pixels, but split {first} has "
                f"{first_rows}×{first_cols}: every split of a dataset has one image size"
            )


load_mnist = load_idx  # MNIST is the IDX format's reference instance


def read_svhn_mat(path: Path):
    """SVHN cropped digits (MATLAB v5): X 32×32×3×N -> N×32×32×3, y 1..10 -> 0..9."""
    import scipy.io

    try:
        data = scipy.io.loadmat(path, variable_names=("X", "y"))
        x, y = data["X"], data["y"]
    except (ValueError, OSError, TypeError, KeyError, zlib.error) as error:
        raise DataError(f"{path}: not a readable SVHN MATLAB file ({error})") from None
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)), dtype=np.uint8)
    labels = y.reshape(-1).astype(np.int64) % 10
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
    except (tarfile.TarError, KeyError, EOFError, OSError, zlib.error, pickle.UnpicklingError) as error:
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
    write_atomically(path, lambda temporary: _write_splits(temporary, splits, attrs))


def _write_splits(path: Path, splits: dict, attrs: dict) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for name, (images, labels) in splits.items():
            if images.dtype != np.uint8 or images.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
                raise DataError(f"split {name}: expected uint8 N×32×32×C, got {images.dtype} {images.shape}")
            group = f.create_group(name)
            chunk = (min(len(images), 1024), *images.shape[1:])
            # Fletcher-32 on every dataset: h5py checks each chunk it reads (data.CHECKSUMS)
            group.create_dataset("images", data=images, chunks=chunk, compression="lzf", fletcher32=True)
            group.create_dataset("labels", data=np.asarray(labels, dtype=np.int64), fletcher32=True)
        f.attrs["splits"] = list(splits)
        for key, value in attrs.items():
            f.attrs[key] = value
        f.attrs[CHECKSUMS] = CHECKSUM_KIND


LOADERS = {"idx": load_idx, "svhn_mat": load_svhn, "cifar10_python": load_cifar10}
FORMATS = (*LOADERS, "celeba_jpeg")


def prepare(
    dataset: str,
    source: dict,
    out_path,
    download_dir,
    code_version: str = "unknown",
    settings: DownloadSettings | None = None,  # None: the schema's defaults
    log=print,
    labels: dict | None = None,
) -> None:
    """Get, verify, parse and write one dataset's HDF5 file from its `data.sources` entry.

    `labels` ({"classes", "splits", "key"}): the splits a config uses must hold labels below
    `classes`, checked before the file is written (DataError naming `key`)."""
    check_writable(Path(out_path).parent)
    kind = source.get("format")
    if kind == "celeba_jpeg":
        if not source.get("path"):
            raise DataError(
                f"{dataset}: the official host is unreliable; set data.sources.{dataset}.path to a folder or zip of the JPEGs"
            )
        splits, provenance = load_celeba(Path(source["path"])), {dataset: str(source["path"])}
    elif kind in LOADERS:
        files = source_files(source)
        found = fetch(files, source, Path(download_dir), settings, log, dataset)
        splits = LOADERS[kind]({key: path for key, (path, _) in found.items()})
        provenance = {files[key].name: digest for key, (_, digest) in found.items()}
    else:
        raise DataError(f"{dataset}: unknown data.sources.{dataset}.format {kind!r}; valid: {', '.join(FORMATS)}")
    if labels is not None:
        check_split_labels(splits, labels, out_path)
    attrs = {"dataset": dataset, "code_version": code_version, CONTENT: content_digest(content_of_source(source))}
    attrs.update({f"md5:{name}": digest for name, digest in provenance.items()})
    try:
        write_h5(out_path, splits, attrs)
    except PermissionError as error:
        raise DataError(
            f"{out_path}: cannot write the prepared file ({error.strerror}); make data.data_dir writable or name another"
        ) from None


def check_writable(folder: Path) -> None:
    """The prepared file can be written into `folder` (made where missing), before any download."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"{folder}: cannot make the data folder ({error.strerror}); name another data.data_dir"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(
            f"{folder}: the data folder (data.data_dir) is not writable, so the prepared file cannot be "
            "written there: make it writable, or name another data.data_dir"
        )


def check_split_labels(splits: dict, labels: dict, out_path) -> None:
    """The splits a config uses hold labels below its `classes` (the classifier's outputs)."""
    used = [split for split in labels["splits"] if split in splits]
    largest = max((int(splits[s][1].max(initial=-1)) for s in used), default=-1)
    if largest >= labels["classes"]:
        raise DataError(
            f"config key '{labels['key']}': {labels['classes']}, but the data being prepared into {out_path} "
            f"have labels up to {largest}: classes must be at least {largest + 1} (nothing written)"
        )
