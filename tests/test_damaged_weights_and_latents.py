"""Damaged weights and latents are named, never read as data: latents.h5 carries checksums that
read_latents checks; a model.pt whose bytes changed is named, moved aside, shown damaged by
`grid status`, and the next run trains the cell again."""

import json
import os
import subprocess
import sys

import h5py
import pytest

from acai_repro.downstream import export_latents, probe_cell, read_latents
from acai_repro.grid.cell_status import cell_status
from acai_repro.grid_cells import Cell, cell_folder, load_grid_config
from acai_repro.results import DamagedRecordError
from acai_repro.training.checkpoints import load_trained
from acai_repro.training.train import train_cell
from acai_repro.training.weights_file import DAMAGED_SUFFIX, check_contents, check_structure
from tests.conftest import ROOT, mnist_overlay, tiny_spec
from tests.test_downstream import tiny_mnist_h5  # noqa: F401 (a fixture)

SMOKE = str(ROOT / "config" / "smoke.yaml")


@pytest.fixture
def trained(smoke_config, tiny_mnist_h5, tmp_path):  # noqa: F811
    """A tiny MNIST-like cell trained two steps, and its latents exported (64 rows a chunk)."""
    path, _ = tiny_mnist_h5
    spec = tiny_spec(smoke_config, "baseline", total_images=128, eval_every=64)
    spec.update(dataset="mnist", dz=32)
    spec["architecture"].update(latent_width=4, latent_channels=2)
    spec["data"] = {"path": str(path), "train_splits": ["train"], "test_split": "test", "max_examples": None}
    cell = tmp_path / "cell"
    assert train_cell(spec, cell, lambda m: None)["status"] == "ok"
    latents = cell / "latents.h5"
    export_latents(cell / "model.pt", ["train", "test"], latents, chunk=16)
    return cell, latents


def _zero(path, size=4096, where=0.5):
    """Zero `size` bytes around `where` (a fraction of the file)."""
    data = bytearray(path.read_bytes())
    start = max(0, int(len(data) * where) - size // 2)
    data[start : start + size] = bytes(min(size, len(data) - start))
    path.write_bytes(bytes(data))


# --- latents.h5 ---


def test_latents_carry_checksums_and_read_back(trained):
    _, latents = trained
    with h5py.File(latents) as f:
        assert all(f[split][name].fletcher32 for split in ("train", "test") for name in ("z", "labels"))
    z, labels = read_latents(latents, "test")
    assert z.shape == (40, 32) and labels.shape == (40,)


@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_zeroed_latents_are_named_never_read_as_data(trained, where, tmp_path):
    """4 KiB zeroed in the file (its middle, and a quarter either side): every reader names it."""
    cell, latents = trained
    _zero(latents, where=where)
    for split in ("train", "test"):
        with pytest.raises(DamagedRecordError, match=f"^{latents}: damaged latents file"):
            read_latents(latents, split)
    metrics = cell / "metrics.json"
    params = type(
        "Params",
        (),
        {"test_split": "test", "train_split": "train", "limit": None, "classes": 10, "options": {"max_iter": 5}},
    )
    inputs = type("Inputs", (), {"latents": str(latents), "metrics": str(metrics)})
    out = tmp_path / "probe.json"
    with pytest.raises(DamagedRecordError, match=str(latents)):
        probe_cell(inputs, params, "cpu", out, lambda m: None)
    assert not out.exists(), "a probe record was written from damaged latents"


def test_a_chunk_zeroed_with_its_fletcher32_is_caught_by_the_sha256(trained):
    """fletcher32 of zeros is zero: a chunk zeroed together with its checksum passes HDF5's check."""
    _, latents = trained
    with h5py.File(latents) as f:
        chunk = f["train"]["z"].id.get_chunk_info(1)  # a whole chunk, its checksum included
    data = bytearray(latents.read_bytes())
    data[chunk.byte_offset : chunk.byte_offset + chunk.size] = bytes(chunk.size)
    latents.write_bytes(bytes(data))
    with h5py.File(latents) as f:
        assert not f["train"]["z"][16:32].any(), "HDF5 itself reads the zeroed chunk as zeros"
    with pytest.raises(
        DamagedRecordError, match=f"^{latents}: damaged latents file: /train/z does not match its sha256"
    ):
        read_latents(latents, "test")


def test_latents_without_checksums_are_refused_saying_what_to_do(trained):
    _, latents = trained
    z, labels = read_latents(latents, "test")
    with h5py.File(latents, "w") as f:  # as the older code wrote them
        f.create_dataset("test/z", data=z)
        f.create_dataset("test/labels", data=labels)
    with pytest.raises(DamagedRecordError, match=f"^{latents}: latents without checksums .*delete it, and the rerun"):
        read_latents(latents, "test")


# --- model.pt ---


@pytest.mark.parametrize("damage", ["cut", "zeroed"])
def test_damaged_weights_are_named_and_moved_aside(trained, damage, tmp_path):
    cell, _ = trained
    weights = cell / "model.pt"
    if damage == "cut":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    else:
        _zero(weights)  # torch.load alone reads such weights without a word
    with pytest.raises(DamagedRecordError) as error:
        export_latents(weights, ["test"], tmp_path / "latents.h5")
    message = str(error.value)
    aside = weights.with_name("model.pt" + DAMAGED_SUFFIX)
    assert message.startswith(f"{weights}: damaged weights: ") and f"moved to {aside}" in message, message
    assert "the next run trains the cell again" in message
    assert not weights.exists() and aside.exists(), "the damaged weights stay the cell's output"
    assert not (tmp_path / "latents.h5").exists()


def test_intact_weights_pass_both_checks(trained):
    cell, _ = trained
    check_structure(cell / "model.pt")
    check_contents(cell / "model.pt")
    load_trained(cell / "model.pt")
    assert (cell / "model.pt").exists()


def _finished_cell(directory, config, cell, trained_folder):
    """A finished cell of `config` under `directory`: a metrics.json of its spec and real weights."""
    from acai_repro.config import cell_spec, spec_digest

    folder = cell_folder(directory, config, cell)
    folder.mkdir(parents=True)
    spec = cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed)
    record = {
        "status": "ok",
        "reason": None,
        "reported": {"mean_distance": 0.03},
        "evals": [{"images": 256, "kimg": 0.25, "mean_distance": 0.03}],
        "images": 256,
        "images_per_s": 9.0,
        "spec": spec,
        "spec_digest": spec_digest(spec),
    }
    (folder / "metrics.json").write_text(json.dumps(record))
    (folder / "model.pt").write_bytes((trained_folder / "model.pt").read_bytes())
    return folder


def test_grid_status_marks_cut_or_moved_aside_weights_damaged(trained, tmp_path):
    config = load_grid_config([SMOKE])
    cell = Cell("lines", "acai", 64, 0)
    folder = _finished_cell(tmp_path / "w", config, cell, trained[0])
    assert cell_status(config, tmp_path / "w", cell, 0.0).state == "finished"
    weights = folder / "model.pt"
    weights.write_bytes(weights.read_bytes()[:-100])
    status = cell_status(config, tmp_path / "w", cell, 0.0)
    assert status.state == "damaged" and f"{weights}: damaged weights" in status.detail, status
    weights.replace(folder / ("model.pt" + DAMAGED_SUFFIX))
    status = cell_status(config, tmp_path / "w", cell, 0.0)
    assert status.state == "damaged" and "moved to model.pt.damaged: the next run trains" in status.detail, status
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "acai_repro.grid",
            "status",
            "--configfile",
            SMOKE,
            "--directory",
            str(tmp_path / "w"),
            "results/smoke/table1.tex",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0 and "1 damaged" in result.stdout and "model.pt.damaged" in result.stdout, (
        result.stdout
    )


@pytest.mark.slow
@pytest.mark.mnist
def test_a_damaged_model_pt_fails_its_export_once_and_the_rerun_retrains_it(tmp_path):
    """The workflow end to end: zeroed weights fail the export naming the file; `grid status`
    says damaged; the plain rerun trains the cell again and exports its latents."""
    from tests.test_workflow import snakemake

    work = tmp_path / "w"
    overlay = mnist_overlay(tmp_path)
    latents = "results/smoke/mnist/baseline/dz32/seed0/latents.h5"
    first = snakemake(work, latents, configs=[overlay], timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    weights = work / "results/smoke/mnist/baseline/dz32/seed0/model.pt"
    _zero(weights)
    os.utime(work / latents, (0, 0))  # the latents older than the weights: the export runs again
    os.utime(weights, None)
    failed = snakemake(work, latents, configs=[overlay], timeout=900)
    assert failed.returncode != 0
    assert f"{weights.relative_to(work)}: damaged weights" in failed.stderr, failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "acai_repro.grid",
            "status",
            "--configfile",
            SMOKE,
            str(overlay),
            "--directory",
            str(work),
            "table2",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert "damaged" in status.stdout and "model.pt.damaged" in status.stdout, status.stdout + status.stderr
    rerun = snakemake(work, latents, configs=[overlay], timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rule train_cell" in rerun.stdout + rerun.stderr, "the rerun did not train the cell again"
    assert read_latents(work / latents, "test")[0].shape[1] == 32


@pytest.mark.parametrize("content", [b"", b"not a torch archive\n"], ids=["empty", "text"])
def test_weights_that_are_no_archive_are_named(trained, content):
    cell, _ = trained
    (cell / "model.pt").write_bytes(content)
    with pytest.raises(
        DamagedRecordError, match=f"^{cell / 'model.pt'}: damaged weights: not a readable torch archive"
    ):
        load_trained(cell / "model.pt")


def test_damaged_weights_that_cannot_be_moved_aside_are_named_saying_to_delete_them(trained, monkeypatch):
    """A read-only folder (simulated: root may write anywhere)."""
    import acai_repro.training.checkpoints

    def read_only(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(acai_repro.training.checkpoints, "quarantine", read_only)
    cell, _ = trained
    weights = cell / "model.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(DamagedRecordError, match="could not move it aside .*delete it, and the next run trains"):
        load_trained(weights)


def test_a_split_the_latents_do_not_hold_is_named_with_those_they_hold(trained):
    _, latents = trained
    with pytest.raises(DamagedRecordError, match=f"^{latents}: holds no split 'validation' \\(it holds test, train\\)"):
        read_latents(latents, "validation")


def test_torch_load_alone_reads_changed_weight_bytes_the_crc_check_does_not(trained):
    """Why model.pt is checked before torch.load (acai_repro.training.weights_file's docstring)."""
    import zipfile

    import torch

    cell, _ = trained
    weights = cell / "model.pt"
    with zipfile.ZipFile(weights) as archive:
        entry = max(archive.infolist(), key=lambda e: e.file_size)  # the largest tensor's bytes
    data = bytearray(weights.read_bytes())
    name_and_extra = int.from_bytes(
        data[entry.header_offset + 26 : entry.header_offset + 28], "little"
    ) + int.from_bytes(data[entry.header_offset + 28 : entry.header_offset + 30], "little")
    start = entry.header_offset + 30 + name_and_extra + entry.file_size // 2
    data[start : start + 64] = bytes(64)
    weights.write_bytes(bytes(data))
    torch.load(weights, weights_only=False)  # no error: torch reads the changed bytes as weights
    with pytest.raises(DamagedRecordError, match="does not match its CRC-32"):
        check_contents(weights)
