"""The Snakemake workflow end to end at the smoke scale, in a temporary directory."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]


def snakemake(workdir, *args, configs=(), timeout=600):
    """Run Snakemake on the smoke scale (plus `configs` overrides) in `workdir`."""
    configfiles = [str(ROOT / "config" / "smoke.yaml"), *map(str, configs)]
    options = [a for a in args if a.startswith("-")]
    targets = [a for a in args if not a.startswith("-")]
    command = [
        sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir), *options, "--configfile", *configfiles, "--", *targets,
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


TARGETS = [
    "all",
    "results/table2.tex",
    "results/table2_probe.tex",
    "results/table3.tex",
    "results/figures/interpolations_mnist_dz32.png",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The whole smoke DAG once: Table 1, figures, curves, and Tables 2-3 from real MNIST."""
    if not (ROOT.parent / "shared" / "data" / "mnist").exists():
        pytest.skip("no MNIST copy beside the repository")
    workdir = tmp_path_factory.mktemp("smoke")
    result = snakemake(workdir, *TARGETS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def _override(tmp_path, text):
    path = tmp_path / "override.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_smoke_dag_table1_and_figures(smoke_run):
    tex = (smoke_run / "results" / "table1.tex").read_text()
    for title in ("Baseline", "Denoising", "VAE", "AAE", "VQ-VAE", "ACAI"):
        assert title in tex
    assert tex.count("$\\pm$") >= 24  # 2 metrics x 6 models, ours and the paper's
    for model in MODELS:
        cell = smoke_run / "results" / "lines" / model / "dz64" / "seed0"
        assert (cell / "metrics.json").exists() and (cell / "evals.jsonl").exists()
        assert (smoke_run / "results" / "logs" / "train" / "lines" / model / "dz64" / "seed0.log").exists()
    figures = ("fig3_lines_interpolations.png", "fig5_vae_samples.png", "training_curves_lines_dz64.png",
               "interpolations_mnist_dz32.png")  # fmt: skip
    for figure in figures:
        assert (smoke_run / "results" / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    again = snakemake(smoke_run, *TARGETS, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_smoke_tables_2_and_3_from_real_mnist(smoke_run):
    for target in TARGETS[1:4]:
        tex = (smoke_run / target).read_text()
        assert "MNIST & 32" in tex and "paper" in tex and "Pixels" in tex
    assert "53.20" in (smoke_run / "results/table3.tex").read_text()  # the paper's pixel K-Means
    with open(smoke_run / "results/table3.csv") as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    assert {r[2] for r in rows} == set(MODELS) | {"pixels"}
    assert all(0.0 <= float(r[3]) <= 100.0 for r in rows)
    assert all(r[-1].endswith("kmeans.json") for r in rows), "every row names its source files"


@pytest.mark.slow
def test_provenance_of_every_cell(smoke_run):
    for name in ("metrics.json", "kmeans.json", "probe.json"):
        record = json.loads((smoke_run / "results/mnist/acai/dz32/seed0" / name).read_text())
        prov = record["provenance"]
        for key in ("code_version", "torch", "cuda", "device", "device_name"):
            assert key in prov
    metrics = json.loads((smoke_run / "results/mnist/acai/dz32/seed0/metrics.json").read_text())
    assert metrics["spec"]["model_options"] == {"lambda": 0.5, "gamma": 0.2}
    assert metrics["train_seconds"] > 0


@pytest.mark.slow
def test_changing_a_kmeans_parameter_reruns_kmeans_and_tables_only(smoke_run, tmp_path):
    result = snakemake(smoke_run, *TARGETS, "-n", configs=[_override(tmp_path, "clustering: {restarts: 9}")])
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {"kmeans": 6, "pixels_kmeans": 1, "table3": 1, "total": 8}


@pytest.mark.slow
def test_changing_a_training_hyperparameter_reruns_affected_cells_only(smoke_run, tmp_path):
    override = _override(tmp_path, "models: {acai: {lambda: 0.25, gamma: 0.2}}")
    jobs = _jobs(snakemake(smoke_run, *TARGETS, "-n", configs=[override]).stdout)
    assert jobs["train_cell"] == 2  # the ACAI cells: lines dz64 and MNIST dz32
    assert jobs["export_latents"] == jobs["probe"] == jobs["kmeans"] == 1
    assert "prepare_dataset" not in jobs and "pixels_kmeans" not in jobs and "pixels_probe" not in jobs
    assert jobs["table1"] == jobs["table2"] == jobs["table3"] == 1


@pytest.mark.slow
def test_report_builds(smoke_run):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(smoke_run),
         "--configfile", str(ROOT / "config" / "smoke.yaml"), "--report", "report.html", "--", *TARGETS],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    html = (smoke_run / "report.html").read_text(errors="replace")
    assert "table1.csv" in html and "fig3_lines_interpolations.png" in html and "training_curves" in html


def test_single_kmeans_cell_builds_exactly_its_chain(tmp_path):
    result = snakemake(tmp_path, "-n", "results/mnist/acai/dz32/seed1/kmeans.json")
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {"prepare_dataset": 1, "train_cell": 1, "export_latents": 1, "kmeans": 1, "total": 4}
