"""Packed training: several cells in one process (acai_repro.training.train.train_pack) end exactly as
each cell trained alone, fail alone, stop and resume together; the workflow trains a table's
cells in packs and a single asked-for cell alone; `grid cost` counts packs."""

import json
import re
import signal
import sys
import time

import pytest
import torch

from acai_repro.models import MODELS
from acai_repro.training.train import EVALS_FILE, STATE_FILE, train_cell, train_pack
from tests.conftest import ROOT, start_child, tiny_spec
from tests.test_train import QUIET, _assert_same_weights, _evals_without_timing, _weights

CHILD = """
import json, sys, torch
torch.set_num_threads(1)
from pathlib import Path
from acai_repro.training.train import train_pack
cells = [(spec, Path(folder)) for spec, folder in json.loads(sys.argv[1])]
train_pack(cells, log=lambda m: print(m, flush=True))
"""


def _assert_same_as_solo(packed: dict, folder, solo_folder, tmp_path):
    solo = json.loads((solo_folder / "metrics.json").read_text())
    assert packed["status"] == solo["status"]
    assert _evals_without_timing(packed) == _evals_without_timing(solo)
    _assert_same_weights(_weights(folder / "model.pt"), _weights(solo_folder / "model.pt"))


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_mixed_pack_of_every_model_equals_each_model_trained_alone(smoke_config, tmp_path):
    specs = [tiny_spec(smoke_config, model, total_images=64 * 6, eval_every=64 * 3) for model in sorted(MODELS)]
    for spec in specs:
        train_cell(spec, tmp_path / "solo" / spec["model"], QUIET)
    cells = [(spec, tmp_path / "pack" / spec["model"]) for spec in specs]
    packed = train_pack(cells, QUIET)
    assert [m["cell"]["model"] for m in packed] == sorted(MODELS)
    for spec, metrics in zip(specs, packed):
        assert metrics["status"] == "ok" and len(metrics["evals"]) == 2
        assert metrics["wall_images_per_s"] > 0 and metrics["wall_seconds"] >= metrics["train_seconds"]
        _assert_same_as_solo(metrics, tmp_path / "pack" / spec["model"], tmp_path / "solo" / spec["model"], tmp_path)
        assert not (tmp_path / "pack" / spec["model"] / STATE_FILE).exists()


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_diverging_cell_ends_alone_and_the_others_go_on(smoke_config, tmp_path):
    bad = tiny_spec(smoke_config, "acai", total_images=64 * 6, eval_every=64 * 3, divergence_bound=1e-3, check_every=1)
    good = [tiny_spec(smoke_config, m, total_images=64 * 6, eval_every=64 * 3) for m in ("baseline", "vae")]
    for spec in good:
        train_cell(spec, tmp_path / "solo" / spec["model"], QUIET)
    bad_folder = tmp_path / "pack" / "acai"
    seen = []  # (message, did the diverged cell's outputs and final state exist then)

    def log(message):
        seen.append((message, (bad_folder / "metrics.json").exists(), (bad_folder / STATE_FILE).exists()))

    cells = [(bad, bad_folder)] + [(spec, tmp_path / "pack" / spec["model"]) for spec in good]
    diverged, *others = train_pack(cells, log)
    assert diverged["status"] == "diverged" and diverged["steps"] == 1 and "bound" in diverged["reason"]
    later = [entry for entry in seen if "lines/baseline" in entry[0] and "kimg" in entry[0]]
    assert later and all(outputs and state for _, outputs, state in later), "written at once, state kept"
    assert not (bad_folder / STATE_FILE).exists(), "state files go when the whole pack is done"
    for spec, metrics in zip(good, others):
        assert metrics["status"] == "ok"
        _assert_same_as_solo(metrics, tmp_path / "pack" / spec["model"], tmp_path / "solo" / spec["model"], tmp_path)


def test_a_pack_rejects_no_cells_and_two_cells_in_one_folder(smoke_config, tmp_path):
    spec = tiny_spec(smoke_config, "baseline")
    with pytest.raises(ValueError, match="at least one cell"):
        train_pack([], QUIET)
    with pytest.raises(ValueError, match="share an output directory"):
        train_pack([(spec, tmp_path / "a"), (dict(spec, seed=1), tmp_path / "a")], QUIET)


def test_a_pack_refuses_cells_of_different_convolution_precision(smoke_config, tmp_path):
    # cuDNN's TF32 switch is process-wide: one pack cannot honour two settings.
    fp32 = tiny_spec(smoke_config, "baseline")
    tf32 = tiny_spec(smoke_config, "baseline", conv_tf32=True)
    with pytest.raises(ValueError, match="conv_tf32"):
        train_pack([(fp32, tmp_path / "a"), (dict(tf32, seed=1), tmp_path / "b")], QUIET)
    assert not (tmp_path / "a").exists(), "refused before any cell started"
    assert fp32["training"]["conv_tf32"] is False, "float32 convolutions by default, as the protocol"


def _start_pack(cells):
    arguments = json.dumps([(spec, str(folder)) for spec, folder in cells])
    return start_child([sys.executable, "-c", CHILD, arguments])  # the ^C tests signal it too


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_sigterm_mid_pack_then_rerun_equals_an_uninterrupted_pack(smoke_config, tmp_path):
    """A short cell ends, then SIGTERM: the long cell saves its step, the ended one keeps its
    final state. Snakemake then deletes the failed job's outputs; the rerun re-finishes the
    ended cell from its state and resumes the other, both bit-identical to solo runs."""
    short = tiny_spec(smoke_config, "baseline", total_images=64 * 4, eval_every=64 * 4, checkpoint_minutes=1e9)
    long = tiny_spec(smoke_config, "vae", total_images=64 * 60, eval_every=64 * 4, checkpoint_minutes=1e9)
    for spec in (short, long):
        train_cell(spec, tmp_path / "solo" / spec["model"], QUIET)
    cells = [(short, tmp_path / "pack" / "baseline"), (long, tmp_path / "pack" / "vae")]

    proc = _start_pack(cells)
    deadline = time.monotonic() + 600
    while not (cells[0][1] / "metrics.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode != 0, output
    match = re.search(r"\[lines/vae/dz64/seed0\] stopped by SIGTERM at step (\d+)", output)
    assert match, output
    stopped_at = int(match.group(1))
    assert 4 <= stopped_at < 60, "the signal landed after the short cell ended, before the long one"
    assert torch.load(cells[1][1] / STATE_FILE, weights_only=False)["step"] == stopped_at
    assert torch.load(cells[0][1] / STATE_FILE, weights_only=False)["ended"]["status"] == "ok"
    for _, folder in cells:  # what Snakemake does to a failed job's outputs
        (folder / "metrics.json").unlink(missing_ok=True)
        (folder / "model.pt").unlink(missing_ok=True)

    messages = []
    rerun = train_pack(cells, messages.append)
    assert any(f"resumed from {cells[1][1] / STATE_FILE} at step {stopped_at}" in m for m in messages)
    assert not any("[lines/baseline/dz64/seed0] device" in m for m in messages), "re-finished, not retrained"
    for (spec, folder), metrics in zip(cells, rerun):
        _assert_same_as_solo(metrics, folder, tmp_path / "solo" / spec["model"], tmp_path)
        assert len((folder / EVALS_FILE).read_text().splitlines()) == len(metrics["evals"])
        assert not (folder / STATE_FILE).exists()


def _pack3_overlay(tmp_path):
    path = tmp_path / "pack3.yaml"
    path.write_text("resources:\n  train: {gpu: 0, threads: 1, mem_mb: 1000, runtime: 10, pack: 3}\n")
    return path


def _table1_jobs(overlay, asked=()) -> dict:
    """The jobs a dry run of the smoke Table 1 (with `overlay`) should count, from the config: each
    cell's spec, its packs (those holding an `asked` cell dissolved), every other cell alone, the table."""
    from acai_repro.config import load_config
    from acai_repro.training.packs import dissolve_targeted, tables_cells, training_packs

    config = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml", overlay)
    packs = {name: cells for name, cells in training_packs(config).items() if name.startswith("train_pack_table1_")}
    packs = dissolve_targeted(packs, asked, config["results_dir"])
    packed = {cell for cells in packs.values() for cell in cells}
    table1 = [cell for table, cell in tables_cells(config) if table == "table1"]
    alone = [cell for cell in table1 if cell not in packed]
    jobs = {"cell_spec": len(table1)}  # each cell's spec.json, which training reads
    jobs.update({"train_cell": len(alone)} if alone else {})
    jobs.update({name: 1 for name in packs}, table1=1)
    return {**jobs, "total": sum(jobs.values())}


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_table_trains_in_packs_and_one_asked_for_cell_trains_alone(tmp_path):
    from tests.test_workflow import _jobs, snakemake

    overlay = _pack3_overlay(tmp_path)
    table = snakemake(tmp_path / "w", "-n", "results/smoke/table1.tex", configs=[overlay])
    assert table.returncode == 0, table.stderr
    expected = _table1_jobs(overlay)
    assert "train_pack_table1_lines_1" in expected, f"the smoke Table 1 should fill two packs of 3: {expected}"
    assert _jobs(table.stdout) == expected, f"jobs of the dry run, then those the config makes: {expected}"
    acai = "results/smoke/lines/acai/dz64/seed0/metrics.json"
    one = snakemake(tmp_path / "w", "-n", acai, "results/smoke/table1.tex", configs=[overlay])
    assert one.returncode == 0, one.stderr
    # acai's pack is dissolved (its cells train alone); the other packs stay.
    expected = _table1_jobs(overlay, asked=[acai])
    assert _jobs(one.stdout) == expected, f"jobs of the dry run, then those the config makes: {expected}"
    # A SLURM job: --target-jobs, no targets; it finds the rule its head process chose.
    # (Here in an empty folder with the cells' spec.json files, which the head process writes first.)
    for job, rule, cells in (
        ("train_pack_table1_lines_1:", "train_pack_table1_lines_1", 3),
        ("train_cell:dataset=lines,model=acai,dz=64,seed=0", "train_cell", 1),
    ):
        remote = snakemake(tmp_path / "w", "-n", f"--target-jobs={job}", configs=[overlay])
        assert remote.returncode == 0, remote.stderr
        assert _jobs(remote.stdout) == {"cell_spec": cells, rule: 1, "total": cells + 1}, remote.stdout[-2000:]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_pack_job_gets_the_resources_a_profile_sets_for_train_cell(tmp_path):
    """SLURM profiles name train_cell in set-resources (GPU partition); packs get the same."""
    from tests.test_workflow import snakemake

    overlay = _pack3_overlay(tmp_path)
    dry = snakemake(
        tmp_path / "w",
        "-n",
        "--set-resources=train_cell:slurm_partition=gpu",
        "results/smoke/table1.tex",
        configs=[overlay],
    )
    assert dry.returncode == 0, dry.stderr
    packs = dry.stdout.split("rule train_pack_")[1:]
    assert len(packs) == 2 and all("slurm_partition=gpu" in p.split("rule ")[0] for p in packs)


def _chunks(count: int, size: int) -> list[int]:
    """Sizes of the packs `count` cells fill `size` at a time (a last chunk of one trains alone)."""
    sizes = [min(size, count - start) for start in range(0, count, size)]
    return [n for n in sizes if n > 1]


def test_packs_come_from_the_config_in_table_order_never_mixing_tables(smoke_config):
    from acai_repro.training.packs import dissolve_targeted, targeted_cell, training_packs

    assert training_packs(smoke_config) == {}  # pack 1: every cell its own job
    smoke_config["resources"]["train"]["pack"] = 4
    packs = training_packs(smoke_config)
    seeds = len(smoke_config["seeds"])
    table1 = _chunks(len(smoke_config["table1"]["models"]) * seeds, 4)
    table2 = smoke_config["table2"]
    assert {dataset for dataset, _ in table2["cells"]} == {"mnist"}, "the smoke Table 2 is MNIST's"
    table2 = _chunks(len(table2["cells"]) * len(table2["models"]) * seeds, 4)
    expected = [f"train_pack_table1_lines_{i}" for i in range(len(table1))]
    expected += [f"train_pack_table2_mnist_{i}" for i in range(len(table2))]
    assert list(packs) == expected, f"packs {list(packs)}, expected from the config {expected}"
    assert [len(c) for c in packs.values()] == table1 + table2, {name: len(c) for name, c in packs.items()}
    assert packs["train_pack_table1_lines_0"][0] == ("lines", "baseline", 64, 0)
    assert all(not name.startswith("train_pack_table3") for name in packs), "Table 3 shares Table 2's cells"
    assert targeted_cell("results/lines/vae/dz64/seed0/kmeans.json") == ("lines", "vae", 64, 0)
    assert targeted_cell("results/table1.tex") is None
    left = dissolve_targeted(packs, ["results/lines/vae/dz64/seed0"])
    assert targeted_cell("results/quick/lines/vae/dz64/seed0/metrics.json", "results/quick") == ("lines", "vae", 64, 0)
    assert targeted_cell("results/quick/lines/vae/dz64/seed0/metrics.json") is None  # another scale's cell
    [holding_vae] = [name for name, cells in packs.items() if ("lines", "vae", 64, 0) in cells]
    assert set(left) == set(packs) - {holding_vae}, f"only {holding_vae} should be dissolved: {sorted(left)}"


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_grid_cost_counts_packs_with_solo_rates_until_packed_rates_are_measured(smoke_config, tmp_path):
    from acai_repro.grid.cost import cost_report
    from acai_repro.grid_cells import load_grid_config
    from acai_repro.training.packs import training_packs

    overlay = _pack3_overlay(tmp_path)
    files = [str(ROOT / "config" / "smoke.yaml"), str(overlay)]
    config = load_grid_config(files)
    lines = cost_report(config, files, tmp_path, ["results/smoke/table1.tex"], "h100")
    packs = [cells for name, cells in training_packs(config).items() if name.startswith("train_pack_table1_")]
    cells = len(config["table1"]["models"]) * len(config["seeds"])
    packed = sum(len(c) for c in packs)
    jobs = f"training jobs: {len(packs)} packs (rules train_pack_*, {packed} cells) + {cells - packed} single cells (train_cell)"
    assert jobs in lines, f"{jobs!r} expected in:\n" + "\n".join(lines)
    pack_lines = [line for line in lines if line.startswith("  train_pack_") and "GPU-h" in line]
    assert len(pack_lines) == len(packs), pack_lines
    for line, pack in zip(pack_lines, packs):
        assert f"{len(pack)} cells" in line and "solo rate, packed rate not measured" in line, line
    assert any(line.startswith(f"training cells that would run: {cells}") for line in lines), lines
