"""The Snakemake workflow end to end at the smoke scale, in a temporary directory."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from acai_repro.config import load_config, table1_cells
from acai_repro.models import title_of
from acai_repro.reporting import figure_sets
from acai_repro.training.train import STATE_FILE
from tests.browser import INSTALL_HINT, caption_problems, find_browser, rendered_views
from tests.conftest import ROOT, mnist_overlay
from tests.test_latex import compile_tables

SMOKE = "results/smoke"  # the smoke scale's results_dir


def snakemake(workdir, *args, configs=(), timeout=600, scale="smoke.yaml"):
    """Run Snakemake on the smoke scale (or another `scale`; plus `configs` overrides) in `workdir`."""
    configfiles = [str(ROOT / "config" / scale), *map(str, configs)]
    options = [a for a in args if a.startswith("-")]
    targets = [a for a in args if not a.startswith("-")]
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *options,
        "--configfile",
        *configfiles,
        "--",
        *targets,
    ]
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


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_single_cell_dry_run_builds_only_that_cell(tmp_path):
    result = snakemake(tmp_path, "-n", f"{SMOKE}/lines/acai/dz64/seed0/metrics.json")
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {"cell_spec": 1, "train_cell": 1, "total": 2}


def _smoke():
    return load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml")


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_table_dry_run_expands_every_cell(tmp_path):
    result = snakemake(tmp_path, "-n", f"{SMOKE}/table1.tex")
    assert result.returncode == 0, result.stderr
    cells = len(_smoke()["table1"]["models"]) * len(_smoke()["seeds"])
    assert _jobs(result.stdout) == {"table1": 1, "cell_spec": cells, "train_cell": cells, "total": 2 * cells + 1}


def _rejected(result, *needles):
    """A target refused while the DAG is built: no job ran, the reason given, no KeyError."""
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "KeyError" not in output and "ZeroDivisionError" not in output
    assert "Job stats" not in output, "a job was scheduled"
    for needle in needles:
        assert needle in output, output[-3000:]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_dz0_is_no_target(tmp_path):
    _rejected(snakemake(tmp_path, f"{SMOKE}/lines/acai/dz0/seed0/metrics.json"), "dz0: dz must be at least 1")
    assert not (tmp_path / SMOKE / "lines").exists()


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_dz_with_a_leading_zero_is_no_target(tmp_path):
    # dz064 would otherwise train a second copy of the dz 64 cell in its own directory.
    _rejected(
        snakemake(tmp_path, "-n", f"{SMOKE}/lines/acai/dz064/seed0/metrics.json"), "dz064: write dz without leading"
    )
    _rejected(snakemake(tmp_path, "-n", f"{SMOKE}/lines/acai/dz64/seed00/metrics.json"), "seed00: write seed without")


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_kmeans_on_the_lines_is_refused_when_the_dag_is_built(tmp_path):
    result = snakemake(tmp_path, "-n", f"{SMOKE}/lines/acai/dz64/seed0/kmeans.json")
    _rejected(result, "invalid target: dataset 'lines' has no data file")


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_an_unknown_dataset_in_a_target_is_named(tmp_path):
    result = snakemake(tmp_path, "-n", f"{SMOKE}/imagenet/acai/dz32/seed0/metrics.json")
    _rejected(result, "invalid target: unknown dataset 'imagenet'; configured datasets: ")


@pytest.mark.parametrize("name", ["my_mnist", "my-mnist"])
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_dataset_named_with_underscore_or_hyphen_validates_and_builds(tmp_path, name):
    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    overlay = _override(
        tmp_path,
        yaml.safe_dump(
            {
                "datasets": {name: paper["datasets"]["mnist"]},
                "data": {"sources": {name: paper["data"]["sources"]["mnist"]}},
            }
        ),
    )
    result = snakemake(tmp_path, "-n", f"{SMOKE}/{name}/acai/dz32/seed0/kmeans.json", configs=[overlay])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert _jobs(result.stdout) == {
        "prepare_dataset": 1,
        "cell_spec": 1,
        "train_cell": 1,
        "export_latents": 1,
        "kmeans": 1,
        "total": 5,
    }
    assert f"results/data/{name}.h5" in result.stdout


def _dataset_overlay(tmp_path, name):
    """A config overlay adding a dataset `name` (MNIST's settings and sources)."""
    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    datasets = {
        "datasets": {name: paper["datasets"]["mnist"]},
        "data": {"sources": {name: paper["data"]["sources"]["mnist"]}},
    }
    return _override(tmp_path, yaml.safe_dump(datasets))


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_another_scales_root_is_never_a_dataset_of_the_papers_results(tmp_path):
    """results/quick/... belongs to the quick scale: under the paper's results/ it is no dataset
    'quick', even one configured by that name; a name that merely starts so is one."""
    quick = snakemake(
        tmp_path,
        "-n",
        "results/quick/pixels/probe.json",
        scale="config.yaml",
        configs=[_dataset_overlay(tmp_path, "quick")],
    )
    _rejected(quick, "No rule to produce results/quick/pixels/probe.json")
    named = snakemake(
        tmp_path,
        "-n",
        "results/quickdraw/pixels/probe.json",
        scale="config.yaml",
        configs=[_dataset_overlay(tmp_path, "quickdraw")],
    )
    assert named.returncode == 0, named.stdout[-3000:] + named.stderr[-3000:]
    assert _jobs(named.stdout) == {"prepare_dataset": 1, "pixels_probe": 1, "total": 2}


def _files(root):
    """Every file under `root` with its modification time."""
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _summary(result) -> list[str]:
    """The output files of a `snakemake --summary`."""
    assert result.returncode == 0, result.stderr[-3000:]
    return [line.split("\t")[0] for line in result.stdout.splitlines()[1:] if "\t" in line]


def _nothing_to_do(result):
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


@pytest.mark.slow
def test_scales_coexist_quick_then_smoke_then_quick_again_reruns_nothing(tmp_path):
    # The quick scale's default target (Table 1 and its figures) as if it had run: each output
    # written, then recorded by --touch with its params and code (no 40-minute training).
    outputs = _summary(snakemake(tmp_path, "--summary", scale="quick.yaml"))
    assert outputs and all(path.startswith("results/quick/") for path in outputs), outputs
    for path in outputs:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).touch()
    assert snakemake(tmp_path, "--touch", scale="quick.yaml").returncode == 0
    _nothing_to_do(snakemake(tmp_path, "-n", scale="quick.yaml"))
    quick_files = _files(tmp_path / "results" / "quick")
    # The smoke scale for real, in the same directory: its own files only.
    smoke = snakemake(tmp_path, f"{SMOKE}/table1.tex")
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    assert (tmp_path / SMOKE / "table1.tex").exists()
    assert _files(tmp_path / "results" / "quick") == quick_files, "the smoke run touched the quick scale's files"
    _nothing_to_do(snakemake(tmp_path, "-n", scale="quick.yaml"))
    _nothing_to_do(snakemake(tmp_path, "-n", f"{SMOKE}/table1.tex"))
    # The paper's scale has its own outputs, none of them inside another scale's root.
    paper = _summary(snakemake(tmp_path, "--summary", scale="config.yaml"))
    assert paper and not any(path.startswith(("results/quick/", "results/smoke/")) for path in paper), paper


TARGETS = [
    "all",
    f"{SMOKE}/table2.tex",
    f"{SMOKE}/table2_probe.tex",
    f"{SMOKE}/table3.tex",
    f"{SMOKE}/figures/interpolations_mnist_dz32.png",
    f"{SMOKE}/figures/training_curves_mnist_dz32.png",
    f"{SMOKE}/reproduction.md",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The whole smoke DAG once: Table 1, figures, curves, and Tables 2-3 from real MNIST."""
    workdir = tmp_path_factory.mktemp("smoke")
    result = snakemake(workdir, *TARGETS, configs=[mnist_overlay(workdir)])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def smoke_again(smoke_run, *args, configs=()):
    """Snakemake on the finished smoke run, with the same MNIST overlay plus `configs`."""
    return snakemake(smoke_run, *TARGETS, *args, configs=[smoke_run / "mnist_local.yaml", *configs])


def _override(tmp_path, text):
    path = tmp_path / "override.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_smoke_dag_table1_and_figures(smoke_run):
    tex = (smoke_run / SMOKE / "table1.tex").read_text()
    smoke = _smoke()
    for model in smoke["table1"]["models"]:
        assert title_of(model) in tex
    # 2 metrics x the models: the paper's mean ± std each; ours from one seed, a value with no std
    # (or undef. for a collapsed smoke-scale model)
    rows = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]  # the table's rows, not its caption
    expected, found = 2 * len(smoke["table1"]["models"]), rows.count("$\\pm$")
    assert found == expected, f"{found} '±' in the table, expected the paper's {expected}"
    for model, dz in table1_cells(smoke):  # each model at its own dz (the VQ-VAE: 256)
        cell = smoke_run / SMOKE / "lines" / model / f"dz{dz}" / "seed0"
        assert (cell / "metrics.json").exists() and (cell / "evals.jsonl").exists()
        assert (smoke_run / SMOKE / "logs" / "train" / "lines" / model / f"dz{dz}" / "seed0.log").exists()
    figures = (
        "fig3_lines_interpolations.png",
        "fig5_vae_samples.png",
        "training_curves_lines_dz64.png",
        "interpolations_mnist_dz32.png",
    )
    for figure in figures:
        assert (smoke_run / SMOKE / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    again = smoke_again(smoke_run, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_smoke_tables_2_and_3_from_real_mnist(smoke_run):
    for target in TARGETS[1:4]:
        tex = (smoke_run / target).read_text()
        assert "MNIST, $d_z$ = 32" in tex and "Paper" in tex and "Pixels" in tex, tex[-1500:]
    assert "53.20" in (smoke_run / f"{SMOKE}/table3.tex").read_text()  # the paper's pixel K-Means
    with open(smoke_run / f"{SMOKE}/table3.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == set(_smoke()["table3"]["models"]) | {"pixels"}
    assert all(0.0 <= float(r["mean"]) <= 100.0 for r in rows)
    assert all(r["sources"].endswith("kmeans.json") for r in rows), "every row names its source files"
    assert {r["scale"] for r in rows if r["model"] != "pixels"} == {"smoke"}, "and the scale they were made at"
    assert {r["path"] for r in rows if r["model"] != "pixels"} == {"exact"}, "and the training path"


@pytest.mark.slow
def test_provenance_of_every_cell(smoke_run):
    for name in ("metrics.json", "kmeans.json", "probe.json"):
        record = json.loads((smoke_run / f"{SMOKE}/mnist/acai/dz32/seed0" / name).read_text())
        prov = record["provenance"]
        for key in ("code_version", "torch", "cuda", "device", "device_name"):
            assert key in prov
    metrics = json.loads((smoke_run / f"{SMOKE}/mnist/acai/dz32/seed0/metrics.json").read_text())
    assert metrics["spec"]["model_options"] == {"lambda": 0.5, "gamma": 0.2}
    assert metrics["train_seconds"] > 0
    assert metrics["spec"]["scale_name"] == "smoke"  # the scale travels with every number
    for name in ("kmeans.json", "probe.json"):
        assert json.loads((smoke_run / f"{SMOKE}/mnist/acai/dz32/seed0" / name).read_text())["scale_name"] == "smoke"


@pytest.mark.slow
def test_changing_a_kmeans_parameter_reruns_kmeans_and_tables_only(smoke_run, tmp_path):
    result = smoke_again(smoke_run, "-n", configs=[_override(tmp_path, "clustering: {restarts: 9}")])
    assert result.returncode == 0, result.stderr
    smoke = _smoke()
    cells = len(smoke["table3"]["cells"]) * len(smoke["table3"]["models"]) * len(smoke["seeds"])
    pixels = len({dataset for dataset, _ in smoke["table3"]["cells"]})
    # Table 3 and the scorecard, which reads every K-Means record
    tables = {"table3": 1, "reproduction": 1}
    assert _jobs(result.stdout) == {"kmeans": cells, "pixels_kmeans": pixels, **tables, "total": cells + pixels + 2}


@pytest.mark.slow
def test_changing_the_reporting_rule_reruns_the_tables_that_read_histories_only(smoke_run, tmp_path):
    result = smoke_again(smoke_run, "-n", configs=[_override(tmp_path, "tables: {report_rule: {last: 40, of: 256}}")])
    assert result.returncode == 0, result.stderr
    # no cell, probe or K-Means: Table 1, Table 2 (in tandem), the scorecard and the figures (their
    # labels and footers name each value under the rule) read the histories again
    jobs = _jobs(result.stdout)
    assert {"table1", "table2", "reproduction"} <= jobs.keys(), result.stdout[-2000:]
    readers = {"table1", "table2", "reproduction", "all", "total"}
    readers |= {"fig3_lines_interpolations", "fig5_vae_samples", "training_curves", "image_interpolations"}
    assert jobs.keys() <= readers, result.stdout[-2000:]


@pytest.mark.slow
def test_changing_a_training_hyperparameter_reruns_affected_cells_only(smoke_run, tmp_path):
    override = _override(tmp_path, "models: {acai: {lambda: 0.25}}")
    jobs = _jobs(smoke_again(smoke_run, "-n", configs=[override]).stdout)
    assert jobs["train_cell"] == jobs["cell_spec"] == 2  # the ACAI cells: lines dz64 and MNIST dz32
    assert jobs["export_latents"] == jobs["probe"] == jobs["kmeans"] == 1
    assert "prepare_dataset" not in jobs and "pixels_kmeans" not in jobs and "pixels_probe" not in jobs
    assert jobs["table1"] == jobs["table2"] == jobs["table3"] == 1


@pytest.mark.slow
def test_report_builds(smoke_run):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(smoke_run),
            "--configfile",
            str(ROOT / "config" / "smoke.yaml"),
            str(smoke_run / "mnist_local.yaml"),
            "--report",
            "report.html",
            "--",
            *TARGETS,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    html = (smoke_run / "report.html").read_text(errors="replace")
    assert "table1.csv" in html and "fig3_lines_interpolations.png" in html and "training_curves" in html


# Every table and figure of the smoke targets: the report holds each with a caption.
REPORTED = [
    f"{SMOKE}/{name}"
    for name in (
        "table1.csv",
        "table2.csv",
        "table2_probe.csv",
        "table3.csv",
        "reproduction.csv",
        "reproduction.md",
        "figures/fig3_lines_interpolations.png",
        "figures/fig5_vae_samples.png",
        "figures/interpolations_mnist_dz32.png",
        "figures/training_curves_lines_dz64.png",
        "figures/training_curves_mnist_dz32.png",
    )
]


@pytest.mark.slow
def test_the_report_in_a_browser_captions_every_table_and_figure_with_scale_seeds_and_rule(smoke_run, tmp_path):
    browser = find_browser()
    if browser is None:  # CI installs one: a missing browser is a failure there
        missing = f"no headless browser to open the report: {INSTALL_HINT}"
        pytest.fail(missing) if os.environ.get("ACAI_REQUIRE_BROWSER") else pytest.skip(missing)
    report = smoke_run / "report_browser.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(smoke_run),
            "--configfile",
            str(ROOT / "config" / "smoke.yaml"),
            str(smoke_run / "mnist_local.yaml"),
            "--report",
            report.name,
            "--",
            *TARGETS,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    smoke = _smoke()
    views = rendered_views(report, browser, tmp_path)
    assert caption_problems(views, REPORTED, smoke["scale_name"], smoke["seeds"]) == []
    # Known bad: one caption without its reporting rule is caught (the check can fail).
    bad = tmp_path / "bad.html"
    bad.write_text(report.read_text().replace("Reporting rule:", "Rule:", 1))
    problems = caption_problems(rendered_views(bad, browser, tmp_path), REPORTED, smoke["scale_name"], smoke["seeds"])
    assert len(problems) == 1 and "Reporting rule:" in problems[0], problems


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_single_kmeans_cell_builds_exactly_its_chain(tmp_path):
    result = snakemake(tmp_path, "-n", f"{SMOKE}/mnist/acai/dz32/seed1/kmeans.json")
    assert result.returncode == 0, result.stderr
    assert _jobs(result.stdout) == {
        "prepare_dataset": 1,
        "cell_spec": 1,
        "train_cell": 1,
        "export_latents": 1,
        "kmeans": 1,
        "total": 5,
    }


RUN_SETTINGS_CHANGES = [
    "device: auto",
    "scale_name: renamed",
    "training: {progress_seconds: 1}",
    "training: {checkpoint_minutes: 1}",
    "training: {check_every: 4}",
    "training: {cuda_graphs: 'off'}",
    "resources: {train: {gpu: 0, threads: 2, mem_mb: 1500, runtime: 20}, evaluate: {threads: 2, mem_mb: 900, runtime: 5}}",
]


@pytest.mark.slow
@pytest.mark.parametrize("change", RUN_SETTINGS_CHANGES)
def test_changing_a_run_setting_reruns_nothing(smoke_run, tmp_path, change):
    result = smoke_again(smoke_run, "-n", configs=[_override(tmp_path, change)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


@pytest.mark.slow
def test_a_killed_snakemake_leaves_a_lock_that_unlock_clears(tmp_path):
    """kill -9 of Snakemake's process group: the next run stops on the stale lock and says
    --unlock; after `--unlock` the rerun resumes the cell from its last checkpoint."""
    slow = _override(tmp_path, "training: {total_images: 16384, eval_every: 8192, checkpoint_minutes: 0.001}")
    target = f"{SMOKE}/lines/baseline/dz64/seed0/metrics.json"
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        str(slow),
        "--",
        target,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    state = tmp_path / f"{SMOKE}/lines/baseline/dz64/seed0" / STATE_FILE
    deadline = time.monotonic() + 300
    while not state.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    blocked = snakemake(tmp_path, target, configs=[slow])
    assert blocked.returncode != 0 and "--unlock" in blocked.stdout + blocked.stderr
    assert snakemake(tmp_path, "--unlock", target, configs=[slow]).returncode == 0
    rerun = snakemake(tmp_path, target, configs=[slow])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (tmp_path / f"{SMOKE}/logs/train/lines/baseline/dz64/seed0.log").read_text()
    assert "resumed from" in log


@pytest.mark.slow
def test_smoke_tables_and_scorecard_compile(smoke_run):
    """Every table the smoke run wrote, and the scorecard's, in one LaTeX document (pdflatex)."""
    tables = [
        smoke_run / SMOKE / f"{name}.tex" for name in ("table1", "table2", "table2_probe", "table3", "reproduction")
    ]
    compile_tables(tables, smoke_run)
    md = (smoke_run / SMOKE / "reproduction.md").read_text()
    assert "Scale: **smoke**" in md and "numbers: 0 of 72 at protocol scale" in md


@pytest.mark.slow
def test_a_result_sets_figures_render_from_trained_cells_and_carry_its_provenance(smoke_run, tmp_path):
    """python -m acai_repro.figure_sets on a copy of the smoke run's cells (its figures removed):
    the figure rules alone render Fig. 3, Fig. 5, the image interpolations and the curves."""
    shutil.copytree(smoke_run / "results", tmp_path / "results", ignore=shutil.ignore_patterns("figures", "*.lock"))
    set_dir = tmp_path / "docs" / "smoke-results"
    set_dir.mkdir(parents=True)
    for table in ("table1", "table2"):
        shutil.copy2(smoke_run / SMOKE / f"{table}.csv", set_dir)
    provenance = {
        "commit": "abc1234",
        "fingerprint": "unknown",
        "depends_on_training": True,
        "command": "smoke",
        "date": "2026-01-01",
        "machine": "test",
    }
    (set_dir / "provenance.json").write_text(json.dumps(provenance))
    configs = [ROOT / "config" / "smoke.yaml", smoke_run / "mnist_local.yaml"]
    written = figure_sets.refresh(set_dir, configs, workdir=tmp_path, rendered_by="test")
    expected = [
        "fig3_lines_interpolations.png",
        "fig5_vae_samples.png",
        "training_curves_lines_dz64.png",
        "interpolations_mnist_dz32.png",
        "training_curves_mnist_dz32.png",
    ]
    assert [p.name for p in written] == expected
    assert all(figure_sets.read_stamp(p)["commit"] == "abc1234" for p in written)
    weights = sorted((smoke_run / SMOKE).glob("*/*/dz*/seed*/model.pt"))
    retrained = [w for w in weights if (tmp_path / w.relative_to(smoke_run)).stat().st_mtime != w.stat().st_mtime]
    assert weights and not retrained, f"rendering the figures trained {retrained}"
