"""Damaged records are named, never hidden: every reader of metrics.json, evals.jsonl,
kmeans.json, probe.json and the tables' CSV names the file and what is wrong, with no traceback;
the grid command refuses a missing directory, a bad margin and a missing profile."""

import json
import subprocess
import sys

import pytest

from acai_repro.grid.cell_status import cell_status
from acai_repro.grid_cells import Cell, cell_folder, load_grid_config
from acai_repro.reporting.scorecard import write_scorecard
from acai_repro.reporting.tables import collect, read_table_csv, write_accuracy_table, write_table1
from acai_repro.results import DamagedRecordError, read_cell_spec, read_record
from tests.conftest import ROOT

SMOKE = str(ROOT / "config" / "smoke.yaml")
CELL = {"dataset": "lines", "model": "acai", "dz": 64, "seed": 0}
GOOD = {"status": "ok", "cell": CELL, "reported": {"mean_distance": 0.001, "smoothness": 0.1}}
METRICS = ["mean_distance", "smoothness"]

# (what the file holds, what the message must say)
BROKEN_JSON = [
    ('{"status": "ok", "cell": {"dataset": "li', "not valid JSON at line 1"),  # truncated
    ("", "the file is empty"),
    ("\x00\x17garbage{{", "not valid JSON"),
    ("[1, 2, 3]", "a JSON list, not an object"),
]


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _record(tmp_path, record, name="metrics.json"):
    """A record file; a trained cell's `reported` values are also its one evaluation, which the
    tables read (the reporting rule works on the history), so the damage is in both."""
    if isinstance(record.get("reported"), dict) and "evals" not in record:
        record = {**record, "evals": [record["reported"]]}
    return _write(tmp_path / "cell" / name, json.dumps(record))


@pytest.mark.parametrize("name", ["metrics.json", "kmeans.json", "probe.json"])
@pytest.mark.parametrize("text,problem", BROKEN_JSON, ids=["truncated", "empty", "garbage", "a list"])
def test_a_broken_json_record_is_named_by_every_reader(tmp_path, name, text, problem):
    path = _write(tmp_path / "cell" / name, text)
    with pytest.raises(DamagedRecordError) as error:
        read_record(path)
    assert str(error.value).startswith(f"{path}: damaged record: ") and problem in str(error.value), str(error.value)
    with pytest.raises(DamagedRecordError, match="damaged record"):
        collect([path], METRICS if name == "metrics.json" else ["accuracy"])


def test_a_nan_mean_distance_is_damage_not_undefined(tmp_path):
    path = _record(tmp_path, {**GOOD, "reported": {"mean_distance": float("nan"), "smoothness": 0.1}})
    with pytest.raises(
        DamagedRecordError, match=f"{path}: damaged record: 'mean_distance' is NaN, a value that is never undefined"
    ):
        write_table1([path], ["acai"], [0], tmp_path / "t.tex", tmp_path / "t.csv")
    assert not (tmp_path / "t.tex").exists()


def test_a_nan_smoothness_is_still_undefined(tmp_path):
    """The one value a collapsed model legitimately leaves undefined (tests/test_tables.py)."""
    path = _record(tmp_path, {**GOOD, "reported": {"mean_distance": 0.001, "smoothness": float("nan")}})
    frame = collect([path], METRICS)
    assert list(frame.status) == ["ok", "undefined"], frame


def test_a_nan_accuracy_is_damage(tmp_path):
    path = _record(
        tmp_path,
        {"status": "ok", "cell": {**CELL, "dataset": "mnist", "dz": 32}, "accuracy": float("nan")},
        "kmeans.json",
    )
    with pytest.raises(DamagedRecordError, match="'accuracy' is NaN"):
        write_accuracy_table(
            [path],
            [],
            [["mnist", 32]],
            ["acai"],
            [0],
            "accuracy",
            "table3",
            "T3",
            tmp_path / "t.tex",
            tmp_path / "t.csv",
        )


@pytest.mark.parametrize(
    "record,problem",
    [
        (
            {**GOOD, "reported": {"mean_distance": "0.001", "smoothness": 0.1}},
            "'mean_distance' is '0.001', a str, not a number",
        ),
        (
            {**GOOD, "reported": {"mean_distance": [1], "smoothness": 0.1}},
            "'mean_distance' is [1], a list, not a number",
        ),
        ({**GOOD, "status": "finished"}, "'status' is 'finished', not 'ok' or 'diverged'"),
        ({"status": "ok", "reported": GOOD["reported"]}, "no 'cell'"),
        ({**GOOD, "reported": "0.001"}, "'reported' is '0.001', not an object"),
    ],
    ids=["string value", "list value", "unknown status", "no cell", "reported a string"],
)
def test_values_of_the_wrong_type_are_named(tmp_path, record, problem):
    path = _record(tmp_path, record)
    with pytest.raises(DamagedRecordError) as error:
        collect([path], METRICS)
    assert str(error.value).startswith(f"{path}: damaged record") and problem in str(error.value), str(error.value)


def test_a_missing_reported_key_is_named(tmp_path):
    path = _record(tmp_path, {"status": "ok", "cell": CELL})
    with pytest.raises(Exception) as error:
        collect([path], METRICS)
    assert str(path) in str(error.value) and "'mean_distance'" in str(error.value), str(error.value)


def test_the_scorecard_names_a_damaged_record(tmp_path):
    path = _record(tmp_path, {**GOOD, "reported": {"mean_distance": float("nan"), "smoothness": 0.1}})
    out = tmp_path / "card"
    with pytest.raises(DamagedRecordError, match=str(path)):
        write_scorecard({"table1": [path]}, out.with_suffix(".csv"), out.with_suffix(".md"))


def test_a_damaged_spec_json_is_named(tmp_path):
    path = _write(tmp_path / "cell" / "spec.json", '{"spec": {"dataset"')
    with pytest.raises(
        DamagedRecordError, match=f"{path}: damaged record: not valid JSON.*delete it to have it written again"
    ):
        read_cell_spec(path)


# ---- the tables' CSV ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,problem",
    [
        ("", "damaged table CSV: No columns to parse"),
        ("model,metric\nacai,mean_distance\n", "no column mean, std, n_seeds, status"),
        (
            "model,metric,mean,std,n_seeds,status\nacai,mean_distance,abc,0.1,1,ok\n",
            "column 'mean' holds values that are not numbers",
        ),
    ],
    ids=["empty", "columns missing", "a mean that is text"],
)
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_damaged_table_csv_is_named(tmp_path, text, problem):
    path = _write(tmp_path / "table1.csv", text)
    with pytest.raises(DamagedRecordError) as error:
        read_table_csv(path)
    assert str(error.value).startswith(str(path)) and problem in str(error.value), str(error.value)
    result = subprocess.run(
        [sys.executable, "-m", "acai_repro.tables", "--markdown", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2 and problem in result.stderr and "Traceback" not in result.stderr, result.stderr


# ---- grid status ------------------------------------------------------------------------
def _grid(*args):
    result = subprocess.run([sys.executable, "-m", "acai_repro.grid", *args], capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.mark.parametrize(
    "name,text,problem",
    [
        ("metrics.json", '{"status": "ok", "rep', "metrics.json: damaged record: not valid JSON"),
        ("metrics.json", "", "metrics.json: damaged record: the file is empty"),
        ("metrics.json", json.dumps({"status": "ok"}), "no 'status' ok or diverged with its evaluation history"),
        ("evals.jsonl", "garbage\nmore garbage\n", "evals.jsonl: damaged record: its last lines are no evaluation"),
    ],
)
def test_grid_status_names_a_damaged_cell_and_goes_on(tmp_path, name, text, problem):
    config = load_grid_config([SMOKE])
    cell = Cell("lines", "acai", 64, 0)
    _write(cell_folder(tmp_path, config, cell) / name, text)
    status = cell_status(config, tmp_path, cell, 0.0)
    assert status.state == "damaged" and problem in status.detail, status
    result = _grid("status", "--configfile", SMOKE, "--directory", str(tmp_path), "results/smoke/table1.tex")
    assert result.returncode == 0 and "1 damaged" in result.stdout and problem in result.stdout, result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["status", "--directory", "/nonexistent", "results/smoke/table1.tex"],
            "--directory /nonexistent: no such folder",
        ),
        (
            ["cost", "--directory", "/nonexistent", "results/smoke/table1.tex"],
            "--directory /nonexistent: no such folder",
        ),
        (["runtime", "--margin", "-1"], "--margin -1.0: the margin multiplies"),
        (["runtime", "--margin", "0"], "give a finite number above 0"),
        (["runtime", "--margin", "nan"], "--margin nan: the margin multiplies"),
        (["check", "--profile", "/nonexistent"], "--profile /nonexistent: no config.yaml there"),
    ],
)
def test_grid_refuses_bad_arguments_before_any_work(args, message):
    result = _grid(*args[:1], "--configfile", SMOKE, *args[1:])
    assert result.returncode == 2 and message in result.stderr, result.stdout + result.stderr
    assert result.stdout == "", "nothing listed"


def test_grid_runtime_with_a_good_margin_still_answers():
    result = _grid("runtime", "--configfile", SMOKE, "--margin", "1.5")
    assert result.returncode == 0 and int(result.stdout) > 0, result.stdout + result.stderr


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_the_scorecard_refuses_a_results_folder_that_does_not_exist(tmp_path):
    """A misspelt folder is no run with 72 cells not run: refused before any output is written."""
    real = tmp_path / "results"
    real.mkdir()
    out = tmp_path / "card" / "reproduction"
    command = [
        sys.executable,
        "-m",
        "acai_repro.scorecard",
        "--results",
        str(real),
        str(tmp_path / "reslts"),
        "--configfile",
        SMOKE,
        "--out",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--results {tmp_path / 'reslts'}: no such folder" in result.stderr, result.stderr
    assert not out.parent.exists(), "wrote a scorecard of a folder that does not exist"
    ok = subprocess.run(command[:5] + command[6:], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and out.with_suffix(".md").exists(), ok.stderr
