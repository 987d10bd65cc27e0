"""Watching and costing the grid (`python -m acai_repro.grid` and the modules it calls) from
fabricated result files."""

import json
import math

import pytest

from acai_repro.config import cell_spec, spec_digest, with_run_settings
from acai_repro.grid.cell_status import grid_status, last_json_line
from acai_repro.grid.cli import main as grid_main
from acai_repro.grid.cost import (
    DeviceJob,
    cost_report,
    expand_targets,
    images_left,
    parse_dry_run,
    schedule,
    training_cost,
)
from acai_repro.grid.rates import config_step, default_card, load_rates, train_rate
from acai_repro.grid.slurm_profile import array_cap, check_profile, runtime_minutes
from acai_repro.grid_cells import Cell, GridError, cell_folder, load_grid_config, target_cells
from acai_repro.models import MODELS
from acai_repro.results import write_started_spec
from tests.conftest import ROOT

SMOKE = [str(ROOT / "config" / "smoke.yaml")]
QUICK = [str(ROOT / "config" / "quick.yaml")]
NOW = 1_000_000.0


@pytest.fixture
def smoke():
    return load_grid_config(SMOKE)


def _job_spec(config, cell):
    """The spec a training job of `config` receives for `cell` (run settings included)."""
    return with_run_settings(cell_spec(config, cell.dataset, cell.model, cell.dz, cell.seed), config)


def _metrics(directory, config, cell, record, trained_under=None):
    """A cell's metrics.json in `config`'s results, trained under `trained_under` (default: `config`)."""
    folder = cell_folder(directory, config, cell)
    folder.mkdir(parents=True, exist_ok=True)
    spec = _job_spec(trained_under or config, cell)
    (folder / "metrics.json").write_text(json.dumps({**record, "spec": spec, "spec_digest": spec_digest(spec)}))


def _finish(directory, config, cell, reported, images=256, rate=900.0, trained_under=None):
    """A finished cell whose one evaluation (at its end) holds `reported`: its values under any rule."""
    evals = [{"images": images, "kimg": images / 1024, **reported}]
    record = {"status": "ok", "reason": None, "reported": reported, "images": images, "images_per_s": rate}
    record["evals"] = evals
    _metrics(directory, config, cell, record, trained_under)


def _diverge(directory, config, cell, reason, images=128):
    record = {"status": "diverged", "reason": reason, "reported": {}, "images": images, "images_per_s": 50.0}
    _metrics(directory, config, cell, record)


def _running(directory, config, cell, evals, started_under=None):
    folder = cell_folder(directory, config, cell)
    write_started_spec(folder, _job_spec(started_under or config, cell))
    (folder / "evals.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))


def _line(lines, cell):
    [line] = [line for line in lines if line.startswith(cell.name + " ")]
    return line


def test_table1_cells_are_the_configured_models_with_their_own_dz(smoke):
    cells = target_cells(smoke, ["results/smoke/table1.tex"])
    assert [c.model for c in cells] == smoke["table1"]["models"]
    assert all(c.dataset == "lines" and c.seed == 0 for c in cells)
    assert {c.dz for c in cells if c.model == "vqvae"} == {smoke["table1"]["dz_by_model"]["vqvae"]}


def test_table2_and_its_probe_share_cells_and_unknown_targets_are_named(smoke):
    assert target_cells(smoke, ["table2", "table2_probe"]) == target_cells(smoke, ["table2"])
    seeds = len(smoke["seeds"])
    lines = len(smoke["table1"]["models"]) * seeds
    grid = {
        (d, z, m) for table in ("table2", "table3") for d, z in smoke[table]["cells"] for m in smoke[table]["models"]
    }
    assert len(target_cells(smoke, ["all"])) == lines + len(grid) * seeds  # each cell once
    with pytest.raises(GridError, match="unknown target 'results/smoke/table9.tex'"):
        target_cells(smoke, ["results/smoke/table9.tex"])


def test_a_table_resolves_under_the_configs_results_dir_and_another_scales_is_refused(smoke):
    paper = load_grid_config([])
    assert expand_targets(smoke, ["table1", "results/smoke/table3.tex"]) == [
        "results/smoke/table1.tex",
        "results/smoke/table3.tex",
    ]
    assert expand_targets(paper, ["table1"]) == ["results/table1.tex"]
    assert target_cells(smoke, ["results/smoke/table1.tex"]) == target_cells(smoke, ["table1"])
    with pytest.raises(GridError, match="'results/quick/table1.tex' is not under this config's results_dir 'results'"):
        target_cells(paper, ["results/quick/table1.tex"])
    with pytest.raises(GridError, match="not under this config's results_dir 'results/smoke'"):
        target_cells(smoke, ["results/table1.tex"])


def test_status_before_anything_ran(smoke, tmp_path):
    cells = target_cells(smoke, ["all"])  # every model of the config, each table's cells
    lines = grid_status(smoke, tmp_path, ["all"], now=NOW)
    assert len(lines) == len(cells) + 1, "one line per cell and a total expected:\n" + "\n".join(lines)
    assert all(" waiting" in line for line in lines[:-1]), lines
    total = f"total: {len(cells)} cells: 0 finished, 0 diverged, 0 stale, 0 running, {len(cells)} waiting"
    assert lines[-1].startswith(total) and "ETA ?" in lines[-1], lines[-1]


def _eta(seconds: float) -> str:
    return f"ETA {int(seconds) // 60}m{int(seconds) % 60:02d}s"


def test_status_partly_run_with_eta_from_the_running_rates(smoke, tmp_path):
    cells = target_cells(smoke, ["table1"])
    _finish(tmp_path, smoke, cells[0], {"mean_distance": 0.0301, "smoothness": 0.09})
    _running(tmp_path, smoke, cells[1], [{"images": 128, "images_per_s": 64.0}])
    _running(tmp_path, smoke, cells[2], [{"images": 128, "images_per_s": 10.0}, {"images": 192, "images_per_s": 32.0}])
    _running(tmp_path, smoke, cells[3], [])  # started, no evaluation yet
    lines = grid_status(smoke, tmp_path, ["table1"], now=NOW)
    assert "finished" in _line(lines, cells[0]) and "mean_distance 0.0301" in _line(lines, cells[0])
    assert "running" in _line(lines, cells[1]) and "0.12/0.25 kimg" in _line(lines, cells[1])
    assert "64 img/s" in _line(lines, cells[1])
    assert "0.19/0.25 kimg" in _line(lines, cells[2]) and "32 img/s" in _line(lines, cells[2])
    assert "running" in _line(lines, cells[3]) and "0.00/0.25 kimg" in _line(lines, cells[3])
    assert "waiting" in _line(lines, cells[4])
    # Left: 128 + 64 + 256 images of the running cells and 256 per waiting cell, at 64 + 32 img/s.
    waiting = len(cells) - 4
    left = 128 + 64 + smoke["training"]["total_images"] * (1 + waiting)
    assert f"1 finished, 0 diverged, 0 stale, 3 running, {waiting} waiting" in lines[-1], lines[-1]
    assert "96 img/s" in lines[-1] and _eta(left / 96) in lines[-1], f"{_eta(left / 96)} expected: {lines[-1]}"


def test_status_when_done_and_with_one_diverged_cell(smoke, tmp_path):
    cells = target_cells(smoke, ["table1"])
    for cell in cells[1:]:
        _finish(tmp_path, smoke, cell, {"mean_distance": 0.03, "smoothness": 0.1})
    _diverge(tmp_path, smoke, cells[0], "|loss| reached inf (bound 1e+06) by step 2")
    lines = grid_status(smoke, tmp_path, ["table1"], now=NOW)
    assert "diverged" in _line(lines, cells[0]) and "|loss| reached inf" in _line(lines, cells[0])
    assert f"{len(cells) - 1} finished, 1 diverged, 0 stale, 0 running, 0 waiting" in lines[-1], lines[-1]
    assert "ETA 0m00s" in lines[-1], lines[-1]  # nothing left to train: the diverged cell stays as it is


@pytest.mark.parametrize(
    "watched,trained,difference",
    [
        ([], QUICK, "training.total_images 131072 != 16777216"),  # a quick-scale cell under the paper's config
        (QUICK, [], "training.total_images 16777216 != 131072"),  # and the reverse
    ],
)
def test_a_cell_trained_under_another_spec_is_stale_and_left_to_do(tmp_path, watched, trained, difference):
    config, other = load_grid_config(watched), load_grid_config(trained)
    cells = target_cells(config, ["table1"])
    total = config["training"]["total_images"]
    _finish(
        tmp_path,
        config,
        cells[0],
        {"mean_distance": 0.03, "smoothness": 0.1},
        images=other["training"]["total_images"],
        trained_under=other,
    )
    _finish(tmp_path, config, cells[1], {"mean_distance": 0.03, "smoothness": 0.1}, images=total)
    lines = grid_status(config, tmp_path, ["table1"], now=NOW)
    stale = _line(lines, cells[0])
    assert " stale " in stale and "finished" not in stale
    assert "trained under another spec: " in stale and f"; {difference}" in stale
    assert "finished" in _line(lines, cells[1])
    assert f"1 finished, 0 diverged, 1 stale, 0 running, {len(cells) - 2} waiting" in lines[-1]
    # the stale cell is trained again from nothing: one cell's images of them all are done
    assert f"({100 / len(cells):.0f}%)" in lines[-1]


def test_a_cell_started_under_another_spec_is_stale_and_costed_from_nothing(tmp_path, smoke):
    quick = load_grid_config(QUICK)
    cells = target_cells(smoke, ["table1"])
    _running(tmp_path, smoke, cells[0], [{"images": 128, "images_per_s": 64.0}], started_under=quick)
    _running(tmp_path, smoke, cells[1], [{"images": 128, "images_per_s": 64.0}])
    for cell in cells[:2]:
        (cell_folder(tmp_path, smoke, cell) / "train_state.pt").write_bytes(b"")
    lines = grid_status(smoke, tmp_path, ["table1"], now=NOW)
    stale = _line(lines, cells[0])
    assert (
        " stale " in stale
        and "started under another spec: " in stale
        and "training.total_images 131072 != 256" in stale
    )
    assert "running" in _line(lines, cells[1])
    assert images_left(smoke, tmp_path, cells[0]) == 256  # its state will not be resumed
    assert images_left(smoke, tmp_path, cells[1]) == 128


def test_run_settings_never_make_a_cell_stale(tmp_path, smoke):
    """device, scale_name, results_dir and the reporting intervals say nothing of the weights."""
    other = load_grid_config(SMOKE)
    other.update(device="cuda", scale_name="elsewhere", results_dir="elsewhere")
    other["training"].update(progress_seconds=1, check_every=7, checkpoint_minutes=1, cuda_graphs="off")
    [cell] = target_cells(smoke, ["table1"])[:1]
    _finish(tmp_path, smoke, cell, {"mean_distance": 0.03, "smoothness": 0.1}, trained_under=other)
    assert "finished" in _line(grid_status(smoke, tmp_path, ["table1"], now=NOW), cell)


def test_last_json_line_reads_the_tail_and_skips_a_line_being_written(tmp_path):
    log = tmp_path / "evals.jsonl"
    log.write_text("".join(json.dumps({"images": i, "pad": "x" * 300}) + "\n" for i in range(100)) + '{"images": 1')
    assert last_json_line(log, chunk=1024)["images"] == 99


def _measured(kind, dataset, dz, model):
    [row] = [
        r
        for r in load_rates()
        if (r["card"], r["kind"], r["dataset"], r["dz"], r["model"]) == ("h100", kind, dataset, str(dz), model)
    ]
    return float(row["value"])


def test_measured_rates_come_with_their_source_and_the_rest_is_marked_extrapolated():
    rates = load_rates()
    measured = train_rate(rates, "h100", "lines", 64, "acai")
    assert measured.extrapolated_from is None and measured.source.startswith("benchmarks/rates_raw/")
    assert measured.value == _measured("train", "lines", 64, "acai")
    assert train_rate(rates, "h100", "lines", 64, "acai", step="graphed").value == _measured(
        "train_graphed", "lines", 64, "acai"
    )
    assert train_rate(rates, "h100", "mnist", 32, "acai", step="graphed").value == _measured(
        "train", "mnist", 32, "acai"
    )
    svhn = train_rate(rates, "h100", "svhn", 1024, "acai")  # never measured: nearest dz of the same dataset
    assert svhn.extrapolated_from == "svhn dz256 acai" and "EXTRAPOLATED" in svhn.note([])
    celeba = train_rate(rates, "h100", "celeba", 256, "vae")  # another image dataset, never the lines
    assert celeba.extrapolated_from.endswith("dz256 vae") and not celeba.extrapolated_from.startswith("lines")
    with pytest.raises(GridError, match="card 'tpu'"):
        train_rate(rates, "tpu", "lines", 64, "acai")


def test_every_rate_names_the_step_and_precision_it_stands_in_for():
    """An estimate at a step or a precision that was not measured says so, naming the one used."""
    rates = load_rates()
    graphed = train_rate(rates, "h100", "lines", 64, "acai", step="graphed", precision="tf32")
    assert (graphed.kind, graphed.note([])) == ("train_graphed", "measured graphed tf32 [1]"), graphed.note([])
    images = train_rate(rates, "h100", "mnist", 32, "acai", step="graphed", precision="tf32")
    assert images.kind == "train" and "STAND-IN: graphed step not measured here" in images.note([]), images.note([])
    fp32 = train_rate(rates, "h100", "lines", 64, "acai", step="graphed", precision="fp32")
    assert "STAND-IN: fp32 convolutions not measured here" in fp32.note([]), fp32.note([])
    fast = train_rate(
        rates + [lines_acai_rate("train_fast", 30000, source="test row")],
        "h100",
        "lines",
        64,
        "acai",
        step="fast",
        precision="fp32",
    )
    assert (fast.value, fast.note([])) == (30000.0, "measured fast-path fp32 [1]"), fast.note([])
    no_fast = train_rate(rates, "h100", "lines", 64, "acai", step="fast", precision="fp32")
    assert no_fast.kind == "train_graphed" and "STAND-IN: fast-path step not measured here" in no_fast.note([])


@pytest.mark.parametrize(
    "overlay, expected",
    [
        ({"device": "cpu"}, ("eager", "fp32")),
        ({"device": "cuda"}, ("graphed", "fp32")),
        ({"device": "cuda", "training": {"cuda_graphs": "off"}}, ("eager", "fp32")),
        ({"device": "cuda", "training": {"fast_path": True, "conv_tf32": True}}, ("fast", "tf32")),
    ],
)
def test_cost_takes_the_step_and_precision_from_the_config(overlay, expected):
    config = load_grid_config([])
    config = dict(config, **{k: v for k, v in overlay.items() if k != "training"})
    config["training"] = dict(config["training"], **overlay.get("training", {}))
    assert config_step(config) == expected, f"{overlay}: {config_step(config)} != {expected}"


class NeverMeasured:
    rate_like = "acai"


def test_a_model_never_measured_is_costed_at_its_rate_like_models_rate_marked_estimate(monkeypatch):
    monkeypatch.setitem(MODELS, "newmodel", NeverMeasured)
    rates = load_rates()
    estimate = train_rate(rates, "h100", "lines", 64, "newmodel")
    assert estimate.value == _measured("train", "lines", 64, "acai")
    assert estimate.estimate_for == "newmodel" and estimate.estimated_like == "acai"
    assert estimate.note([]).startswith("ESTIMATE: newmodel never measured; costed as acai, measured eager tf32 [1]")
    far = train_rate(rates, "h100", "svhn", 1024, "newmodel")  # the stand-in's rate, itself extrapolated
    assert "ESTIMATE" in far.note(
        []
    ) and "EXTRAPOLATED: not measured; the eager tf32 rate of svhn dz256 acai" in far.note([])
    with pytest.raises(GridError, match="no measured training rate for model 'unregistered'"):
        train_rate(rates, "h100", "lines", 64, "unregistered")  # no class, no stand-in: refused


DRY_RUN = """
Building DAG of jobs...
rule train_cell:
    output: results/lines/acai/dz64/seed0/metrics.json, results/lines/acai/dz64/seed0/model.pt
    wildcards: dataset=lines, model=acai, dz=64, seed=0
    resources: tmpdir=<TBD>

rule train_cell:
    output: results/mnist/vae/dz32/seed1/metrics.json
    wildcards: dataset=mnist, model=vae, dz=32, seed=1

localrule table1:
    input: results/lines/acai/dz64/seed0/metrics.json
    output: results/table1.tex

rule kmeans:
    wildcards: dataset=mnist, model=vae, dz=32, seed=1
"""


def test_dry_run_jobs_per_rule_and_training_cells():
    jobs, cells = parse_dry_run(DRY_RUN)
    assert jobs == {"train_cell": 2, "table1": 1, "kmeans": 1}
    assert [c.name for c in cells["train_cell"]] == ["lines/acai/dz64/seed0", "mnist/vae/dz32/seed1"]
    assert [c.name for c in cells["kmeans"]] == ["mnist/vae/dz32/seed1"] and "table1" not in cells


def test_cost_counts_resumed_cells_from_their_log_and_names_every_rate(tmp_path):
    paper = load_grid_config([])
    folder = tmp_path / "results/lines/acai/dz64/seed0"
    folder.mkdir(parents=True)  # no spec.json: a run from before it was recorded still resumes
    (folder / "train_state.pt").write_bytes(b"")
    half = paper["training"]["total_images"] // 2
    (folder / "evals.jsonl").write_text(json.dumps({"images": half}) + "\n")
    lines = cost_report(paper, [], tmp_path, ["table1"], "h100", output=DRY_RUN)
    hours = {
        line.split()[2]: float(line.split()[6])
        for line in lines
        if line.startswith("  lines ") or line.startswith("  mnist ")
    }
    acai_rate, vae_rate = _measured("train", "lines", 64, "acai"), _measured("train", "mnist", 32, "vae")
    assert hours["acai"] == pytest.approx(half / acai_rate / 3600, abs=0.005)  # half left
    assert hours["vae"] == pytest.approx(paper["training"]["total_images"] / vae_rate / 3600, abs=0.005)
    assert any(line.startswith("GPU-hours of training steps on h100 (eager):") for line in lines)
    assert any(line.startswith("[1] benchmarks/rates_raw/h100_") for line in lines)
    kmeans_hours = 74.2 * 2 * paper["clustering"]["restarts"] / 1000 / 3600  # one dz32 job, 2 cores
    assert any(line.startswith("  on cpu2: 1 x dz32") and f"-> {kmeans_hours:.2f} CPU-hours" in line for line in lines)


def test_jobs_on_n_devices_end_when_the_longest_ready_job_first_schedule_ends():
    five = [DeviceJob(f"train{i}", hours) for i, hours in enumerate([3, 3, 2, 2, 2])]
    assert schedule(five, 1) == 12
    assert schedule(five, 2) == 7, "3+2+2 on one device, 3+2 on the other"
    assert schedule(five, 8) == 3, "more devices than jobs: the longest job"
    short_first = [DeviceJob("a", 1), DeviceJob("b", 1), DeviceJob("c", 2)]
    assert schedule(short_first, 2) == 2, "the longest job starts first, whatever the dry run's order"
    # a K-Means job waits for its cell's training, and a free device idles until then
    chained = [DeviceJob("train", 2.0), DeviceJob("kmeans", 1.0, after="train")]
    assert schedule(chained, 2) == 3.0
    assert schedule([DeviceJob("a", 1.0), DeviceJob("kmeans a", 0.5, after="a"), DeviceJob("b", 1.5)], 2) == 1.5
    assert schedule([], 4) == 0.0


def _wall_clock(lines):
    """{GPUs: (hours, device-hours)} from the wall-clock table of a cost report."""
    start = next(i for i, line in enumerate(lines) if line.startswith("wall-clock until the targets are done"))
    rows = [line.split() for line in lines[start + 2 :] if line.startswith("  ") and line.split()[0].isdigit()]
    return {int(r[0]): (float(r[1]), float(r[2])) for r in rows}


def test_cost_on_n_gpus_schedules_training_and_its_kmeans_on_the_devices(tmp_path):
    paper = dict(load_grid_config([]), device="cuda")
    lines = cost_report(paper, [], tmp_path, ["table1"], "h100", output=DRY_RUN, gpus=[1, 2, 4])
    total = paper["training"]["total_images"]
    acai = total / _measured("train", "lines", 64, "acai") / 3600
    vae = total / _measured("train", "mnist", 32, "vae") / 3600
    [kmeans_row] = [r for r in load_rates() if (r["card"], r["kind"], r["dz"]) == ("h100", "kmeans", "32")]
    kmeans = float(kmeans_row["value"]) * paper["clustering"]["restarts"] / 1000 / 3600
    table = _wall_clock(lines)
    assert table[1][0] == pytest.approx(acai + vae + kmeans, abs=0.01), "one GPU: every job one after another"
    assert table[2][0] == pytest.approx(max(acai, vae + kmeans), abs=0.01), "two: the vae cell's K-Means after it"
    assert table[4] == table[2], "two training jobs: more GPUs end no sooner"
    assert all(device_hours == pytest.approx(acai + vae + kmeans, abs=0.01) for _, device_hours in table.values())


def test_a_cpu_config_is_costed_at_cpu_rates_in_cpu_hours_and_has_no_gpus_to_schedule(tmp_path):
    quick = load_grid_config(QUICK)
    assert default_card(quick) == "cpu2" and default_card(load_grid_config([])) == "h100"
    lines = cost_report(quick, QUICK, tmp_path, ["table1"], "cpu2", output=DRY_RUN, gpus=[2])
    assert lines[1].startswith("the config's device is the CPU: costed at rates measured on a CPU (cpu2), in CPU-hours")
    [training] = [line for line in lines if "of training steps on cpu2" in line]
    assert training.startswith("CPU-hours of training steps on cpu2 (eager):"), training
    assert not any("GPU-h" in line for line in lines), "no GPU-hours for a CPU run:\n" + "\n".join(lines)
    [cpu_rate] = [
        r for r in load_rates() if (r["card"], r["kind"], r["model"], r["dz"]) == ("cpu2", "train", "acai", "64")
    ]
    acai_hours = quick["training"]["total_images"] / float(cpu_rate["value"]) / 3600
    [acai] = [line for line in lines if line.startswith("  lines ") and " acai " in line]
    assert float(acai.split()[6]) == pytest.approx(acai_hours, abs=0.005) and "pack_cpu.txt" in " ".join(lines)
    assert any(line.startswith("--gpus: the config's device is cpu") for line in lines)


def test_a_number_of_gpus_below_one_is_refused(capsys):
    assert grid_main(["cost", "--gpus", "2", "0", "--", "table1"]) == 2
    assert "--gpus 2 0: a number of GPUs is 1 or more" in capsys.readouterr().err


@pytest.mark.slow
def test_grid_cost_of_the_quick_scale_prints_cpu_hours_from_the_command_line(capsys, tmp_path):
    assert grid_main(["cost", "--configfile", *QUICK, "--directory", str(tmp_path), "--", "table1"]) == 0
    out = capsys.readouterr().out
    assert "card cpu2" in out and "CPU-hours of training steps on cpu2" in out and "h100" not in out, out


@pytest.mark.slow
def test_cost_of_the_smoke_table1_from_a_real_dry_run(smoke, tmp_path):
    lines = cost_report(smoke, SMOKE, tmp_path, ["results/smoke/table1.tex"], "h100")
    cells = len(smoke["table1"]["models"]) * len(smoke["seeds"])
    assert any(line.split() == ["train_cell", str(cells)] for line in lines), lines
    assert any(line.startswith(f"training cells that would run: {cells}") for line in lines)


def _profile(tmp_path, **train):
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(json.dumps({"set-resources": {"train_cell": train}}))
    return folder


@pytest.mark.parametrize("cap", ["0", "-3", "many"])
def test_an_array_cap_that_is_not_positive_is_refused(tmp_path, cap):
    profile = _profile(tmp_path, runtime=180, slurm_extra=f"--requeue --acai-array-cap={cap}")
    with pytest.raises(GridError, match="array cap must be a positive integer"):
        check_profile(profile, load_grid_config([]), "h100", load_rates())
    assert array_cap("--requeue") is None and array_cap("--acai-array-cap=16") == 16


def test_a_runtime_shorter_than_one_evaluation_interval_warns(tmp_path):
    paper, rates = load_grid_config([]), load_rates()
    short = check_profile(_profile(tmp_path, runtime=0.2, slurm_extra="--acai-array-cap=4"), paper, "h100", rates)
    assert any(line.startswith("WARNING: train_cell runtime 0.2 min") for line in short)
    ok = check_profile(ROOT / "profiles" / "slurm", paper, "h100", rates)
    assert not any("WARNING" in line for line in ok)


def test_the_slurm_profile_runtime_is_the_one_derived_from_the_rates():
    paper, rates = load_grid_config([]), load_rates()
    slowest = min(float(r["value"]) for r in rates if r["card"] == "h100" and r["kind"] == "train")
    expected = math.ceil(paper["training"]["total_images"] / slowest / 60 * 1.5 / 30) * 30
    assert runtime_minutes(paper, "h100", rates, margin=1.5) == expected
    profile = (ROOT / "profiles" / "slurm" / "config.yaml").read_text()
    assert f"runtime: {expected}\n" in profile


def test_a_fused_groups_cells_add_up_to_the_groups_time(tmp_path):
    """A fused group trains its seeds at once: its rate is the group's aggregate images/s, so its
    three cells cost the group's time together, not three times it."""
    config = load_grid_config([str(ROOT / "config" / "smoke.yaml")])
    rates = [lines_acai_rate("train_fused", 90000)]
    group = [Cell("lines", "acai", 64, seed) for seed in range(3)]
    rows, hours = training_cost(config, tmp_path, group, "h100", rates, step="fused", precision="fp32")
    images = config["training"]["total_images"]
    group_seconds = 3 * images / 90000  # three seeds' images at the group's aggregate rate
    assert math.isclose(hours * 3600, group_seconds), f"{hours * 3600} s costed, the group takes {group_seconds} s"


def lines_acai_rate(kind: str, value: int, source: str = "test") -> dict:
    """A rates.csv row for lines ACAI at dz 64 on an H100, float32 convolutions."""
    return dict(
        card="h100",
        kind=kind,
        dataset="lines",
        dz="64",
        model="acai",
        value=str(value),
        unit="images_per_s",
        precision="fp32",
        cores="",
        source=source,
    )
