"""Add checksums to a dataset prepared before prepared files carried them, in place.

`python -m acai_repro.data.checksums FILE...` rewrites each prepared HDF5 file with HDF5's
Fletcher-32 checksum on every dataset (acai_repro.data.CHECKSUMS), checks that every array reads
back equal, and keeps the file's modification time: Snakemake sees the same input, so nothing
trained on it retrains. A file already carrying checksums is left as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import h5py
import numpy as np

from acai_repro.data import CHECKSUM_KIND, CHECKSUMS, _datasets
from acai_repro.data.fetch import DataError
from acai_repro.files import write_atomically


def has_checksums(path: Path) -> bool:
    with h5py.File(path, "r") as f:
        return f.attrs.get(CHECKSUMS) == CHECKSUM_KIND and all(item.fletcher32 for _, item in _datasets(f))


def add_checksums(path) -> bool:
    """Rewrite `path` with checksums, its content and time kept; False where it had them."""
    path = Path(path)
    try:
        if has_checksums(path):
            return False
        times = os.stat(path)
        write_atomically(path, lambda temporary: _copy_with_checksums(path, temporary))
    except OSError as error:
        raise DataError(f"{path}: cannot add checksums ({error})") from None
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    return True


def _copy_with_checksums(source: Path, target: Path) -> None:
    with h5py.File(source, "r") as old, h5py.File(target, "w") as new:
        for name, item in _datasets(old):
            data = item[()]
            options = {"compression": item.compression, "chunks": item.chunks or True} if item.compression else {}
            new.create_dataset(name, data=data, fletcher32=True, **options)
        new.attrs.update(dict(old.attrs))
        new.attrs[CHECKSUMS] = CHECKSUM_KIND
    with h5py.File(source, "r") as old, h5py.File(target, "r") as new:
        for name, item in _datasets(old):
            if not np.array_equal(item[()], new[name][()]):
                raise DataError(f"{source}: {name} read back differently after adding checksums; file left as it was")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acai_repro.data.checksums", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="a prepared dataset, e.g. results/data/mnist.h5")
    status = 0
    for path in parser.parse_args(argv).files:
        try:
            print(f"{path}: {'checksums added' if add_checksums(path) else 'already has checksums'}")
        except DataError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
