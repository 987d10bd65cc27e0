"""The SLURM profile against a real one-node SLURM cluster (.ci/slurm/start.sh starts it).

Skipped where no cluster answers, unless ACAI_REQUIRE_SLURM=1 (as in CI), where a missing
cluster is a failure. Every run is bounded: Snakemake ignores SIGTERM while it waits on
cluster jobs, so `timeout` sends SIGINT (it then cancels its jobs) and kills 30 s later.
"""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROFILE = ROOT / ".ci" / "slurm" / "profile"


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


def slurm_snakemake(workdir, *args, limit=600):
    command = [
        "timeout", "-s", "INT", "-k", "30", str(limit),
        sys.executable, "-m", "snakemake", "--workflow-profile", str(PROFILE),
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
        f"--configfile={ROOT / 'config' / 'smoke.yaml'}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def test_smoke_grid_through_slurm(tmp_path):
    targets = ["results/table1.tex", "results/table2.tex", "results/table3.tex"]
    result = slurm_snakemake(tmp_path, "--", *targets)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for target in targets:
        assert "paper" in (tmp_path / target).read_text()
    submitted = [line for line in output.splitlines() if "submitted with SLURM jobid" in line]
    assert sum("rule_train_cell" in line for line in submitted) == 12  # 6 lines + 6 MNIST cells
    assert sum("rule_kmeans" in line for line in submitted) == 6
    assert not any("rule_table" in line or "rule_prepare" in line for line in submitted)
    assert "localrule table1:" in output and "localrule prepare_dataset:" in output


@pytest.mark.parametrize(
    "override,message",
    [
        ("train_cell:slurm_partition=nope", "invalid partition"),  # a partition that does not exist
        ("train_cell:gpu=1", "generic resource"),  # a GPU request on a CPU-only cluster
    ],
)
def test_bad_cluster_input_fails_with_slurms_message(tmp_path, override, message):
    result = slurm_snakemake(
        tmp_path, "--set-resources", override, "--", "results/lines/baseline/dz64/seed0/metrics.json", limit=180
    )
    assert result.returncode not in (0, 124, 137), "failed on its own, not by the time limit"
    assert message in (result.stdout + result.stderr).lower()
