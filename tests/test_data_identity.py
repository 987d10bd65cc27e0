"""Data that moved are not new data: a real-data cell's spec names its prepared data by content
(data.content, a digest of the source's format and accepted md5s), not by where the file lies.

The same folder written another way, or the data moved elsewhere, retrains nothing; cells whose
records name the data by path (written before) read as trained on the configured data, finished
and current; what does change the data (another max_examples, other accepted md5s) still reruns.
"""

import ast
import copy
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from acai_repro.config import (
    cell_spec,
    comparable_spec,
    content_digest,
    deep_update,
    kept_spec,
    source_content,
    spec_core,
    spec_digest,
    with_run_settings,
)
from acai_repro.grid_cells import load_grid_config
from tests.conftest import ROOT, mnist_overlay
from tests.test_workflow import SMOKE, _jobs, snakemake

MODELS = ("baseline", "denoising", "vae", "aae", "vqvae", "acai")
CELLS = [f"{SMOKE}/mnist/{model}/dz32/seed0" for model in MODELS]
METRICS = [f"{cell}/metrics.json" for cell in CELLS]


def _config(text: str = "") -> dict:
    overlay = yaml.safe_load(text) if text else {}
    return deep_update(load_grid_config([str(ROOT / "config" / "smoke.yaml")]), overlay)


def _spec(config: dict, model: str = "acai") -> dict:
    return cell_spec(config, "mnist", model, 32, 0)


def located(spec: dict, path: str = "results/data/mnist.h5") -> dict:
    """`spec` as a spec.json written before data were named by content: the data by path."""
    legacy = copy.deepcopy(spec)
    data = legacy["data"]
    legacy["data"] = {"path": path, **{k: v for k, v in data.items() if k != "content"}}
    return legacy


# ---- the spec ---------------------------------------------------------------------------------
@pytest.mark.parametrize("data_dir", ["./results/data", "results/../results/data", "/somewhere/else/data"])
def test_where_the_data_lie_is_no_part_of_a_cells_spec(data_dir):
    here, there = _config(), _config(f"data: {{data_dir: {data_dir}}}")
    assert _spec(here) == _spec(there) and spec_digest(_spec(here)) == spec_digest(_spec(there))
    assert "path" not in _spec(there)["data"], _spec(there)["data"]


def test_the_data_are_named_by_what_their_content_depends_on():
    config = _config()
    assert _spec(config)["data"]["content"] == content_digest(source_content(config, "mnist"))
    other = _config("data: {sources: {mnist: {files: {test_images: {md5: [" + "0" * 32 + "]}}}}}")
    assert _spec(other)["data"]["content"] != _spec(config)["data"]["content"], "other accepted md5s: other data"
    elsewhere = _config("data: {sources: {mnist: {path: /local/copy, mirrors: ['https://example.org/']}}}")
    assert _spec(elsewhere) == _spec(config), "where the source files come from is not their content"


def test_the_job_gets_the_current_location_as_a_run_setting():
    config = _config("data: {data_dir: /moved/data}")
    job = with_run_settings(_spec(config), config)
    assert job["data"]["path"] == "/moved/data/mnist.h5", job["data"]
    assert spec_core(job) == _spec(config) and spec_digest(job) == spec_digest(_spec(config))


def test_a_spec_naming_the_data_by_path_compares_as_the_configured_data():
    expected = _spec(_config())
    legacy = located(expected, "/old/place/mnist.h5")
    assert spec_core(comparable_spec(legacy, expected)) == spec_core(expected)
    assert kept_spec(legacy, expected) is legacy, "the recorded path form is kept: the same params for Snakemake"
    # everything else still counts: another split or cap is another spec
    changed = located(_spec(_config("datasets: {mnist: {max_examples: 100}}")))
    assert spec_core(comparable_spec(changed, expected)) != spec_core(expected)
    assert kept_spec(changed, expected) is expected
    assert kept_spec(None, expected) is expected and kept_spec(expected, expected) is expected


# ---- the workflow -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_mnist(tmp_path_factory):
    """The six smoke MNIST cells of Table 2, trained (their data prepared under results/data)."""
    workdir = tmp_path_factory.mktemp("mnist_cells")
    result = snakemake(workdir, *METRICS, configs=[mnist_overlay(workdir)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def _copy(trained, tmp_path):
    """A copy of the finished run (file times kept, Snakemake's records with it)."""
    copy_dir = tmp_path / "run"
    shutil.copytree(trained, copy_dir, symlinks=True)
    return copy_dir


def _overlay(directory, text):
    path = directory / "overlay.yaml"
    path.write_text(text + "\n")
    return path


def _dry(workdir, *configs, targets=METRICS):
    result = snakemake(workdir, "-n", *targets, configs=[workdir / "mnist_local.yaml", *configs])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


@pytest.mark.mnist
@pytest.mark.slow
def test_the_same_data_folder_written_absolute_retrains_nothing(trained_mnist, tmp_path):
    absolute = _overlay(tmp_path, f"data: {{data_dir: {trained_mnist / 'results' / 'data'}}}")
    output = _dry(trained_mnist, absolute)
    assert "Nothing to be done" in output, output[-3000:]


@pytest.mark.mnist
@pytest.mark.slow
def test_moved_data_retrain_nothing_and_train_a_new_cell_from_where_they_are(trained_mnist, tmp_path):
    run = _copy(trained_mnist, tmp_path)
    shutil.move(run / "results" / "data", tmp_path / "moved")
    moved = _overlay(tmp_path, f"data: {{data_dir: {tmp_path / 'moved'}}}")
    output = _dry(run, moved)
    assert "Nothing to be done" in output, output[-3000:]
    # a cell trained after the move reads the data where they are now
    new_cell = f"{SMOKE}/mnist/acai/dz32/seed1/metrics.json"
    result = snakemake(run, new_cell, configs=[run / "mnist_local.yaml", moved])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not (run / "results" / "data").exists(), "the data were prepared again at the old place"


@pytest.mark.mnist
@pytest.mark.slow
def test_a_changed_cap_on_the_data_still_retrains_every_cell(trained_mnist, tmp_path):
    output = _dry(trained_mnist, _overlay(tmp_path, "datasets: {mnist: {max_examples: 256}}"))
    assert _jobs(output).get("train_cell") == len(CELLS), output[-3000:]


def _rewrite_as_located(run):
    """The run as one made before data were named by content: each cell's spec.json and
    metrics.json name the data by path, and Snakemake's record of rule cell_spec's params too."""
    for cell in CELLS:
        for name in ("spec.json", "metrics.json"):
            path = run / cell / name
            record = json.loads(path.read_text())
            record["spec"] = located(record["spec"])
            if name == "spec.json":
                record["spec_digest"] = spec_digest(record["spec"])
            times = path.stat()
            path.write_text(json.dumps(record, indent=2) + "\n")
            os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))  # as written then
    rewritten = 0
    for path in (run / ".snakemake" / "metadata").iterdir():
        meta = json.loads(path.read_text())
        params = meta.get("params") or []
        if len(params) == 1 and "'content':" in params[0]:
            meta["params"] = [repr(located(ast.literal_eval(params[0])))]
            path.write_text(json.dumps(meta))
            rewritten += 1
    assert rewritten == len(CELLS), f"{rewritten} cell_spec records rewritten, not {len(CELLS)}"


@pytest.mark.mnist
@pytest.mark.slow
def test_cells_recorded_with_the_data_path_stay_finished_and_current(trained_mnist, tmp_path):
    run = _copy(trained_mnist, tmp_path)
    _rewrite_as_located(run)
    output = _dry(run)
    assert "Nothing to be done" in output, f"cells recorded under the path form rerun: {output[-3000:]}"
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "acai_repro.grid",
            "status",
            "--configfile",
            str(ROOT / "config" / "smoke.yaml"),
            str(run / "mnist_local.yaml"),
            "--directory",
            str(run),
            f"{SMOKE}/table2.tex",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert status.returncode == 0, status.stderr[-2000:]
    assert f"{len(CELLS)} finished" in status.stdout and "0 stale" in status.stdout, status.stdout[-2000:]


def test_the_committed_quick_records_read_as_finished_wherever_the_data_lie(tmp_path):
    """docs/quick-tables23-results names its data by content; a config that puts the data
    elsewhere reads every cell as finished and current (the path form: the tests above)."""
    shutil.copytree(ROOT / "docs" / "quick-tables23-results", tmp_path / "results" / "quick")
    moved = _overlay(tmp_path, "data: {data_dir: /elsewhere/data}")
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "acai_repro.grid",
            "status",
            "--configfile",
            str(ROOT / "config" / "quick.yaml"),
            str(moved),
            "--directory",
            str(tmp_path),
            "results/quick/table2.tex",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert status.returncode == 0, status.stderr[-2000:]
    assert "12 cells: 12 finished" in status.stdout and "0 stale" in status.stdout, status.stdout[-2000:]
    record = json.loads((tmp_path / "results/quick/mnist/acai/dz32/seed0/spec.json").read_text())
    spec = record["spec"]
    assert "content" in spec["data"] and "path" not in spec["data"], f"not the content form: {spec['data']}"
    # the job's spec, which carries the new location as a run setting, keeps the recorded digest
    config = load_grid_config([str(ROOT / "config" / "quick.yaml"), str(moved)])
    assert spec_digest(spec) == record["spec_digest"] == spec_digest(with_run_settings(spec, config))
