"""The trainer guards with real processes: a second trainer of a cell, `kill -9` of the holder
and `kill -9` of a trainer's parent."""

import os
import signal
import subprocess
import sys
import time

import pytest

from acai_repro.training.guard import LOCK_FILE, CellBusyError, CellLock, ParentWatch, guard_cell
from tests.conftest import ROOT

HOLD = """
import sys, time
from acai_repro.training.guard import CellLock
with CellLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""

# A parent that starts a watching child and then waits: the child reports its PID, then writes
# "gone" to a file as soon as its ParentWatch says so.
PARENT = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(600)
"""
CHILD = """
import os, sys, time
from pathlib import Path
from acai_repro.training.guard import ParentWatch
watch, out = ParentWatch(), Path(sys.argv[1])
out.with_suffix(".tmp").write_text(str(os.getpid()))
os.replace(out.with_suffix(".tmp"), out.with_suffix(".pid"))  # whole, never half-written
deadline = time.monotonic() + 60
while not watch.gone and time.monotonic() < deadline:
    time.sleep(0.01)
out.write_text("gone" if watch.gone else "still there")
"""


def _python(code, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True, env=env)


def _wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/cell."""
    process = _python(HOLD, tmp_path / "cell")
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_trainer_of_a_cell_is_refused_naming_the_first(tmp_path, holder):
    started = time.monotonic()
    with pytest.raises(CellBusyError) as error:
        CellLock(tmp_path / "cell").acquire()
    assert time.monotonic() - started < 1  # at once, not after a wait
    message = str(error.value)
    assert f"PID {holder.pid} (" in message and "CellLock" in message  # its command line, from /proc
    assert str(tmp_path / "cell") in message


def test_the_kernel_releases_the_lock_of_a_killed_holder(tmp_path, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with CellLock(tmp_path / "cell") as lock:
        assert (tmp_path / "cell" / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        assert lock.fd is not None


def test_one_process_cannot_hold_a_cell_twice_and_release_frees_it(tmp_path):
    with guard_cell(tmp_path / "cell") as watch:
        assert not watch.gone
        with pytest.raises(CellBusyError, match=f"PID {os.getpid()}"):
            CellLock(tmp_path / "cell").acquire()
    assert (tmp_path / "cell" / LOCK_FILE).read_text() == ""  # released: no holder named
    with CellLock(tmp_path / "cell"):
        pass


def test_other_cells_are_independent(tmp_path, holder):
    with CellLock(tmp_path / "other-cell"):
        pass


def test_a_kill_9_of_the_parent_is_seen_by_the_child(tmp_path):
    out = tmp_path / "watch.txt"
    parent = _python(PARENT, CHILD, out)
    child_pid = None
    try:
        _wait_for(out.with_suffix(".pid").exists)
        child_pid = int(out.with_suffix(".pid").read_text())
        time.sleep(0.2)
        assert not out.exists()  # the parent lives: nothing seen yet
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        _wait_for(out.exists, seconds=30)
        assert out.read_text() == "gone"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid is not None:
            _kill_quietly(child_pid)


def _kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_the_watch_is_quiet_while_the_parent_lives():
    watch = ParentWatch()
    assert watch.parent == os.getppid() and not watch.gone
