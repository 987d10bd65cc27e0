"""A full disk: a checkpoint or output that cannot be written is named with the system's reason
("No space left on device"), leaves no temporary file, and the rerun resumes."""

import errno
import json
import os
import subprocess

import pytest
import torch

from acai_repro.training.train import STATE_FILE, WriteFailedError, _torch_save, _write_cell_file, train_cell
from tests.conftest import tiny_spec

QUIET = lambda message: None  # noqa: E731


def _fill_then_fail(path):
    path.write_bytes(b"half a checkpoint")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_write_on_a_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    target = tmp_path / STATE_FILE
    target.write_bytes(b"the previous checkpoint")
    with pytest.raises(WriteFailedError) as error:
        _write_cell_file(target, _fill_then_fail)
    assert str(error.value) == (
        f"[Errno 28] {target}: cannot write it: No space left on device; free space there and "
        "rerun (a cell resumes from its last checkpoint)"
    ), str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE], "a temporary file was left behind"
    assert target.read_bytes() == b"the previous checkpoint", "the previous checkpoint must survive"


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only; elsewhere the test skips)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("needs permission to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_torch_save_on_a_really_full_disk_says_no_space(small_disk):
    with pytest.raises(WriteFailedError, match=f"{small_disk / 'model.pt'}: cannot write it: No space left on device"):
        _write_cell_file(small_disk / "model.pt", lambda p: _torch_save({"w": torch.zeros(1_000_000)}, p))
    assert list(small_disk.iterdir()) == [], "a temporary file was left behind"


def test_a_cell_stopped_by_a_full_disk_resumes_when_rerun(smoke_config, tmp_path, small_disk):
    spec = tiny_spec(smoke_config, "baseline", checkpoint_minutes=1e-6)
    with pytest.raises(WriteFailedError, match="No space left on device"):
        train_cell(spec, small_disk / "cell", QUIET)
    left = [p.name for p in (small_disk / "cell").iterdir() if ".tmp" in p.name]
    assert not left, f"temporary files left behind: {left}"
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    messages = []
    resumed = train_cell(spec, small_disk / "cell", messages.append)
    unbroken = train_cell(spec, tmp_path / "unbroken", QUIET)
    # NaN (a collapsed Smoothness) equals itself only as text
    assert resumed["status"] == "ok" and json.dumps(resumed["reported"]) == json.dumps(unbroken["reported"]), (
        resumed,
        unbroken,
    )
    assert not [p.name for p in (small_disk / "cell").iterdir() if ".tmp" in p.name]
