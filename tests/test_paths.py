"""Paths are paths: an absolute or unnormalised results_dir or data_dir makes the same files,
and a config file given where a target goes is named as one."""

import subprocess
import sys

import pytest

from acai_repro.results import other_spelling, workflow_path
from tests.conftest import ROOT
from tests.test_workflow import _jobs

SMOKE = ROOT / "config" / "smoke.yaml"


def _dry_run(workdir, *args):
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def _overlay(tmp_path, text):
    path = tmp_path / "paths.yaml"
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("spelling", ["./results/smoke", "results/../results/smoke", "ABSOLUTE"])
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_results_dir_in_any_spelling_makes_the_tables_and_cells(tmp_path, spelling):
    work = tmp_path / "work"
    root = str(work / "results" / "smoke") if spelling == "ABSOLUTE" else spelling
    overlay = _overlay(tmp_path, f"results_dir: {root}")
    for target, jobs in (
        (f"{root}/table1.tex", "table1"),
        (f"{root}/lines/acai/dz64/seed0/metrics.json", "train_cell"),
    ):
        result = _dry_run(work, "--configfile", str(SMOKE), str(overlay), "--", target)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert jobs in _jobs(result.stdout), output[-3000:]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_an_absolute_data_dir_makes_its_data_files(tmp_path):
    work = tmp_path / "work"
    overlay = _overlay(tmp_path, f"data: {{data_dir: {work / 'data'}}}")
    result = _dry_run(work, "--configfile", str(SMOKE), str(overlay), "--", str(work / "data" / "mnist.h5"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert _jobs(result.stdout) == {"prepare_dataset": 1, "total": 1}


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_target_spelt_unlike_the_config_says_how_to_write_it(tmp_path):
    work = tmp_path / "work"
    overlay = _overlay(tmp_path, f"results_dir: {work / 'results' / 'smoke'}")
    result = _dry_run(work, "--configfile", str(SMOKE), str(overlay), "--", "results/smoke/table1.tex")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        f"the config names this folder as an absolute path (results_dir, data.data_dir): write the target so too ({work / 'results' / 'smoke' / 'table1.tex'})"
        in output
    ), output[-3000:]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_config_file_where_a_target_goes_gets_the_layering_message(tmp_path):
    mine = _overlay(tmp_path, "seeds: [0]")
    result = _dry_run(tmp_path / "work", f"--configfile={SMOKE}", str(mine))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        f"{mine}: a config file, not a target (no rule makes a YAML file): layer config files after one --configfile"
        in output
    ), output[-3000:]
    assert f"--configfile A.yaml {mine} -- TARGET" in output and "No rule to produce" not in output


def test_one_spelling_of_a_path(tmp_path):
    assert workflow_path("./results/smoke") == workflow_path("results/../results/smoke") == "results/smoke"
    assert workflow_path("/a/b/../c/") == "/a/c"
    assert other_spelling("results/smoke", str(tmp_path)) == str(tmp_path / "results" / "smoke")
    assert other_spelling(str(tmp_path / "results" / "smoke"), str(tmp_path)) == "results/smoke"
