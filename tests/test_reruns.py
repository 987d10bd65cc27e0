"""Run settings rerun nothing: a finished pack of the smoke Table 1, then dry runs under changed
pack sizes and other run settings schedule no training job, for a table and a cell target."""

import json
import re

import pytest

from tests.test_workflow import SMOKE, _jobs, snakemake

TABLE = f"{SMOKE}/table1.tex"
CELL = f"{SMOKE}/lines/acai/dz64/seed0"
RESOURCES = "{gpu: 0, threads: 1, mem_mb: 1000, runtime: 10, pack: %d}"

# Each change of a run setting, as a config overlay (smoke.yaml's resources, another pack).
RUN_SETTINGS = {
    "pack 6 (as trained)": f"resources: {{train: {RESOURCES % 6}}}",
    "pack 1": f"resources: {{train: {RESOURCES % 1}}}",
    "pack 3": f"resources: {{train: {RESOURCES % 3}}}",
    "pack 2, more threads": "resources: {train: {gpu: 0, threads: 2, mem_mb: 1500, runtime: 20, pack: 2}}",
    "cuda_graphs off": "training: {cuda_graphs: 'off'}",
    "progress_seconds": "training: {progress_seconds: 1}",
    "checkpoint_minutes": "training: {checkpoint_minutes: 0.5}",
    "check_every": "training: {check_every: 4}",
    "scale_name": "scale_name: renamed",
    "device": "device: auto",
    "results_dir ./": "results_dir: ./results/smoke",
    "results_dir ..": "results_dir: results/../results/smoke",
}
TARGETS = {"table": [TABLE], "cell": [f"{CELL}/metrics.json"], "cell model": [f"{CELL}/model.pt"]}


def _overlay(directory, name, text):
    path = directory / f"{re.sub(r'[^a-z0-9]+', '_', name)}.yaml"
    path.write_text(text + "\n")
    return path


@pytest.fixture(scope="module")
def packed_table1(tmp_path_factory):
    """The smoke Table 1 trained in one pack of its six cells."""
    workdir = tmp_path_factory.mktemp("packed")
    result = snakemake(workdir, TABLE, configs=[_overlay(workdir, "pack 6", RUN_SETTINGS["pack 6 (as trained)"])])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "rule train_pack_table1_lines_0" in result.stdout + result.stderr, "the six cells trained as one pack"
    return workdir


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("change", RUN_SETTINGS)
def test_a_changed_run_setting_schedules_no_training_job(packed_table1, tmp_path, change, target):
    result = snakemake(
        packed_table1, "-n", *TARGETS[target], configs=[_overlay(tmp_path, change, RUN_SETTINGS[change])]
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Nothing to be done" in output, f"{change} reruns jobs for the {target} target: {output[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("overlay", ["pack 1", "pack 3"])
def test_a_changed_hyperparameter_still_retrains_that_cell_only(packed_table1, tmp_path, overlay):
    """The other direction: what determines a cell still reruns it, whatever the pack size."""
    changed = tmp_path / "lambda.yaml"
    changed.write_text("models: {acai: {lambda: 0.25}}\n")
    result = snakemake(
        packed_table1, "-n", TABLE, configs=[_overlay(tmp_path, overlay, RUN_SETTINGS[overlay]), changed]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = _jobs(result.stdout)
    assert jobs["cell_spec"] == 1 and jobs["table1"] == 1, jobs
    trained = {rule: count for rule, count in jobs.items() if rule.startswith("train_")}
    # pack 1: the ACAI cell alone; pack 3: the pack holding it (its mates train again with it)
    assert trained in ({"train_cell": 1}, {"train_pack_table1_lines_1": 1}), trained


@pytest.mark.slow
def test_packed_and_solo_cells_record_their_spec_in_spec_json(packed_table1):
    record = json.loads((packed_table1 / CELL / "spec.json").read_text())
    assert record["spec"]["model"] == "acai" and "device" not in record["spec"], record
    metrics = json.loads((packed_table1 / CELL / "metrics.json").read_text())
    assert metrics["spec_digest"] == record["spec_digest"], "the cell trained under its spec.json"


@pytest.mark.slow
def test_an_absolute_results_dir_to_the_same_folder_reruns_nothing(packed_table1, tmp_path):
    overlay = _overlay(tmp_path, "absolute", f"results_dir: {packed_table1 / SMOKE}")
    for target in (packed_table1 / TABLE, packed_table1 / CELL / "metrics.json"):
        result = snakemake(packed_table1, "-n", str(target), configs=[overlay])
        output = result.stdout + result.stderr
        assert result.returncode == 0 and "Nothing to be done" in output, output[-3000:]


@pytest.mark.slow
def test_another_scale_in_the_finished_root_is_refused_naming_both(packed_table1, tmp_path):
    """The quick config pointed at the smoke cells would retrain and overwrite them."""
    into_smoke = _overlay(tmp_path, "into smoke", f"results_dir: {SMOKE}\nscale_name: mine")
    result = snakemake(packed_table1, "-n", TABLE, configs=[into_smoke], scale="quick.yaml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert (
        f"invalid configuration: config key 'results_dir': {SMOKE} holds cells of scale 'smoke' (" in output
        and "was trained under another spec: " in output
        and "this config is scale 'mine'" in output
    ), output[-3000:]
    assert "rule train" not in output


@pytest.mark.slow
@pytest.mark.parametrize(
    "scale,overlay,message",
    [
        (
            "smoke.yaml",
            "scale_name: quick",
            "'scale_name': 'quick' is the scale of config/quick.yaml (results_dir results/quick), "
            "but this run is config/smoke.yaml's scale (results_dir results/smoke)",
        ),
        # quick.yaml's own scale in another root: refused there by the cells it holds
        ("quick.yaml", f"results_dir: {SMOKE}", f"'results_dir': {SMOKE} holds cells of scale 'smoke'"),
    ],
)
def test_a_shipped_scales_name_or_root_is_refused_to_another_scale(packed_table1, tmp_path, scale, overlay, message):
    result = snakemake(packed_table1, "-n", TABLE, configs=[_overlay(tmp_path, "name", overlay)], scale=scale)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"invalid configuration: config key {message}" in output, output[-3000:]
