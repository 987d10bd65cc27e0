"""Targets that name no file of the workflow are refused before the DAG, saying why."""

import subprocess
import sys

import pytest

from acai_repro.grid.targets import check_targets, command_line_targets, explain
from tests.conftest import ROOT

CELL = "results/lines/acai/dz64/seed0/metrics.json"
# (target, what the message must say): every odd target of the users' trials.
BAD = [
    ("results/lines/acai/dz064/seed0/metrics.json", "dz064: write dz without leading zeros (dz64)"),
    ("results/lines/acai/dz0/seed0/metrics.json", "dz0: dz must be at least 1"),
    ("results/lines/acai/dz64/seed-1/metrics.json", "seed-1: seed is an integer ≥ 0"),
    ("results/lines/acai/dz64/seed00/metrics.json", "seed00: write seed without leading zeros (seed0)"),
    ("results/lines/ACAI/dz64/seed0/metrics.json", "model 'ACAI': model names are lower-case (acai)"),
    ("results/Lines/acai/dz64/seed0/metrics.json", "dataset 'Lines': dataset names are lower-case (lines)"),
    ("results/lines/gan/dz64/seed0/metrics.json", "unknown model 'gan'; models: baseline, denoising, vae"),
    ("results/table9.tex", "no rule makes it; did you mean results/table3.tex or"),
    ("results/lines/acai/dz64/seed0/metrics.JSON", f"file names are case-sensitive: did you mean {CELL}?"),
    ("results/lines/acai/dz99999999999999999999/seed0/metrics.json", "dz must be at most 1024"),
    ("results/figures/training_curves_lines_dz064.png", "dz064: write dz without leading zeros"),
]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_every_bad_target_is_refused_before_the_dag_saying_why(tmp_path):
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--cores",
        "1",
        "--directory",
        str(tmp_path / "work"),
        "--configfile",
        str(ROOT / "config" / "config.yaml"),
        "--",
        CELL,
        "all",
        *(target for target, _ in BAD),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    lines = output.splitlines()
    for target, why in BAD:
        assert any(line.startswith(f"{target}: ") and why in line for line in lines), (target, output[-4000:])
    assert not any(line.startswith((f"{CELL}:", "all:")) for line in lines)  # good targets pass
    assert "No rule to produce" not in output and "PeriodicWildcardError" not in output
    assert "Traceback" not in output and not (tmp_path / "work" / "results").exists()


PATTERNS = ["results/{dataset}/{model}/dz{dz}/seed{seed}/metrics.json", "results/table1.tex"]


def test_good_targets_and_existing_files_are_left_to_snakemake(tmp_path, paper_config, monkeypatch):
    assert explain(CELL, PATTERNS, paper_config) is None
    assert explain("./results/table1.tex", PATTERNS, paper_config) is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("made by hand")
    assert explain("notes.txt", PATTERNS, paper_config) is None
    # Snakemake matches an absolute target against absolute patterns only: it says how to write it
    absolute = explain(str(tmp_path / "results" / "table1.tex"), PATTERNS, paper_config)
    assert absolute == (
        "the config names this folder relative to the working directory (results_dir, "
        "data.data_dir): write the target so too (results/table1.tex)"
    ), absolute
    assert "no rule makes it" in explain("results/table9.tex", PATTERNS, paper_config)


def test_rule_names_are_targets_too(paper_config):
    assert check_targets(["all", "table1", "results/table9.tex"], {"all", "table1"}, PATTERNS, paper_config) == [
        "results/table9.tex: no rule makes it; did you mean results/table1.tex? the workflow makes, at this level: "
        "results/table1.tex"
    ]


@pytest.mark.parametrize(
    "argv,targets",
    [
        (
            ["snakemake", "--cores", "all", "results/table1.tex", "--configfile", "config/quick.yaml", "a.yaml"],
            ["results/table1.tex"],
        ),
        (
            ["snakemake", "--cores", "all", "--configfile", "config/quick.yaml", "a.yaml", "--", "results/table1.tex"],
            ["results/table1.tex"],
        ),
        (["/venv/lib/python3.11/site-packages/snakemake/__main__.py", "-n", "all"], ["all"]),
        (["pytest", "results/table1.tex"], []),  # not a snakemake command line
    ],
)
def test_targets_are_read_from_a_snakemake_command_line(argv, targets):
    assert command_line_targets(argv) == targets
