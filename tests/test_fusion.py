"""Seed fusion (training.seed_fusion): the seeds of a cell trained as one stacked model. On the
CPU: each seed's fused step is its own step (to float rounding), each seed after 5 fused steps is
the seed trained alone (acai_repro.training.fusion_check) and leaks between seeds fail that check, the
same group trained again gives the same bits, a stopped group resumes to the same bits, and the
spec, the rules' unit and the refusals. The CUDA side (captured fused step) runs in benchmarks/gpu_session.sh."""

import json
import re

import pytest
import torch

from acai_repro.config import ConfigError, cell_spec, load_config, spec_digest, validate_config, with_run_settings
from acai_repro.data import build_source
from acai_repro.grid.cost import cost_report
from acai_repro.grid.rates import config_step
from acai_repro.grid_cells import load_grid_config
from acai_repro.models import MODELS
from acai_repro.models.baseline import Baseline
from acai_repro.training import fastpath, fusion_check
from acai_repro.training.cuda_graphs import capture_blockers
from acai_repro.training.fusion import FusedGroup, OneSeedStep
from acai_repro.training.packs import dissolve_targeted, tables_cells, training_packs
from acai_repro.training.train import STATE_FILE, train_pack
from acai_repro.training.training_run import build_run, compute_gradients
from tests.conftest import ROOT, fused_specs
from tests.test_fastpath import _assert_same_weights, _evals, _stopped_at_first_evaluation, _weights
from tests.test_workflow import _jobs, snakemake

QUIET = lambda message: None  # noqa: E731
CPU = torch.device("cpu")
SEEDS = [0, 1, 2]


def _config(smoke_config, fused: bool = True, **training):
    config = json.loads(json.dumps(smoke_config))
    config["seeds"] = SEEDS
    config["training"].update(fast_path=fused, seed_fusion=fused)
    config["training"].update(training)
    return config


def _solo_specs(smoke_config, model, dz=16):
    """The group's seeds as cells trained alone on the exact path."""
    config = _config(smoke_config, fused=False)
    return [with_run_settings(cell_spec(config, "lines", model, dz, seed), config) for seed in SEEDS]


def _largest_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_each_seeds_fused_step_is_its_own_step(smoke_config, model):
    """Known-good: one fused step of three seeds gives each seed the losses and the gradients of
    its own cell stepped alone on the exact path (to float32 rounding: a grouped convolution
    sums in another order, and a bias gradient is a sum of 65,536 terms that cancel; how far
    depends on the CPU's vector kernels, hence a tolerance of 1e-2). A fusion that
    mixed seeds up would be off by far more (checked). The float64 check below bounds a leak
    far more tightly."""
    fused = fused_specs(smoke_config, model)
    solo_specs = _solo_specs(smoke_config, model)
    runs = [build_run(spec, CPU) for spec in fused]
    group = FusedGroup(runs, [build_source(spec, CPU) for spec in fused], fused[0]["training"]["batch_size"])
    fused_losses = group.step()
    alone_gradients = []
    for index, spec in enumerate(solo_specs):
        solo = build_run(spec, CPU)
        x, y = build_source(spec, CPU).train_batch(spec["training"]["batch_size"], solo.data_generator)
        losses = compute_gradients(solo, x, y)
        for name, value in losses.items():
            gap = _largest_gap(fused_losses[name][index].detach(), value.detach())
            assert gap < 1e-5, (
                f"{model} seed {spec['seed']}: loss {name} fused {fused_losses[name][index]} vs alone {value}"
            )
        alone = {name: p.grad for name, p in OneSeedStep(solo.model, solo.classifier).named_parameters()}
        for name, value in alone.items():
            gap = _largest_gap(group.params[name].grad[index], value)
            assert gap < 1e-2, (
                f"{model} seed {spec['seed']}: gradient of {name} is {gap:.2g} (relative) from the seed's own"
            )
        alone_gradients.append(alone)
    # Known-bad: another seed's gradients are far outside that tolerance, so a mix-up would show.
    mixed = max(_largest_gap(group.params[n].grad[0], alone_gradients[1][n]) for n in alone_gradients[1])
    assert mixed > 0.1, f"{model}: seeds 0 and 1 are only {mixed:.2g} apart: the comparison cannot tell seeds apart"


@pytest.mark.parametrize("model", list(MODELS))
def test_a_fused_step_has_no_capture_blockers(smoke_config, model):
    """The whole fused step (each seed's draws, the vmapped losses, the backward, fused Adam)
    reads nothing back and has no data-dependent shape: on CUDA it captures as one graph."""
    specs = fused_specs(smoke_config, model, batch_size=4)
    runs = [build_run(spec, CPU) for spec in specs]
    group = FusedGroup(runs, [build_source(spec, CPU) for spec in specs], 4)
    assert capture_blockers(group.step) == [], f"{model}: the fused step would not capture"


def test_fused_adam_state_round_trips_through_each_seeds_run(smoke_config):
    """pull then push leaves the stacked state (weights, buffers, Adam's moments) as it was:
    what a checkpoint saves per seed is what the group resumes from."""
    specs = fused_specs(smoke_config, "vqvae")
    runs = [build_run(spec, CPU) for spec in specs]
    group = FusedGroup(runs, [build_source(spec, CPU) for spec in specs], specs[0]["training"]["batch_size"])
    group.step()
    before = {name: t.detach().clone() for name, t in group.stacked.items()}
    moments = {
        g: [{k: v.clone() for k, v in opt.state[p].items()} for p in group.groups[g]]
        for g, opt in group.optimizers.items()
    }
    for index in range(len(runs)):
        group.pull(index)
    for t in group.tensors():
        t.detach().zero_()
    for opt in group.optimizers.values():
        opt.state.clear()
    group.push()
    for name, value in before.items():
        assert torch.equal(group.stacked[name], value), f"{name} changed through pull and push"
    for g, opt in group.optimizers.items():
        for p, saved in zip(group.groups[g], moments[g]):
            for key, value in saved.items():
                assert torch.equal(opt.state[p][key], value), f"Adam {g} {key} changed through pull and push"


def test_fused_spec_names_its_group_and_path(smoke_config):
    fused = cell_spec(_config(smoke_config), "lines", "acai", 16, 1)
    plain_fast = cell_spec(_config(smoke_config, fused=False, fast_path=True), "lines", "acai", 16, 1)
    assert plain_fast["training"]["fast_path"] is True
    assert fused["fused_seeds"] == SEEDS, f"the group's seeds must be in the spec, got {fused.get('fused_seeds')}"
    assert fused["training"]["seed_fusion"] is True
    assert "seed_fusion" not in plain_fast["training"] and "fused_seeds" not in plain_fast, "unfused specs unchanged"
    assert spec_digest(fused) != spec_digest(plain_fast), "a fused cell must not resume from an unfused checkpoint"
    assert fastpath.path_name(fused) == fastpath.FUSED == "fast-fused"
    other_group = _config(smoke_config)
    other_group["seeds"] = [0, 1]
    assert spec_digest(cell_spec(other_group, "lines", "acai", 16, 1)) != spec_digest(fused), (
        "another group, another spec"
    )


def test_seed_fusion_needs_the_fast_path(smoke_config):
    config = json.loads(json.dumps(smoke_config))
    config["training"].update(seed_fusion=True, fast_path=False)
    with pytest.raises(ConfigError, match="seed fusion is part of the fast path"):
        validate_config(config)


def test_a_seed_outside_the_group_and_an_unfusable_model_are_refused(smoke_config, monkeypatch):
    config = _config(smoke_config)
    with pytest.raises(ConfigError, match="seed 7 is not one of the configured seeds"):
        cell_spec(config, "lines", "acai", 16, 7)

    def drawn_inside(self, x, generator):
        return Baseline.losses(self, x, {})

    monkeypatch.setattr(Baseline, "training_losses", drawn_inside)
    with pytest.raises(ConfigError, match="overrides training_losses"):
        cell_spec(config, "lines", "baseline", 16, 0)


def test_a_job_must_hold_the_whole_group(smoke_config, tmp_path):
    specs = fused_specs(smoke_config, "baseline")
    with pytest.raises(
        ValueError, match=r"seeds \[0, 1, 2\] of lines/baseline/dz16 as one group; this job holds seeds \[0, 2\]"
    ):
        train_pack([(specs[0], tmp_path / "a"), (specs[2], tmp_path / "c")], QUIET)
    assert not (tmp_path / "a").exists(), "a refused job must not start (no folder, no lock)"


@pytest.mark.slow
def test_a_group_trained_again_gives_the_same_bits_and_resumes_exactly(smoke_config, tmp_path):
    """The same group twice: the same bits. Stopped by SIGTERM at its first evaluation and
    rerun: the same bits too, each seed's metrics.json naming the fused path."""
    specs = fused_specs(smoke_config, "acai", total_images=64 * 8, eval_every=64 * 4)
    runs = {}
    for name in ("a", "b"):
        runs[name] = train_pack([(spec, tmp_path / name / f"seed{spec['seed']}") for spec in specs], QUIET)
    cells = _stopped_at_first_evaluation(specs, tmp_path / "stopped")
    assert all((folder / STATE_FILE).exists() for _, folder in cells), "every seed saves its state"
    runs["stopped"] = train_pack(cells, QUIET)
    for name in ("b", "stopped"):
        for spec, first, again in zip(specs, runs["a"], runs[name]):
            seed = spec["seed"]
            what = f"seed {seed}: run {name} vs run a"
            _assert_same_weights(
                _weights(tmp_path / f"a/seed{seed}/model.pt"), _weights(tmp_path / f"{name}/seed{seed}/model.pt"), what
            )
            assert _evals(first) == _evals(again), f"{what}: evaluation histories differ"
            assert again["path"] == "fast-fused", f"{what}: metrics.json names path {again['path']!r}"
    seeds = [_weights(tmp_path / f"a/seed{s}/model.pt") for s in SEEDS]
    assert not torch.equal(seeds[0]["encoder.0.weight"], seeds[1]["encoder.0.weight"]), "seeds trained alike"


@pytest.mark.slow
def test_seeds_saved_at_different_steps_train_the_group_again(smoke_config, tmp_path):
    """A stop between two seeds' checkpoint writes leaves them at different steps: the group
    trains again from the start, to the bits of an uninterrupted run."""
    specs = fused_specs(smoke_config, "baseline", total_images=64 * 8, eval_every=64 * 4)
    whole = train_pack([(spec, tmp_path / "whole" / f"seed{spec['seed']}") for spec in specs], QUIET)
    cells = _stopped_at_first_evaluation(specs, tmp_path / "split")
    (cells[1][1] / STATE_FILE).unlink()  # seed 1 as if its checkpoint had not been written
    messages = []
    again = train_pack(cells, messages.append)
    assert any("checkpoints are at different steps" in m for m in messages), messages
    for spec, first, second in zip(specs, whole, again):
        seed = spec["seed"]
        _assert_same_weights(
            _weights(tmp_path / f"whole/seed{seed}/model.pt"),
            _weights(tmp_path / f"split/seed{seed}/model.pt"),
            f"seed {seed}",
        )
        assert _evals(first) == _evals(second), f"seed {seed}: evaluation histories differ"


def _fused_overlay(tmp_path, pack: int):
    path = tmp_path / f"fused{pack}.yaml"
    path.write_text(
        "seeds: [0, 1]\ntraining: {fast_path: true, seed_fusion: true}\n"
        f"resources:\n  train: {{gpu: 0, threads: 1, mem_mb: 1000, runtime: 10, pack: {pack}}}\n"
    )
    return path


def _fused_table1_jobs(overlay, asked=()) -> dict:
    """The jobs a dry run of the fused smoke Table 1 should count, from the config: each cell's
    spec, its packs of whole groups (those holding an asked cell dissolved), every other group
    in one train_cell job, the table."""

    config = load_config(ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml", overlay)
    packs = {name: cells for name, cells in training_packs(config).items() if name.startswith("train_pack_table1_")}
    packs = dissolve_targeted(packs, asked, config["results_dir"])
    seeds = len(config["seeds"])
    for name, cells in packs.items():
        groups = {cell[:3] for cell in cells}
        assert len(cells) == seeds * len(groups), f"{name} splits a group of seeds: {cells}"
    packed = {cell for cells in packs.values() for cell in cells}
    table1 = [cell for table, cell in tables_cells(config) if table == "table1"]
    alone = {cell[:3] for cell in table1 if cell not in packed}
    jobs = {"cell_spec": len(table1)}
    jobs.update({"train_cell": len(alone)} if alone else {})
    jobs.update({name: 1 for name in packs}, table1=1)
    return {**jobs, "total": sum(jobs.values())}


@pytest.mark.parametrize("pack", [1, 4])
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_fused_table_trains_a_group_per_job_and_packs_hold_whole_groups(tmp_path, pack):
    """Seed fusion in the workflow: train_cell trains a cell's whole group (its wildcards are
    dataset, model, dz; its outputs every seed's); packs hold whole groups; asking for one seed's
    file trains its group."""
    overlay = _fused_overlay(tmp_path, pack)
    table = snakemake(tmp_path / "w", "-n", "results/smoke/table1.tex", configs=[overlay])
    assert table.returncode == 0, table.stderr
    expected = _fused_table1_jobs(overlay)
    assert _jobs(table.stdout) == expected, f"jobs of the dry run, then those the config makes: {expected}"
    seed1 = "results/smoke/lines/acai/dz64/seed1/metrics.json"
    one = snakemake(tmp_path / "w", "-n", seed1, configs=[overlay])
    assert one.returncode == 0, one.stderr
    assert _jobs(one.stdout) == {"cell_spec": 2, "train_cell": 1, "total": 3}, one.stdout[-2000:]
    assert "results/smoke/lines/acai/dz64/seed0/metrics.json" in one.stdout, "the group's other seed must train with it"
    both = snakemake(tmp_path / "w", "-n", seed1, "results/smoke/table1.tex", configs=[overlay])
    assert _jobs(both.stdout) == _fused_table1_jobs(overlay, asked=[seed1]), both.stdout[-2000:]


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_grid_cost_counts_each_seed_of_a_fused_group(tmp_path):
    files = [str(ROOT / "config" / "smoke.yaml"), str(_fused_overlay(tmp_path, 1))]
    config = load_grid_config(files)
    assert config_step(dict(config, device="cuda"))[0] == "fused", "a fused config on a GPU is costed at fused rates"
    lines = cost_report(config, files, tmp_path, ["results/smoke/table1.tex"], "h100", step="fused")
    cells = len(config["table1"]["models"]) * len(config["seeds"])
    assert any(line.startswith(f"training cells that would run: {cells}") for line in lines), "\n".join(lines)
    assert any("seed-fused step not measured here" in line for line in lines), "a fused rate's stand-in must be named"


# ---- each fused seed against the same seed trained alone (acai_repro.training.fusion_check) ------------
def _over_tolerance(gaps) -> list[str]:
    return [
        f"seed {g.seed}: weights {g.weights:.2g}, adam {g.adam:.2g}, buffers {g.buffers:.2g}"
        for g in gaps
        if not g.largest() <= fusion_check.TOLERANCE
    ]


@pytest.mark.parametrize("model", list(MODELS))
def test_five_fused_steps_leave_each_seed_as_trained_alone(model):
    """Known-good: after 5 fused steps, each seed's weights, Adam moments and buffers are those
    of the same seed trained 5 steps alone, within the check's tolerance (float64 rounding)."""
    gaps = fusion_check.compare(model, "cpu", steps=5)
    assert [g.seed for g in gaps] == list(fusion_check.SEEDS)
    assert not _over_tolerance(gaps), (
        f"{model}: fused seeds differ from the seeds trained alone: {_over_tolerance(gaps)}"
    )


CONTROL_CASES = [
    ("ema-mix", "vqvae", "buffers"),
    ("adam-mix", "vqvae", "adam"),
    ("adam-mix", "acai", "adam"),
    ("gradient-leak", "vqvae", "weights"),
    ("gradient-leak", "acai", "weights"),
]


@pytest.mark.parametrize(("control", "model", "kind"), CONTROL_CASES)
def test_a_leak_between_seeds_fails_the_check(monkeypatch, control, model, kind):
    """Known-bad: each control (half of the VQ-VAE's EMA buffers or of Adam's exp_avg_sq mixed
    with the neighbouring seed's every step; 1e-4 of the neighbour's gradient added), patched
    into FusedGroup, puts every seed's `kind` gap far over the tolerance."""
    attribute, make_faulty = fusion_check.CONTROLS[control]
    monkeypatch.setattr(FusedGroup, attribute, make_faulty(getattr(FusedGroup, attribute)))
    gaps = fusion_check.compare(model, "cpu", steps=5)
    caught = [getattr(g, kind) for g in gaps]
    assert all(gap > 1e3 * fusion_check.TOLERANCE for gap in caught), (
        f"{control} on {model}: {kind} gaps per seed {caught} are not far over the tolerance {fusion_check.TOLERANCE}: the check misses it"
    )
    line, ok = fusion_check.report_line(model, gaps)
    assert not ok and "FAIL: seeds 0, 1, 2" in line, line


def test_an_injected_control_is_removed_after_its_run():
    step, init = FusedGroup.step, FusedGroup.__init__
    with fusion_check.injected("gradient-leak"):
        assert FusedGroup.__init__ is not init
    assert (FusedGroup.step, FusedGroup.__init__) == (step, init), "the real FusedGroup must come back"


def test_the_check_command_prints_a_line_per_model_and_exits_by_the_verdict(capsys):
    assert fusion_check.main(["--device", "cpu", "--models", "vqvae", "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"vqvae: weights \S+, adam \S+, buffers \S+ \(tolerance 1e-06\) ok\n", out), out
    assert fusion_check.main(["--models", "vqvae", "--control", "ema-mix"]) == 1
    out = capsys.readouterr().out
    assert re.fullmatch(r"vqvae: weights \S+, adam \S+, buffers \S+ \(tolerance 1e-06\) FAIL: .*\n", out), out


@pytest.mark.parametrize(
    "argv",
    [
        ["--models", "nope"],
        ["--device", "cuda:99" if torch.cuda.is_available() else "cuda"],
        ["--steps", "0"],
        ["--seeds", "1"],
        ["--steps", "five"],
    ],
)
def test_the_check_command_refuses_a_bad_request_with_exit_2(capsys, argv):
    try:
        code = fusion_check.main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    assert code == 2, f"{argv}: exit {code}"
    assert "error:" in capsys.readouterr().err
