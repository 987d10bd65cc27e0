"""Writing a file whole or not at all: the atomic write and the JSON records written with it.

A reader (a Snakemake rule, `grid status`, a resumed cell) sees the old file or the new one,
never part of one: the content goes to a temporary file beside the target, which is renamed
over it once complete. This module imports nothing from the package, so any module may use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def temporary_beside(path: Path) -> Path:
    """The temporary name a write of `path` goes to: hidden, in the same folder (a rename
    within one file system is atomic), and distinct per process."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def write_atomically(path, write: Callable[[Path], object], temporary: Path | None = None):
    """`write(temporary)`, then rename the temporary over `path`; returns what `write` returns.
    The temporary file goes whatever happens (an error, an interrupt), so a failed write
    leaves `path` as it was. `temporary` defaults to `temporary_beside(path)`."""
    path = Path(path)
    temporary = temporary_beside(path) if temporary is None else Path(temporary)
    try:
        result = write(temporary)
        os.replace(temporary, path)
        return result
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path, data) -> None:
    """`data` as a JSON record, indented by 2 and ending with a newline, written atomically."""
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))
