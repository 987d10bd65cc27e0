"""The SLURM profile against a real one-node SLURM cluster (.ci/slurm/start.sh starts it).

Skipped where no cluster answers, unless ACAI_REQUIRE_SLURM=1 (as in CI), where a missing
cluster is a failure. Every run is bounded: Snakemake ignores SIGTERM while it waits on
cluster jobs, so `timeout` sends SIGINT (it then cancels its jobs) and kills 30 s later.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from acai_repro.grid_cells import load_grid_config, target_cells
from tests.conftest import ROOT, mnist_overlay

PROFILE = ROOT / ".ci" / "slurm" / "profile"
SBATCH_WITH_ARRAY_CAP = ROOT / "profiles" / "slurm" / "bin"
ARRAY_SUBMISSION = re.compile(
    r"Submitted array job with Snakemake IDs \S+ and SLURM job ID (\d+)\. The individual task IDs are (\d+)-(\d+)"
)


def _cluster_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    return result.returncode == 0 and any(state in result.stdout for state in ("idle", "mix", "alloc"))


if not _cluster_up():
    if os.environ.get("ACAI_REQUIRE_SLURM") == "1":
        raise RuntimeError("ACAI_REQUIRE_SLURM=1 but no SLURM cluster answers (run .ci/slurm/start.sh)")
    pytest.skip("no SLURM cluster here (.ci/slurm/start.sh starts one)", allow_module_level=True)

pytestmark = pytest.mark.slow


def slurm_snakemake(workdir, *args, limit=600, configs=()):
    command = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "30",
        str(limit),
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        str(PROFILE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        *map(str, configs),
        *args,
    ]
    env = dict(os.environ, PATH=f"{SBATCH_WITH_ARRAY_CAP}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)


def slurm_records(job_id: str) -> str:
    """SLURM's own view of a job (finished jobs stay listed for MinJobAge)."""
    squeue = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%i %T"], capture_output=True, text=True)
    scontrol = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    return squeue.stdout + scontrol.stdout


@pytest.mark.mnist
def test_smoke_grid_through_slurm(tmp_path):
    targets = ["results/smoke/table1.tex", "results/smoke/table2.tex", "results/smoke/table3.tex"]
    result = slurm_snakemake(tmp_path, "--", *targets, limit=900, configs=[mnist_overlay(tmp_path)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for target in targets:
        assert "paper" in (tmp_path / target).read_text()
    submitted = [line for line in output.splitlines() if "submitted with SLURM jobid" in line]
    assert not any("rule_train_cell" in line for line in submitted), "training goes as arrays"
    arrays = ARRAY_SUBMISSION.findall(output)
    smoke = load_grid_config([str(ROOT / "config" / "smoke.yaml")])
    cells = len(target_cells(smoke, targets))  # Table 1's lines cells and the MNIST cells of Tables 2-3
    assert arrays and sum(int(last) - int(first) + 1 for _, first, last in arrays) == cells
    for job_id, first, last in arrays:
        records = slurm_records(job_id)
        tasks = re.findall(rf"^{job_id}_(\d+) COMPLETED$", records, re.MULTILINE)
        assert sorted(map(int, tasks)) == list(range(int(first), int(last) + 1)), records
        assert "ArrayTaskThrottle=2" in records, records  # the cap of .ci/slurm/profile
    assert sum("rule_kmeans" in line for line in submitted) == len(target_cells(smoke, ["table3"]))
    assert not any("rule_table" in line or "rule_prepare" in line for line in submitted)
    assert "localrule table1:" in output and "localrule prepare_dataset:" in output


@pytest.mark.parametrize(
    "override,message",
    [
        ("train_cell:slurm_partition=nope", "invalid partition"),  # a partition that does not exist
        ("train_cell:gpu=1", "generic resource"),  # a GPU request on a CPU-only cluster
        ("train_cell:slurm_extra=--acai-array-cap=0", "array cap must be a positive integer"),
        ("train_cell:slurm_extra=--acai-array-cap=-2", "array cap must be a positive integer"),
    ],
)
def test_bad_cluster_input_fails_with_slurms_message(tmp_path, override, message):
    result = slurm_snakemake(
        tmp_path, "--set-resources", override, "--", "results/smoke/lines/baseline/dz64/seed0/metrics.json", limit=400
    )
    assert result.returncode not in (0, 124, 137), "failed on its own, not by the time limit"
    assert message in (result.stdout + result.stderr).lower()
