"""A cell's model.pt checked as the zip archive torch writes, without torch.

torch.save writes a zip archive whose every entry carries its CRC-32, but torch.load checks
none of the tensor bytes: zeroed weights load without a word. Two checks, both naming the file
(DamagedRecordError):

- `check_structure`: the archive's central directory is there and each entry lies inside the
  file (reads only the end of the file: what `grid status` affords for every cell). A cut file
  fails it.
- `check_contents`: every entry's bytes against its CRC-32 (reads the whole file: what a
  reader of the weights does before torch.load).

A reader that finds the weights damaged moves them aside (`quarantine`: model.pt.damaged), so
that the cell's declared output is missing and the next Snakemake run trains the cell again,
instead of every rerun failing on the same file.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from acai_repro.results import DamagedRecordError

DAMAGED_SUFFIX = ".damaged"
# What zipfile raises for a damaged archive (a bad local header, a cut entry, bad compressed data).
ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


def _damaged(path: Path, problem: str) -> DamagedRecordError:
    return DamagedRecordError(f"{path}: damaged weights: {problem}")


def check_structure(path) -> None:
    """The archive's directory is readable and lists entries inside the file (cheap)."""
    path = Path(path)
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except ARCHIVE_ERRORS as error:
        raise _damaged(path, f"not a readable torch archive ({error})") from None
    if not entries:
        raise _damaged(path, "an archive with no entries")
    outside = [e.filename for e in entries if e.header_offset + e.compress_size > size]
    if outside:
        raise _damaged(path, f"entries {outside[:3]} lie beyond the end of the file ({size} bytes): cut short")


def check_contents(path) -> None:
    """check_structure, then every entry's bytes against its CRC-32 (reads the whole file)."""
    check_structure(path)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except ARCHIVE_ERRORS as error:
        raise _damaged(Path(path), f"an entry cannot be read ({error})") from None
    if bad is not None:
        raise _damaged(Path(path), f"entry {bad} does not match its CRC-32 (bytes changed since it was written)")


def quarantine(path) -> Path:
    """Move damaged weights aside (model.pt -> model.pt.damaged, replacing an older one)."""
    path = Path(path)
    aside = path.with_name(path.name + DAMAGED_SUFFIX)
    path.replace(aside)
    return aside
