"""The Snakemake workflow end to end at the smoke scale, in a temporary directory."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]


def snakemake(workdir, *args, timeout=600):
    command = [
        sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), f"--configfile={ROOT / 'config' / 'smoke.yaml'}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def _jobs(dry_run_output: str) -> dict:
    """Job counts from the 'Job stats' table of a dry run."""
    lines = dry_run_output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    counts = {}
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_single_cell_dry_run_builds_only_that_cell(tmp_path):
    result = snakemake(tmp_path, "-n", "results/lines/acai/dz64/seed0/metrics.json")
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {"train_cell": 1, "total": 1}


def test_table_dry_run_expands_every_cell(tmp_path):
    result = snakemake(tmp_path, "-n", "results/table1.tex")
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {"table1": 1, "train_cell": 6, "total": 7}


def test_lint_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--configfile", str(ROOT / "config" / "smoke.yaml")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output


@pytest.mark.slow
def test_smoke_dag_end_to_end(tmp_path):
    result = snakemake(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tex = (tmp_path / "results" / "table1.tex").read_text()
    for title in ("Baseline", "Denoising", "VAE", "AAE", "VQ-VAE", "ACAI"):
        assert title in tex
    assert tex.count("$\\pm$") >= 24  # 2 metrics x 6 models, ours and the paper's
    for model in MODELS:
        cell = tmp_path / "results" / "lines" / model / "dz64" / "seed0"
        assert (cell / "metrics.json").exists() and (cell / "evals.jsonl").exists()
        assert (tmp_path / "results" / "logs" / "train" / "lines" / model / "dz64" / "seed0.log").exists()
    for figure in ("fig3_lines_interpolations.png", "fig5_vae_samples.png"):
        assert (tmp_path / "results" / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    again = snakemake(tmp_path, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT.parent / "shared" / "data" / "mnist").exists(), reason="no MNIST copy")
def test_smoke_tables_2_and_3_from_real_mnist(tmp_path):
    targets = ["results/table2.tex", "results/table2_probe.tex", "results/table3.tex"]
    figure = "results/figures/interpolations_mnist_dz32.png"
    result = snakemake(tmp_path, *targets, figure)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"
    for target in targets:
        tex = (tmp_path / target).read_text()
        assert "MNIST & 32" in tex and "paper" in tex and "Pixels" in tex
    assert "53.20" in (tmp_path / "results/table3.tex").read_text()  # the paper's pixel K-Means
    with open(tmp_path / "results/table3.csv") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    assert {r[2] for r in rows} == set(MODELS) | {"pixels"}
    assert all(0.0 <= float(r[3]) <= 100.0 for r in rows)
