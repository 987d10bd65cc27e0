"""One device per job on a machine with several GPUs: a slot lock per device.

Snakemake gives a local job no GPU id (it only counts the `gpu` resource), so without this
every job would open `cuda`, i.e. device 0. A job that computes on a GPU (a training cell, pack
or fused group; latent export and K-Means on the device) first takes a slot here:

- Each device has `resources.train.gpu_share` slots; a slot is an OS lock (flock) on the file
  `<lock folder>/<device key>.<k>.lock`. The kernel drops the lock when its holder's process
  ends, however it ends (kill -9 included), so a slot is never stale and nothing has to be
  cleaned up by hand. The file holds the holder's PID and job, for the log of a waiting job
  and for `grid status`.
- Allocation is one at a time (an flock on `<lock folder>/allocate.lock`): the allocator
  counts the held slots of each device and takes a free slot of the least busy device, so
  N jobs on N devices get one device each.
- The devices are those the job can see: `CUDA_VISIBLE_DEVICES` when it is set (SLURM and
  containers set it: the job uses what it was given), else every device of the machine. A
  device's key is its UUID where CUDA reports one, so two jobs whose CUDA_VISIBLE_DEVICES both
  say 0 for different cards (a SLURM site that renumbers each job's GPUs) do not contend.
- The job then sees only its device (CUDA_VISIBLE_DEVICES narrowed to it before CUDA starts in
  the job): the device is `cuda:0` to every line of the code, exactly as on a one-GPU machine,
  so the bits do not depend on which device a job got (same card model).
- No free slot: the job logs that it waits (and who holds the slots), polls, and proceeds
  when one frees; it never fails for want of a slot.
- `ACAI_FAKE_DEVICES=a,b` names fake devices that compute on the CPU: the allocation, the logs
  and the records run as with GPUs (tests, and a smoke run on a machine without one).
- `ACAI_DEVICE_LOCKS` names the lock folder (default: a folder per user under the system's
  temporary folder, which is local to the machine). Processes that do not take slots (another
  user's, another program's) are not seen: the job shares the card with them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

FAKE_DEVICES = "ACAI_FAKE_DEVICES"
LOCK_FOLDER = "ACAI_DEVICE_LOCKS"
HELD_SLOT = "ACAI_DEVICE_SLOT"  # set in a job that holds a slot: names it (provenance)
ALLOCATE_LOCK = "allocate.lock"
FOREIGN_MEMORY_BYTES = 1 << 30  # more than a CUDA context of our own: someone else's memory


@dataclass(frozen=True)
class Device:
    visible_id: str  # as CUDA_VISIBLE_DEVICES names it (an index or a UUID); a fake one's name
    key: str  # the lock files' prefix: the UUID where CUDA reports one
    fake: bool = False

    def describe(self) -> str:
        return f"fake device {self.visible_id} (on the CPU)" if self.fake else f"GPU {self.visible_id}"


@dataclass
class Slot:
    device: Device
    index: int
    share: int
    path: Path
    fd: int | None

    def name(self) -> str:
        return f"{self.device.describe()}, slot {self.index + 1} of {self.share}"

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None


# ---- which devices --------------------------------------------------------------------------
def parse_visible(value: str) -> list[str]:
    """The entries of a CUDA_VISIBLE_DEVICES value, in order. CUDA ignores everything from the
    first invalid entry on; "-1" (or any negative index) is the usual way to hide them all."""
    entries = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        entries.append(entry)
    return entries


def lock_key(name: str) -> str:
    """A file-name-safe key for a device name (a UUID keeps its letters, digits and dashes)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def fake_devices(environ: Mapping[str, str]) -> list[Device] | None:
    """The fake devices ACAI_FAKE_DEVICES names (keys prefixed, apart from real ones), or
    None when it is not set."""
    if FAKE_DEVICES not in environ:
        return None
    names = [name.strip() for name in environ[FAKE_DEVICES].split(",") if name.strip()]
    return [Device(name, f"fake-{lock_key(name)}", fake=True) for name in names]


# Run in a child process, so that CUDA starts there and not in the job (which must narrow
# CUDA_VISIBLE_DEVICES before CUDA starts in it). One line per visible device: its UUID.
PROBE = """
import torch
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        print(str(getattr(torch.cuda.get_device_properties(i), "uuid", "") or ""))
"""


def probe_cuda_uuids(environ: Mapping[str, str]) -> list[str]:
    """The UUID (or "" where torch reports none) of each device CUDA shows a process with
    `environ`; [] without CUDA."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", PROBE], env=dict(environ), capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return result.stdout.splitlines() if result.returncode == 0 else []


def cuda_devices(environ: Mapping[str, str], uuids: list[str]) -> list[Device]:
    """The devices of a process with `environ`, from the UUIDs CUDA reports for it: named as
    CUDA_VISIBLE_DEVICES names them when it is set (else by index), keyed by UUID where known."""
    names = parse_visible(environ["CUDA_VISIBLE_DEVICES"]) if "CUDA_VISIBLE_DEVICES" in environ else []
    devices = []
    for index, uuid in enumerate(uuids):
        name = names[index] if index < len(names) else str(index)
        devices.append(
            Device(name, lock_key(f"GPU-{uuid}" if uuid and not uuid.startswith("GPU-") else uuid or f"index-{name}"))
        )
    return devices


def list_devices(
    environ: Mapping[str, str], probe: Callable[[Mapping[str, str]], list[str]] = probe_cuda_uuids
) -> list[Device]:
    """The devices a job may take: the fake ones when ACAI_FAKE_DEVICES is set, else the CUDA
    devices it can see (honouring CUDA_VISIBLE_DEVICES)."""
    fakes = fake_devices(environ)
    return fakes if fakes is not None else cuda_devices(environ, probe(environ))


def default_lock_folder(environ: Mapping[str, str]) -> Path:
    """ACAI_DEVICE_LOCKS, else a folder per user under the machine's temporary folder."""
    if environ.get(LOCK_FOLDER):
        return Path(environ[LOCK_FOLDER])
    return Path(tempfile.gettempdir()) / f"acai-repro-device-slots-{os.getuid()}"


# ---- slots ----------------------------------------------------------------------------------
def slot_path(folder: Path, device: Device, index: int) -> Path:
    return folder / f"{device.key}.{index}.lock"


def _try_lock(path: Path) -> int | None:
    """An exclusive flock on `path` (created if missing) without waiting: its descriptor, or
    None when another holder has it. The file is never unlinked: a process that opened it just
    before an unlink would lock a file without a name, and two jobs would hold "one" slot."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)  # a program it starts holds no slot
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _held(path: Path) -> bool:
    fd = _try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def holder(path: Path) -> dict:
    """What a slot file says about its holder ({"pid", "job"}), {} when it says nothing."""
    try:
        record = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


@contextlib.contextmanager
def _allocating(folder: Path) -> Iterator[None]:
    """One allocator at a time on this lock folder (a blocking flock, dropped on exit or death)."""
    fd = os.open(folder / ALLOCATE_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def try_take_slot(devices: list[Device], share: int, folder: Path, job: str) -> Slot | None:
    """A free slot of the least busy device (ties: the first listed), locked and marked with
    this process's PID and `job`; None when every slot is held."""
    folder.mkdir(parents=True, exist_ok=True)
    with _allocating(folder):
        busy = {device: sum(_held(slot_path(folder, device, k)) for k in range(share)) for device in devices}
        for device in sorted(devices, key=lambda d: busy[d]):  # stable: ties keep the listed order
            if busy[device] >= share:
                continue
            for index in range(share):
                path = slot_path(folder, device, index)
                fd = _try_lock(path)
                if fd is not None:
                    slot = Slot(device, index, share, path, fd)
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, json.dumps({"pid": os.getpid(), "job": job, "slot": slot.name()}).encode(), 0)
                    return slot
    return None


def holders_text(devices: list[Device], share: int, folder: Path) -> str:
    """'GPU 0: PID 12 (job), ...' for the held slots: what a waiting job logs."""
    parts = []
    for device in devices:
        for index in range(share):
            path = slot_path(folder, device, index)
            if path.exists() and _held(path):
                who = holder(path)
                parts.append(f"{device.describe()} slot {index + 1}: PID {who.get('pid', '?')} ({who.get('job', '?')})")
    return "; ".join(parts)


class ParentGoneError(RuntimeError):
    """The job's parent (Snakemake) died while the job waited for a device: it does not start."""


def take_slot(
    devices: list[Device],
    share: int,
    folder: Path,
    job: str,
    log,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    parent_gone: Callable[[], bool] = lambda: False,
) -> Slot:
    """A slot of `devices` (`share` per device), waiting with a log line while none is free;
    ParentGoneError when `parent_gone()` turns true meanwhile (no orphan starts late)."""
    if not devices:
        raise ValueError("take_slot: no device to take a slot of")
    if share < 1:
        raise ValueError(f"take_slot: gpu_share {share}: at least one job per device")
    slot, started = try_take_slot(devices, share, folder, job), time.monotonic()
    if slot is None:
        log(
            f"waiting for a free device slot: all {share * len(devices)} slots of {len(devices)} device(s) "
            f"are held ({holders_text(devices, share, folder)}); lock folder {folder}"
        )
        while slot is None:
            sleep(poll_seconds)
            if parent_gone():
                raise ParentGoneError("the parent process (Snakemake) is gone: this job does not start")
            slot = try_take_slot(devices, share, folder, job)
        log(f"a device slot freed after {time.monotonic() - started:.0f} s of waiting")
    return slot


def memory_note(free: int, total: int) -> str:
    """A warning when more of the card's memory is in use than a context of our own takes:
    another process (not taking slots) shares the card."""
    used = total - free
    if used <= FOREIGN_MEMORY_BYTES:
        return ""
    return (
        f"note: {used / 2**30:.1f} of {total / 2**30:.1f} GiB of this device's memory were in use before "
        "this job started: another process shares the card (slower steps; memory for both)"
    )


def _foreign_use_note() -> str:
    """memory_note of the job's (narrowed) CUDA device; starts CUDA in the job on that device."""
    import torch

    free, total = torch.cuda.mem_get_info(0)
    return memory_note(free, total)


def needs_slot(config_device: str, devices: list[Device]) -> bool:
    """A job takes a slot when it would compute on a device: the config's device is not the
    CPU and there is one (fake devices stand in for GPUs whatever the config says)."""
    if any(d.fake for d in devices):
        return True
    return config_device != "cpu" and bool(devices)


@contextlib.contextmanager
def job_device(
    config: dict,
    job: str,
    log,
    environ: MutableMapping[str, str] | None = None,
    devices: list[Device] | None = None,
    poll_seconds: float = 5.0,
    foreign_use: Callable[[], str] | None = None,
) -> Iterator[Slot | None]:
    """For a workflow job that computes on a GPU: hold a device slot for the block, with
    CUDA_VISIBLE_DEVICES narrowed to that device (call it before CUDA starts in the process).
    Yields the slot, or None where the job runs on the CPU (nothing taken). Logs the device,
    and `foreign_use()` (default: memory_note of the card) where it says something."""
    environ = os.environ if environ is None else environ
    if devices is None:  # a CPU job looks for no GPU (the probe starts a Python with torch)
        cpu_only = config["device"] == "cpu" and fake_devices(environ) is None
        devices = [] if cpu_only else list_devices(environ)
    if not needs_slot(config["device"], devices):
        if config["device"] == "cuda":  # say so: the job opens device 0, as without slots
            log("device slots: no CUDA device seen (probe of CUDA_VISIBLE_DEVICES and the machine); no slot taken")
        yield None
        return
    share = config["resources"]["train"]["gpu_share"]
    parent = os.getppid()
    slot = take_slot(
        devices, share, default_lock_folder(environ), job, log, poll_seconds, parent_gone=lambda: os.getppid() != parent
    )
    saved = {name: environ.get(name) for name in ("CUDA_VISIBLE_DEVICES", HELD_SLOT)}
    try:
        if not slot.device.fake:
            environ["CUDA_VISIBLE_DEVICES"] = slot.device.visible_id
        environ[HELD_SLOT] = slot.name()
        log(f"device: {slot.name()} ({len(devices)} device(s) seen, {share} job(s) per device)")
        note = "" if slot.device.fake else (foreign_use or _foreign_use_note)()
        if note:
            log(note)
        yield slot
    finally:
        for name, value in saved.items():
            if value is None:
                environ.pop(name, None)
            else:
                environ[name] = value
        slot.release()


def held_slot(environ: Mapping[str, str] | None = None) -> dict:
    """The slot this process holds, for its records ({"device_slot": ...}); {} when none."""
    environ = os.environ if environ is None else environ
    return {"device_slot": environ[HELD_SLOT]} if environ.get(HELD_SLOT) else {}


def slot_holders(folder: Path) -> dict[int, str]:
    """PID -> the slot it holds, from the held slot files of `folder` (for `grid status`; a
    killed holder's file still names it, but its lock is gone)."""
    holders = {}
    for path in sorted(folder.glob("*.lock")) if folder.is_dir() else []:
        record = holder(path)
        pid = record.get("pid")
        if path.name != ALLOCATE_LOCK and isinstance(pid, int) and _held(path):
            holders[pid] = record.get("slot", path.stem)
    return holders
