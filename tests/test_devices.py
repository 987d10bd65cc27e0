"""The device slots of acai_repro.training.devices, on the CPU: fake device lists, real processes."""

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acai_repro.training import devices
from acai_repro.training.devices import (
    cuda_devices,
    held_slot,
    job_device,
    list_devices,
    memory_note,
    needs_slot,
    parse_visible,
    slot_holders,
    take_slot,
    try_take_slot,
)

ROOT = Path(__file__).resolve().parent.parent
FORK = multiprocessing.get_context("fork")


def fakes(*names):
    return list_devices({devices.FAKE_DEVICES: ",".join(names)})


def config(device="cuda", share=1):
    return {"device": device, "resources": {"train": {"gpu_share": share}}}


def wait_for(condition, seconds=20.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


# ---- which devices --------------------------------------------------------------------------
def test_cuda_visible_devices_is_parsed_as_cuda_reads_it():
    assert parse_visible("2, 3") == ["2", "3"]
    assert parse_visible("GPU-ab12,1") == ["GPU-ab12", "1"]
    assert parse_visible("0,-1,2") == ["0"], "CUDA ignores the entries from an invalid one on"
    assert parse_visible("-1") == [] and parse_visible("") == []


def test_a_set_cuda_visible_devices_names_the_devices_a_job_may_take():
    seen = {}

    def probe(environ):  # what CUDA reports in a process with that environment
        seen.update(environ)
        return ["GPU-aaa", "GPU-bbb"]

    found = list_devices({"CUDA_VISIBLE_DEVICES": "5,7"}, probe)
    assert seen["CUDA_VISIBLE_DEVICES"] == "5,7", "the probe runs with the job's CUDA_VISIBLE_DEVICES"
    assert [d.visible_id for d in found] == ["5", "7"]
    assert [d.key for d in found] == ["GPU-aaa", "GPU-bbb"], "keyed by UUID"
    # unset: every device of the machine, by index
    assert [d.visible_id for d in cuda_devices({}, ["GPU-x", "GPU-y", "GPU-z"])] == ["0", "1", "2"]
    # torch without UUIDs: keyed by the name
    assert [d.key for d in cuda_devices({}, ["", ""])] == ["index-0", "index-1"]
    assert list_devices({}, lambda environ: []) == [], "no CUDA: no device"


def test_the_real_probe_runs_and_sees_every_cuda_device_of_this_machine():
    import torch

    uuids = devices.probe_cuda_uuids(dict(os.environ))
    assert len(uuids) == (torch.cuda.device_count() if torch.cuda.is_available() else 0), uuids


def test_renumbered_devices_with_other_uuids_do_not_share_slots(tmp_path):
    """A SLURM site that renumbers each job's GPUs: both jobs see CUDA_VISIBLE_DEVICES=0."""
    first = cuda_devices({"CUDA_VISIBLE_DEVICES": "0"}, ["GPU-card-a"])
    second = cuda_devices({"CUDA_VISIBLE_DEVICES": "0"}, ["GPU-card-b"])
    assert try_take_slot(first, 1, tmp_path, "a") is not None
    assert try_take_slot(second, 1, tmp_path, "b") is not None, "a different card is free"


def test_the_fake_device_variable_names_cpu_devices():
    found = fakes("a", "b")
    assert [d.visible_id for d in found] == ["a", "b"] and all(d.fake for d in found)
    assert "on the CPU" in found[0].describe()


def test_a_cpu_job_takes_no_slot_unless_fake_devices_stand_in():
    assert not needs_slot("cpu", [])
    assert not needs_slot("cpu", cuda_devices({}, ["GPU-x"])), "device: cpu never takes a GPU"
    assert not needs_slot("auto", []), "auto without a GPU runs on the CPU"
    assert needs_slot("auto", cuda_devices({}, ["GPU-x"]))
    assert needs_slot("cpu", fakes("a"))


# ---- slots in one process ---------------------------------------------------------------
def test_jobs_spread_over_the_least_busy_devices(tmp_path):
    two = fakes("a", "b")
    taken = [try_take_slot(two, 2, tmp_path, f"job{i}") for i in range(4)]
    assert [s.device.visible_id for s in taken] == ["a", "b", "a", "b"], "one per device before a second"
    assert try_take_slot(two, 2, tmp_path, "job4") is None, "4 slots, 4 holders"
    taken[1].release()
    assert try_take_slot(two, 2, tmp_path, "job5").device.visible_id == "b", "the freed device"


def test_slot_files_name_their_holder_and_status_finds_it(tmp_path):
    slot = try_take_slot(fakes("a"), 1, tmp_path, "train_cell: log.txt")
    assert slot_holders(tmp_path) == {os.getpid(): slot.name()}
    assert json.loads(slot.path.read_text())["job"] == "train_cell: log.txt"
    slot.release()
    assert slot_holders(tmp_path) == {}, "a released slot is nobody's"


def test_memory_in_use_by_another_process_is_named():
    assert memory_note(free=79 << 30, total=80 << 30) == "", "a context of our own"
    note = memory_note(free=60 << 30, total=80 << 30)
    assert "20.0 of 80.0 GiB" in note and "another process" in note


def test_job_device_narrows_cuda_to_its_device_and_names_it(tmp_path):
    environ = {"CUDA_VISIBLE_DEVICES": "5,7", devices.LOCK_FOLDER: str(tmp_path)}
    visible = cuda_devices(environ, ["GPU-a", "GPU-b"])
    lines, other = [], try_take_slot(visible, 1, tmp_path, "another job")  # holds GPU 5
    with job_device(config(), "job", lines.append, environ, visible, foreign_use=lambda: "note: busy") as slot:
        assert environ["CUDA_VISIBLE_DEVICES"] == "7", "the job sees only the device it got"
        assert held_slot(environ) == {"device_slot": "GPU 7, slot 1 of 1"}
        assert slot.device.visible_id == "7"
    assert lines == ["device: GPU 7, slot 1 of 1 (2 device(s) seen, 1 job(s) per device)", "note: busy"]
    assert environ["CUDA_VISIBLE_DEVICES"] == "5,7" and held_slot(environ) == {}, "restored after the job"
    assert try_take_slot(visible, 1, tmp_path, "next").device.visible_id == "7", "released"
    other.release()


def test_a_cuda_job_that_sees_no_device_says_so_and_takes_nothing(tmp_path):
    lines, environ = [], {devices.LOCK_FOLDER: str(tmp_path)}
    with job_device(config("cuda"), "job", lines.append, environ, devices=[]) as slot:
        assert slot is None and "CUDA_VISIBLE_DEVICES" not in environ
    assert lines == ["device slots: no CUDA device seen (probe of CUDA_VISIBLE_DEVICES and the machine); no slot taken"]


def test_a_cpu_job_takes_nothing_and_probes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "list_devices", lambda *a: pytest.fail("a CPU job probed for GPUs"))
    environ = {devices.LOCK_FOLDER: str(tmp_path)}
    with job_device(config("cpu"), "job", print, environ) as slot:
        assert slot is None and devices.HELD_SLOT not in environ
    assert not list(tmp_path.iterdir())


# ---- slots across processes -------------------------------------------------------------
def _job(folder, share, names, record, hold_seconds):
    """A job in its own process: take a slot, record when, hold it a while, release."""
    lines = []
    slot = take_slot(fakes(*names), share, Path(folder), f"pid {os.getpid()}", lines.append, poll_seconds=0.02)
    start = time.monotonic()
    time.sleep(hold_seconds)
    end = time.monotonic()
    with open(record, "a") as f:
        f.write(
            json.dumps(
                {"slot": slot.name(), "device": slot.device.visible_id, "start": start, "end": end, "lines": lines}
            )
            + "\n"
        )
    slot.release()


def _most_at_once(intervals) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def test_n_jobs_on_k_slots_never_share_a_slot_beyond_gpu_share(tmp_path):
    share, names, jobs = 2, ("a", "b"), 9
    record = tmp_path / "record.jsonl"
    processes = [FORK.Process(target=_job, args=(tmp_path / "locks", share, names, record, 0.3)) for _ in range(jobs)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0, "a job crashed for want of a slot"
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(rows) == jobs
    for name in names:
        on_device = [(r["start"], r["end"]) for r in rows if r["device"] == name]
        assert _most_at_once(on_device) <= share, f"device {name}: more than {share} jobs at once"
    for slot in {r["slot"] for r in rows}:
        assert _most_at_once([(r["start"], r["end"]) for r in rows if r["slot"] == slot]) == 1, f"{slot} shared"
    assert _most_at_once([(r["start"], r["end"]) for r in rows]) == share * len(names), "every slot in use at once"
    assert any(r["lines"] and r["lines"][0].startswith("waiting for a free device slot") for r in rows), (
        "9 jobs on 4 slots: some waited, and said so"
    )


HOLDER = """
import sys
from pathlib import Path
from acai_repro.training.devices import list_devices, take_slot
slot = take_slot(list_devices({"ACAI_FAKE_DEVICES": "a"}), 1, Path(sys.argv[1]), sys.argv[2], print)
print("holding", flush=True)
sys.stdin.readline()  # until told, or killed
slot.release()
"""


def holder_process(folder, job="holder"):
    """A job in its own program holding fake device a's one slot until a line on its stdin."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), job],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_sigkilled_holder_frees_its_slot(tmp_path):
    holder = holder_process(tmp_path)
    try:
        assert try_take_slot(fakes("a"), 1, tmp_path, "second") is None, "held by the live holder"
        assert slot_holders(tmp_path) == {holder.pid: "fake device a (on the CPU), slot 1 of 1"}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    slot = try_take_slot(fakes("a"), 1, tmp_path, "second")
    assert slot is not None, "the kernel dropped the killed holder's lock"
    assert slot_holders(tmp_path) == {os.getpid(): slot.name()}, "the killed holder's PID is no holder"


def _waiter(folder, log_path):
    def log(line):
        with open(log_path, "a") as f:
            f.write(line + "\n")

    slot = take_slot(fakes("a"), 1, Path(folder), "waiter", log, poll_seconds=0.02)
    log(f"took {slot.name()}")


def test_no_free_slot_means_the_job_waits_with_a_log_line_then_proceeds(tmp_path):
    holder = holder_process(tmp_path, "the first job")
    log = tmp_path / "waiter.log"
    waiter = FORK.Process(target=_waiter, args=(tmp_path, log))
    waiter.start()
    try:
        wait_for(lambda: log.exists() and "waiting" in log.read_text())
        time.sleep(0.3)
        assert waiter.is_alive(), "it waits, it does not fail"
        assert f"PID {holder.pid} (the first job)" in log.read_text(), "the log names the holder"
    finally:
        holder.communicate("release\n", timeout=30)
    waiter.join(30)
    assert waiter.exitcode == 0
    lines = log.read_text().splitlines()
    assert (
        lines[-2].startswith("a device slot freed after")
        and lines[-1] == "took fake device a (on the CPU), slot 1 of 1"
    )


def test_a_waiting_job_whose_snakemake_died_does_not_start(tmp_path):
    held = try_take_slot(fakes("a"), 1, tmp_path, "the first job")
    polls, lines = [], []
    with pytest.raises(devices.ParentGoneError, match="Snakemake"):
        take_slot(
            fakes("a"),
            1,
            tmp_path,
            "orphan",
            lines.append,
            poll_seconds=0,
            parent_gone=lambda: len(polls) > 2,
            sleep=polls.append,
        )
    assert lines[0].startswith("waiting for a free device slot") and len(polls) == 3
    held.release()


# ---- the workflow on two fake devices -----------------------------------------------------
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_smoke_run_on_two_fake_devices_trains_two_cells_on_two_slots_at_once(tmp_path, monkeypatch):
    """Two training jobs at once (--cores 2) on two fake devices, one job per device: each log
    names its device. The allocator gives a job the first listed device unless that device's
    slot is held, so a job on device b proves that device a's slot was held at that moment."""
    from tests.test_workflow import SMOKE, snakemake

    monkeypatch.setenv(devices.FAKE_DEVICES, "a,b")
    monkeypatch.setenv(devices.LOCK_FOLDER, str(tmp_path / "locks"))
    longer = tmp_path / "longer.yaml"  # cells that train long enough to overlap whatever the load
    longer.write_text("training: {total_images: 4096, eval_every: 2048}\n")
    cells = [f"{SMOKE}/lines/{model}/dz64/seed0" for model in ("baseline", "vae")]
    result = snakemake(tmp_path, *(f"{cell}/metrics.json" for cell in cells), configs=[longer])
    assert result.returncode == 0, result.stderr[-3000:]
    slots = {}
    for cell in cells:
        log = (tmp_path / cell.replace(f"{SMOKE}/", f"{SMOKE}/logs/train/")).with_suffix(".log").read_text()
        named = [line for line in log.splitlines() if line.startswith("device: ")]
        assert len(named) == 1, f"{cell}: the log names no device:\n{log[-2000:]}"
        metrics = json.loads((tmp_path / cell / "metrics.json").read_text())
        slots[cell] = metrics["provenance"]["device_slot"]
        assert named[0].startswith(f"device: {slots[cell]} "), "log and metrics.json name the same slot"
    assert sorted(slots.values()) == [
        "fake device a (on the CPU), slot 1 of 1",
        "fake device b (on the CPU), slot 1 of 1",
    ], slots


# ---- grid status names the device ---------------------------------------------------------
def test_grid_status_names_the_device_a_cell_ran_on_and_the_one_it_runs_on(tmp_path, monkeypatch):
    from acai_repro.grid.cell_status import grid_status
    from acai_repro.grid_cells import cell_folder, load_grid_config, target_cells
    from tests.test_grid import _finish, _running

    monkeypatch.setenv(devices.LOCK_FOLDER, str(tmp_path / "locks"))
    smoke = load_grid_config([str(ROOT / "config" / "smoke.yaml")])
    finished, running, waiting = target_cells(smoke, ["table1"])[:3]
    _finish(tmp_path, smoke, finished, {"mean_distance": 1.0})
    metrics = cell_folder(tmp_path, smoke, finished) / "metrics.json"
    metrics.write_text(
        json.dumps(
            {**json.loads(metrics.read_text()), "provenance": {"device": "cuda", "device_slot": "GPU 3, slot 1 of 1"}}
        )
    )
    _running(tmp_path, smoke, running, [{"images": 128, "images_per_s": 500.0}])
    (cell_folder(tmp_path, smoke, running) / ".trainer.lock").write_text(f"{os.getpid()}\n")  # its trainer: us
    slot = try_take_slot(fakes("b"), 1, tmp_path / "locks", "train_cell")
    lines = grid_status(smoke, tmp_path, ["table1"])
    line = {cell: next(x for x in lines if x.startswith(cell.name + " ")) for cell in (finished, running, waiting)}
    assert line[finished].endswith("[on GPU 3, slot 1 of 1]"), line[finished]
    assert line[running].endswith("[on fake device b (on the CPU), slot 1 of 1]"), line[running]
    assert "[on" not in line[waiting]
    slot.release()
    assert "[on" not in next(x for x in grid_status(smoke, tmp_path, ["table1"]) if x.startswith(running.name + " ")), (
        "a trainer without a slot runs on no named device"
    )


# ---- the workstation profile and the documented numbers ----------------------------------
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_the_workstation_profile_runs_the_workflow_and_gpu_evaluations_count_as_gpu_jobs(tmp_path):
    overlay = tmp_path / "evaluate_gpu.yaml"
    overlay.write_text("resources:\n  evaluate: {gpu: 1, threads: 1, mem_mb: 1000, runtime: 10}\n")
    target = "results/smoke/mnist/acai/dz32/seed0/kmeans.json"
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--dry-run",
        "--workflow-profile",
        str(ROOT / "profiles" / "workstation"),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        str(overlay),
        "--",
        target,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using workflow specific profile" in result.stdout + result.stderr
    blocks = {}
    for block in (result.stdout + result.stderr).split("\n\n"):
        if header := re.search(r"^(?:local)?rule (\w+):", block, re.M):
            blocks[header.group(1)] = block
    for rule in ("export_latents", "kmeans"):
        assert "gpu=1" in blocks[rule], f"{rule}: resources.evaluate.gpu 1 not requested:\n{blocks[rule]}"
    assert "gpu=1" not in blocks["train_cell"], "smoke training asks for no GPU (resources.train.gpu 0)"


def _wall_clock_table(text: str) -> dict[int, str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("wall-clock until the targets are done"))
    return {
        int(row.split()[0]): row.split()[1] for row in lines[start + 2 :] if row.strip() and row.split()[0].isdigit()
    }


def test_the_documented_hours_on_n_gpus_are_those_grid_cost_printed():
    raw = ROOT / "benchmarks" / "results" / "grid-cost-2026-12-07"
    h100, h200 = (_wall_clock_table((raw / f"paper_grid_{card}.txt").read_text()) for card in ("h100", "h200"))
    doc = (ROOT / "docs" / "gpu.md").read_text().split("## One machine, several GPUs")[1]
    rows = {
        int(cells[0]): (cells[1], cells[2])
        for cells in (
            line.strip("|").replace(" ", "").split("|")
            for line in doc.splitlines()
            if line.startswith("| ") and line[2].isdigit()
        )
    }
    assert rows == {n: (h100[n], h200[n]) for n in (1, 2, 4, 8)}, rows


@pytest.mark.mnist
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_latent_export_and_kmeans_jobs_take_a_device_slot_too(tmp_path, monkeypatch):
    from tests.conftest import mnist_overlay
    from tests.test_workflow import SMOKE, snakemake

    monkeypatch.setenv(devices.FAKE_DEVICES, "a,b")
    monkeypatch.setenv(devices.LOCK_FOLDER, str(tmp_path / "locks"))
    cell = "mnist/acai/dz32/seed0"
    result = snakemake(tmp_path, f"{SMOKE}/{cell}/kmeans.json", configs=[mnist_overlay(tmp_path)])
    assert result.returncode == 0, result.stderr[-3000:]
    for kind in ("train", "latents", "kmeans"):
        log = (tmp_path / SMOKE / "logs" / kind / f"{cell}.log").read_text()
        assert "device: fake device a (on the CPU), slot 1 of 1" in log, f"{kind}: {log[-1500:]}"
    record = json.loads((tmp_path / SMOKE / cell / "kmeans.json").read_text())
    assert record["provenance"]["device_slot"] == "fake device a (on the CPU), slot 1 of 1"
