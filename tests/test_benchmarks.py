"""The CPU parts of the GPU measurements: benchmarks/pack.py on both training paths (its smoke
run), its FLOP count and kernel classification, and rates.csv rows read from its output
(benchmarks/gpu_session.sh is rehearsed in tests/test_gpu_session.py)."""

import json
import os
import subprocess
import sys

import pytest

from acai_repro.training import train
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import evaluation_cost  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
import pack  # noqa: E402
import rates_from_pack  # noqa: E402


@pytest.mark.parametrize(
    "name, math",
    [
        ("sm90_xmma_fprop_implicit_gemm_f32f32_f32f32_f32_nhwckrsc_nhwc_tilesize64x64x8", True),
        ("sm80_xmma_dgrad_implicit_gemm_tf32f32_tf32f32_f32_nhwckrsc_nchw", True),
        ("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_64x64_32x6_nn_align4>", True),
        ("void cudnn::engines_precompiled::nchwToNhwcKernel<float, float, float, false, true>", False),
        ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>", False),
        ("triton_poi_fused_leaky_relu_0", False),
        ("triton_red_fused_convolution_backward_sum_3", False),  # a conv bias gradient's sum: a reduction
        ("triton_tem_fused_mm_0", True),  # inductor's GEMM template
    ],
)
def test_kernels_are_classified_by_name(name, math):
    assert pack.is_math_kernel(name) is math, f"{name}: expected {'math' if math else 'not math'}"


def test_flops_per_image_count_the_step_of_each_model(smoke_config):
    """ACAI's step runs the critic twice and the decoder on the mixes: ~3x the Baseline's."""
    baseline = pack.flops_per_image(pack.cell(smoke_config, "baseline", 0, "cpu"))
    acai = pack.flops_per_image(pack.cell(smoke_config, "acai", 0, "cpu"))
    fast = pack.flops_per_image(pack.cell(smoke_config, "acai", 0, "cpu", path="fast"))
    assert 100e6 < baseline < 200e6, f"Baseline {baseline / 1e6:.0f} MFLOP per image, expected 100-200"
    assert 2.5 < acai / baseline < 3.5, f"ACAI / Baseline = {acai / baseline:.2f}, expected ~3"
    assert fast == acai, "the fast path computes the same arithmetic: its FLOPs are counted on the exact step"


@pytest.mark.slow
def test_pack_benchmark_smoke_run_measures_every_path():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "benchmarks/pack.py", "--smoke", "--no-solo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for path in ("fused", "fast", "exact"):
        assert f"[{path} path] packed" in out.stdout, f"no packed rates of the {path} path:\n{out.stdout[-2000:]}"
    assert "FLOP per image of one training step: baseline" in out.stdout, out.stdout[:500]
    assert "eager (cpu)" in out.stdout and "graphed" not in out.stdout, f"CPU steps are eager:\n{out.stdout[-2000:]}"


PACK_OUTPUT = """device cuda (NVIDIA H200), torch 2.13.0, batch 64, 100 rounds x 3 repeats (median), convolutions in float32
FLOP per image of one training step: baseline 151 M, acai 469 M

[fast path] solo rate of each model (a pack of one; graphed on CUDA):
  model        dz     img/s                TFLOP/s
  baseline     64     61000    9.21 (13.7% of 67)
  vqvae       256     52000    11.28 (16.8% of 67)

[fast path] packed (one process, a stream per cell on CUDA):
  cells what                          aggregate img/s  per cell                TFLOP/s
      1 lines ACAI x 1                          29000     29000   13.60 (20.3% of 67)
     18 Table 1: 6 models x 3 seeds            151000      8389   35.33 (52.7% of 67)

[fused path] solo rate of each model (a group of 3 seeds, per seed beside it; graphed on CUDA):
  model        dz     img/s  per seed                TFLOP/s
  acai         64     90000     30000   42.21 (63.0% of 67)
"""


def test_rates_rows_are_read_from_a_pack_output():
    rows = rates_from_pack.rate_rows(PACK_OUTPUT, "h200", "raw.txt: note")
    got = [(r["kind"], r["dz"], r["model"], r["value"], r["precision"]) for r in rows]
    assert got == [
        ("train_fast", "64", "baseline", "61000", "fp32"),
        ("train_fast", "256", "vqvae", "52000", "fp32"),
        ("train_packed_fast", "64", "pack1", "29000", "fp32"),
        ("train_packed_fast", "", "pack18", "151000", "fp32"),
        ("train_fused", "64", "acai", "90000", "fp32"),  # the group's aggregate: 3 cells add up to its time
    ], got
    assert rows[0]["source"] == "raw.txt: note (fast path, solo)", rows[0]["source"]
    with pytest.raises(ValueError, match="no convolution precision"):
        rates_from_pack.rate_rows(PACK_OUTPUT.replace("convolutions in float32", ""), "h200", "x")
    with pytest.raises(ValueError, match="no rates found"):
        rates_from_pack.rate_rows("convolutions in TF32\nnothing else", "h200", "x")


def test_a_failed_capture_is_an_error_line_never_a_rate(smoke_config, tmp_path, monkeypatch):
    """A step that falls back to eager (here: a capture tried on the CPU, which has no CUDA graphs)
    is reported with the trainers' own reason, and no round is timed."""
    monkeypatch.setattr(train, "resolve_cuda_graphs", lambda setting, device: True)
    trainers, log = pack.build(pack.pack_specs(smoke_config, 1, "cpu"), tmp_path)
    monkeypatch.setattr(pack, "rounds_rate", lambda *args: pytest.fail("timed a step that was not captured"))
    rate, how = pack.timed(trainers, log, "cuda", warmup=1, rounds=1, repeats=1)
    assert rate is None, f"a rate ({rate}) was measured for a step that fell back to eager"
    assert how.startswith("ERROR: 1 of 1 steps not captured") and "CUDA graph: not captured" in how, how
    rows = rates_from_pack.rate_rows(PACK_OUTPUT.replace("   61000    9.21 (13.7% of 67)", " " + how), "h200", "x")
    assert "baseline" not in [r["model"] for r in rows], "rates_from_pack read an ERROR line as a rate"


def test_captured_steps_are_named_graphed(smoke_config, tmp_path):
    trainers, log = pack.build(pack.pack_specs(smoke_config, 1, "cpu"), tmp_path)
    assert pack.how_stepped(trainers, log, "cpu") == (True, "eager (cpu)")
    for trainer in trainers:  # as a captured step marks itself (acai_repro.training.cuda_graphs.GraphedStep)
        trainer.stepper.graphed = True
    assert pack.how_stepped(trainers, log, "cuda") == (True, "graphed 1/1")
    trainers[0].stepper.graphed = False
    ok, how = pack.how_stepped(trainers, log, "cuda")
    assert not ok and how.startswith("ERROR: 1 of 1 steps not captured"), how


def test_evaluation_cost_reads_each_cells_seconds_and_evaluations(tmp_path, capsys):
    """benchmarks/evaluation_cost.py: per cell, its evaluations and wall − training seconds; a set
    without records is an error, not an empty table."""
    for model, steps_s, wall in (("acai", 100.0, 130.5), ("vae", 80.0, 81.0)):
        folder = tmp_path / "set" / "lines" / model / "dz64" / "seed0"
        folder.mkdir(parents=True)
        record = {"cell": {"dataset": "lines", "model": model, "dz": 64, "seed": 0}, "evals": [{}] * 27}
        (folder / "metrics.json").write_text(json.dumps({**record, "train_seconds": steps_s, "wall_seconds": wall}))
    assert evaluation_cost.main([str(tmp_path / "set")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "lines/" in line]
    assert rows == [
        "| set | lines/acai/dz64/seed0 | 27 | 100 | 130 | 30 |",
        "| set | lines/vae/dz64/seed0 | 27 | 80 | 81 | 1 |",
    ], rows
    with pytest.raises(SystemExit):
        evaluation_cost.main([str(tmp_path / "empty")])
