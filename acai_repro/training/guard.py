"""One trainer per cell, and no trainer outliving the Snakemake that started it.

Killing Snakemake's own process (`kill -9 <pid>`, not its process group) leaves its training
child running; after `snakemake --unlock` a rerun would start a second trainer writing the same
cell's files. Two guards, both cheap enough to sit in the training loop:

- `CellLock`: an OS file lock (flock) on `<cell>/.trainer.lock`. A second trainer of the cell
  fails at once, naming the live holder (its PID and command line). The kernel drops the lock
  when the holder's process ends, however it ends (`kill -9` included), so a lock is never
  stale and nothing has to be cleaned up by hand.
- `ParentWatch`: `gone` turns true when the process's parent has changed since the start (a
  dead parent's children are re-parented to init or a subreaper). The training loop treats it
  like SIGTERM: save the state at the step boundary and stop, so the rerun resumes from there.

`guard_cell(cell_dir)` holds the one and yields the other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = ".trainer.lock"


class CellBusyError(RuntimeError):
    """Another live process is training this cell."""


def describe_process(pid: int) -> str:
    """'PID 123 (python train_cell.py ...)': the command line where /proc shows it."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"PID {pid}"
    command = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    return f"PID {pid} ({command})" if command else f"PID {pid}"


class CellLock:
    """An exclusive, non-blocking flock on the cell's lock file, holding the holder's PID."""

    def __init__(self, cell_dir):
        self.path = Path(cell_dir) / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise CellBusyError(self._busy_message(holder)) from None
        # The file stays (never unlinked): a process that opened it just before an unlink would
        # lock a file that no longer has the name, and two trainers would both hold "the" lock.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None

    def _busy_message(self, holder: str) -> str:
        who = describe_process(int(holder)) if holder.isdigit() else "another process"
        return (
            f"{self.path.parent} is being trained by {who}, which holds {self.path}: "
            "a second trainer would write the same files. Wait for it to finish, or stop it "
            "(kill it; the lock goes with it) and rerun"
        )

    def __enter__(self) -> CellLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class ParentWatch:
    """`gone`: the parent process that started us has died (one getppid() call, no I/O)."""

    def __init__(self) -> None:
        self.parent = os.getppid()

    @property
    def gone(self) -> bool:
        return os.getppid() != self.parent


@contextlib.contextmanager
def guard_cell(cell_dir):
    """Hold the cell's trainer lock for the block; yield a ParentWatch for the training loop."""
    with CellLock(cell_dir):
        yield ParentWatch()
