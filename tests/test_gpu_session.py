"""The GPU session script (benchmarks/gpu_session.sh) rehearsed on the CPU, and its two Python
helpers (benchmarks/cuda_proof.py, benchmarks/science_check.py).

The rehearsal runs the whole script, as the device runs it, with a stub `nvidia-smi` on PATH,
device cpu and stand-ins for the commands that would train (the proof, the fusion check,
pack.py, Snakemake: `standin.sh`, which logs its arguments, prints what the real command
prints, copies the session's archive as it stands, or hangs when told). What it checks is the
script's own work: stage order, every limit kept, the path switch after a failed stage 0, at
most 8 files back, an archive rewritten after every stage. The stand-ins cost no CPU; the
timeouts cost wall time (~45 s for the run that waits on three hanging commands)."""

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import cuda_proof  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import science_check  # noqa: E402

STANDIN = r"""#!/usr/bin/env bash
# standin.sh KIND ARGS...: a stand-in for one of the session's commands.
kind=$1; shift
echo "$kind $*" >>"$CALLS"
if [ "$kind" = pack ]; then kind="pack_$(echo "$*" | sed -n 's/.*--paths \([a-z]*\).*/\1/p')"; fi
case $kind in
  proof) echo "proof exact: ok"; echo "proof: ok" ;;
  fusion) echo "acai: ok" ;;
  pack_*) path=${kind#pack_}
    rate=$(case $path in fused) echo 120000 ;; fast) echo 151000 ;; exact) echo 45000 ;; esac)
    printf '[%s path] packed (one process):\n     18 Table 1: 6 models x 3 seeds   %s   8389   35.33 (52.7%% of 67)\n' "$path" "$rate" ;;
  snakemake) target=${@: -1}
    for f in "$@"; do case $f in *.yaml) echo "config $f: $(tr '\n' ' ' <"$f")" >>"$CALLS" ;; esac; done
    if [ "$(basename "$target")" = table1.tex ]; then
      mkdir -p "$(dirname "$target")"
      sed 's/^smoothness,acai,64,0.0979/smoothness,acai,64,0.5979/' "$EXACT_TABLE" >"$(dirname "$target")/table1.csv"
      kind=science
    else
      mkdir -p "$(dirname "$target")" && echo '{"kimg": 64}' >"$(dirname "$target")/evals.jsonl"
      head -c 5000 /dev/zero >"$(dirname "$target")/metrics.json"  # over GS_MAX_FILE_KB=4 when set
      kind=protocol
    fi ;;
esac
cp "$SESSION_OUT/gs.tgz" "$SNAPSHOTS/archive_during_$kind.tgz" 2>/dev/null
case " $HANG " in *" $kind "*) echo "$kind hangs"; exec sleep 1000 ;; esac
exit 0
"""


def fake_wheel(folder: Path, name: str, requires: str) -> None:
    """A pure-Python wheel of one empty module `name` that requires `requires`."""
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": "",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nRequires-Dist: {requires}\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


def rehearse(tmp_path: Path, budget: int, hang: str, **limits) -> SimpleNamespace:
    """Run gpu_session.sh with the stand-ins; returns its out folder, log and the stand-ins' calls."""
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "nvidia-smi").write_text('#!/bin/sh\necho "NVIDIA H200, 143771 MiB, 580.159.04"\n')
    (stub / "nvidia-smi").chmod(0o755)
    standin = tmp_path / "standin.sh"
    standin.write_text(STANDIN)
    out, snapshots, calls = tmp_path / "out", tmp_path / "snapshots", tmp_path / "calls.log"
    snapshots.mkdir()
    run = f"bash {standin}"
    env = dict(
        os.environ,
        PATH=f"{stub}:{os.environ['PATH']}",
        PYTHON=sys.executable,
        BUDGET=str(budget),
        MEASURED_COMMIT="abc1234",
        GS_DEVICE="cpu",
        GS_WORK=str(tmp_path / "work"),
        GS_RESULTS=str(tmp_path / "results"),
        GS_PROOF_CMD=f"{run} proof",
        GS_FUSION_CMD=f"{run} fusion",
        GS_PACK_CMD=f"{run} pack",
        GS_SNAKEMAKE=f"{run} snakemake",
        GS_GRACE="2",
        GS_RESERVE="4",
        GS_MIN_STAGE="5",
        CALLS=str(calls),
        SNAPSHOTS=str(snapshots),
        SESSION_OUT=str(out),
        HANG=hang,
        EXACT_TABLE=str(ROOT / "docs" / "gpu-quick-results" / "table1.csv"),
        **{key: str(value) for key, value in limits.items()},
    )
    done = subprocess.run(
        ["bash", "benchmarks/gpu_session.sh", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=budget + 60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return SimpleNamespace(out=out, log=(out / "session.log").read_text(), calls=calls.read_text(), snapshots=snapshots)


def members(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


def check_limits_kept(log: str, budget: int) -> None:
    """Every command ended within its limit (1 s of slack for the shell), the whole within budget."""
    limits = dict(re.findall(r"-- (\w+) \(limit (\d+) s", log))
    took = dict(re.findall(r"   (\w+): exit status \d+(?: \(timed out\))? after (\d+) s", log))
    assert limits and limits.keys() == took.keys(), f"limits {limits}, ends {took}\n{log}"
    for name, limit in limits.items():
        assert int(took[name]) <= int(limit) + 1, f"{name} took {took[name]} s, limit {limit} s\n{log}"
    total = int(re.search(r"done after (\d+) s", log).group(1))
    assert total <= budget, f"the session took {total} s of a {budget} s budget\n{log}"


def check_out_folder(out: Path) -> None:
    """What a device call brings back: at most 8 files, no folder."""
    entries = sorted(p.name for p in out.iterdir())
    assert entries == ["gs.tgz", "session.log"], entries


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_rehearsal_failed_proof_switches_to_exact_and_keeps_every_limit(tmp_path):
    budget = 45
    got = rehearse(tmp_path, budget, hang="fusion pack_exact protocol", T0=12, T0_FUSION=6, T1=10, T1_EXACT=6)
    log = got.log
    stages = re.findall(r"== stage (\d) \(limit", log)
    assert stages == ["0", "1", "2", "3"], f"stages ran in the order {stages}\n{log}"
    check_limits_kept(log, budget)
    assert re.search(r"stage0_fusion: exit status 124 \(timed out\)", log), log
    assert "stage 0 FAILED" in log and "exact path only" in log, log
    assert "stage1_pack_exact: exit status 124 (timed out)" in log, log
    assert "stage3_protocol: exit status 124 (timed out)" in log, log
    # after the failed proof: no fast or fused command, the exact tables
    packs = re.findall(r"^pack .*--paths (\w+)", got.calls, re.M)
    assert packs == ["exact"], f"pack.py ran on {packs}\n{got.calls}"
    assert "science check on the exact path: config/gpu-quick.yaml" in log, log
    assert re.search(r"^config \S+protocol-seed0-exact\.yaml: .*training: \{fast_path: false\}", got.calls, re.M), (
        got.calls
    )
    check_out_folder(got.out)
    # the archive as each stage found it: the previous stage's outputs are in it
    assert "gs/stage0_fusion.txt" in members(got.snapshots / "archive_during_pack_exact.tgz")
    during_protocol = members(got.snapshots / "archive_during_protocol.tgz")
    assert {"gs/stage2_compare.txt", "gs/science/table1.csv"} <= during_protocol, sorted(during_protocol)
    final = members(got.out / "gs.tgz")
    assert {"gs/session.log", "gs/protocol/acai_dz64_seed0_evals.jsonl", "gs/stage3_protocol.txt"} <= final, sorted(
        final
    )
    assert len(re.findall(r"archive after stage (\d)", log)) == 4, log


def test_rehearsal_proven_paths_measure_all_three_and_check_science_on_the_fastest(tmp_path):
    budget = 60
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "gsfake", "PyYAML")  # a requirement the environment already satisfies
    (wheels / "requirements.txt").write_text("jsonschema==4.26.0\ngsfake==1.0\n")
    got = rehearse(tmp_path, budget, hang="", GS_WHEELS=wheels, GS_MAX_FILE_KB=4)
    log = got.log
    # of the carried wheels only what is missing: gsfake, not jsonschema, not its PyYAML
    assert re.search(r"installed from the carried wheels: gsfake==1\.0; into \S+: gsfake\.py $", log, re.M), log[:3000]
    assert "stage 0 passed" in log, log
    packs = re.findall(r"^pack .*--paths (\w+) --sizes ([\d ]+)$", got.calls, re.M)
    assert packs == [("fused", "3 18"), ("exact", "1 18"), ("fast", "1 18")], packs
    # the stand-ins' 18-cell rates: fast 151,000 > fused 120,000 > exact 45,000
    assert "science check on the fast path: config/gpu-quick-fast.yaml" in log, log
    verdicts = re.findall(r"^\s+(\w+): (within|OUTSIDE)", log, re.M)
    assert len(verdicts) == 6 and ("acai", "OUTSIDE") in verdicts, verdicts  # the stand-in moved ACAI's smoothness
    assert "protocol-seed0-exact" not in got.calls, got.calls
    assert "commit abc1234" in log and "NVIDIA H200" in log and "torch" in log, log[:800]
    check_limits_kept(log, budget)
    check_out_folder(got.out)
    assert "left out (over 4 KiB): gs/protocol/acai_dz64_seed0_metrics.json \n" in log, log[-1500:]
    final = members(got.out / "gs.tgz")
    assert "gs/protocol/acai_dz64_seed0_metrics.json" not in final and "gs/session.log" in final, sorted(final)


# ---- science_check ----------------------------------------------------------------------
def row(mean, std, status="ok"):
    return {"mean": "" if mean is None else str(mean), "std": "" if std is None else str(std), "status": status}


@pytest.mark.parametrize(
    "new, exact, agrees",
    [
        (row(1.0, 0.3), row(1.4, 0.3), True),  # 0.4 <= sqrt(0.09 + 0.09) = 0.42
        (row(1.0, 0.3), row(1.5, 0.3), False),  # 0.5 > 0.42
        (row(None, None, "undefined"), row(None, None, "undefined"), True),
        (row(1.0, 0.3), row(None, None, "undefined"), False),
        (row(1.0, 0.3, "diverged"), row(1.0, 0.3), False),
        (row(1.0, None), row(1.0, 0.3), False),  # one seed: no spread to be within
        (None, row(1.0, 0.3), False),
    ],
)
def test_a_metric_agrees_within_the_seeds_combined_spread(new, exact, agrees):
    ok, why = science_check.metric_verdict(new, exact)
    assert ok is agrees, why


def test_science_check_writes_one_line_per_model_and_exits_by_its_verdict(tmp_path):
    exact = ROOT / "docs" / "gpu-quick-results" / "table1.csv"
    same = subprocess.run(
        [sys.executable, "benchmarks/science_check.py", "compare", str(exact)], cwd=ROOT, capture_output=True, text=True
    )
    lines = same.stdout.splitlines()[1:]
    assert same.returncode == 0 and len(lines) == 6, same.stdout + same.stderr
    assert all("within the seeds' spread on both metrics" in line for line in lines), same.stdout
    moved = tmp_path / "table1.csv"
    moved.write_text(exact.read_text().replace("mean_distance,vqvae,256,6.83", "mean_distance,vqvae,256,9.83"))
    differs = subprocess.run(
        [sys.executable, "benchmarks/science_check.py", "compare", str(moved)], cwd=ROOT, capture_output=True, text=True
    )
    assert differs.returncode == 1, differs.stdout
    assert [line.split(":")[0] for line in differs.stdout.splitlines() if "OUTSIDE" in line] == ["vqvae"], (
        differs.stdout
    )
    missing = subprocess.run(
        [sys.executable, "benchmarks/science_check.py", "compare", str(tmp_path / "none.csv")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2, missing.stdout + missing.stderr


PACK = """[fast path] packed (one process, a stream per cell on CUDA):
  cells what                          aggregate img/s  per cell                TFLOP/s
      1 lines ACAI x 1                          29000     29000   13.60 (20.3% of 67)
     18 Table 1: 6 models x 3 seeds            151000      8389   35.33 (52.7% of 67)

[fast path] profile of 3 rounds of the 18-cell pack:
     18 Table 1: 6 models x 3 seeds            999999      8389   35.33 (52.7% of 67)
"""


def test_the_science_path_is_the_proven_path_with_the_fastest_pack():
    assert science_check.pack18_rate(PACK, "fast") == 151000
    assert science_check.pack18_rate(PACK, "fused") is None, "a rate under another path's heading"
    fused = PACK.replace("[fast path]", "[fused path]").replace("151000", "120000")
    path, why = science_check.fastest_path(["fused", "fast", "exact"], {"fast": PACK, "fused": fused})
    assert path == "fast", why
    assert science_check.fastest_path(["exact"], {"fast": PACK})[0] == "exact", "an unproven path is never chosen"
    failed = "[fast path] packed\nERROR: the capture failed: not captured\n"
    assert science_check.fastest_path(["fast", "exact"], {"fast": failed})[0] == "fast", (
        "no rate at all: fused, fast, exact"
    )
    assert (
        science_check.fastest_path(["fast", "exact"], {"fast": failed, "exact": PACK.replace("fast", "exact")})[0]
        == "exact"
    )


# ---- cuda_proof ---------------------------------------------------------------------------
def unit(graphed=True, worst=0.5, done=False):
    member = SimpleNamespace(label="lines/acai/dz64/seed0", done=done, worst=torch.tensor(worst))
    return SimpleNamespace(stepper=SimpleNamespace(graphed=graphed), members=[member])


def test_the_proof_asserts_the_capture_and_reads_the_fallback_line():
    assert cuda_proof.unit_problems(unit(), ["CUDA graph: the training step is captured"], "cuda") == []
    fallback = "CUDA graph: not captured, training eagerly: x.py:5 reads back"
    assert any("not captured" in p for p in cuda_proof.unit_problems(unit(), [fallback], "cuda"))
    assert cuda_proof.unit_problems(unit(graphed=False), [], "cuda") == ["capture not asserted (the stepper is eager)"]
    assert cuda_proof.unit_problems(unit(graphed=False), [], "cpu") == [
        "capture not asserted (a CPU has no CUDA graphs)"
    ]
    assert cuda_proof.unit_problems(unit(worst=float("nan")), [], "cuda") == [
        "lines/acai/dz64/seed0: a loss is not finite"
    ]


@pytest.mark.slow
def test_the_proof_on_a_cpu_proves_nothing():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "benchmarks/cuda_proof.py", "--device", "cpu", "--paths", "exact", "--steps", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr[-2000:]
    assert "proof exact: FAILED: capture not asserted (a CPU has no CUDA graphs)" in done.stdout, done.stdout
    assert done.stdout.splitlines()[-1] == "proof: FAILED (exact)", done.stdout
