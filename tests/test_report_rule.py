"""The paper's reporting rule at every scale (acai_repro.report_rule): the evaluations a cell makes
for it, the window it reads, and every committed record saying what the tables say."""

import json
import math
from pathlib import Path

import pytest

from acai_repro.files import write_json
from acai_repro.report_rule import PAPER_RULE, REPORTED, ReportRule, reported_values
from acai_repro.reporting.reread import main as reread_main
from acai_repro.reporting.reread import reread

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ROOT.glob("docs/*-results/*/*/dz*/seed*/metrics.json"))


def test_at_the_protocols_scale_the_rules_evaluations_are_the_regular_ones():
    """2^24 images, an evaluation every 64 kimg (1,024 steps of 64): the rule's 20 are the last 20 of them."""
    steps, every = 2**24 // 64, 2**16 // 64
    regular = set(range(every, steps + 1, every))
    rule_steps = PAPER_RULE.report_steps(steps)
    assert len(rule_steps) == 20 and rule_steps <= regular, sorted(rule_steps - regular)
    assert sorted(rule_steps) == sorted(regular)[-20:]


@pytest.mark.parametrize("steps, spacing", [(2048, 8), (16384, 64), (262144, 1024)])
def test_twenty_evaluations_one_every_1_256_of_training_over_its_last_20_256(steps, spacing):
    made = sorted(PAPER_RULE.report_steps(steps))
    assert len(made) == 20 and made[-1] == steps, made
    assert {b - a for a, b in zip(made, made[1:])} == {spacing}, made
    assert made[0] > steps * 236 / 256, f"{made[0]} is before the last 20/256 of {steps} steps"


def test_a_run_too_short_for_twenty_makes_what_its_window_holds():
    """4 steps (the smoke scale): the window is under one step, so one evaluation, at the end."""
    assert PAPER_RULE.report_steps(4) == {4}
    assert ReportRule(4, 16).report_steps(16) == {13, 14, 15, 16}


def test_the_window_is_read_from_the_images_of_each_evaluation():
    history = [{"images": i, "x": float(i)} for i in (512, 832, 896, 960, 1024)]
    assert ReportRule(4, 16).count(history) == 4  # 832-1024 lie after 12/16 of 1024 images
    assert ReportRule(1, 16).count(history) == 1
    assert ReportRule(4, None).count(history) == 4


def _history(values):
    return [
        {"images": 64 * (k + 1), "kimg": 64 * (k + 1) / 1024, **dict.fromkeys(REPORTED, v)}
        for k, v in enumerate(values)
    ]


def _cell(root: Path, model: str, record: dict) -> Path:
    path = root / "lines" / model / "dz64" / "seed0" / "metrics.json"
    path.parent.mkdir(parents=True)
    write_json(path, record)
    return path


def test_reread_rewrites_a_record_of_another_rule_and_nothing_else(tmp_path, capsys):
    """A record whose values follow an old rule (the median of all its evaluations) is rewritten under
    the paper's; a record that already agrees, and a diverged one, keep their bytes; a second call
    rewrites nothing."""
    evals = _history([0.9, 0.5, 0.4, 0.1])  # 4 evaluations: the rule reads the last (1 of 4)
    stale = _cell(
        tmp_path,
        "acai",
        {
            "status": "ok",
            "reported": {"mean_distance": 0.45},
            "report_rule": "median of the last 4 evaluations",
            "spec": {"x": 1},
            "evals": evals,
        },
    )
    agreeing = _cell(
        tmp_path,
        "vae",
        {
            "status": "ok",
            "reported": reported_values(evals, PAPER_RULE),
            "report_rule": PAPER_RULE.record_text(evals),
            "evals": evals,
        },
    )
    diverged = _cell(tmp_path, "aae", {"status": "diverged", "reported": {}, "report_rule": None, "evals": evals[:1]})
    before = {p: p.read_bytes() for p in (agreeing, diverged)}
    assert reread(tmp_path, PAPER_RULE, log=lambda m: None) == 1
    record = json.loads(stale.read_text())
    assert record["reported"]["mean_distance"] == pytest.approx(0.1), record["reported"]
    assert record["report_rule"] == "median of the 1 evaluation over the last 20/256 of training (0.2 kimg)"
    assert record["spec"] == {"x": 1} and record["evals"] == evals, "only the two fields change"
    assert {p: p.read_bytes() for p in before} == before, "records that agree, and diverged ones, are left as they are"
    assert reread(tmp_path, PAPER_RULE, log=lambda m: None) == 0, "a second call rewrites nothing"


def test_reread_refuses_a_finished_record_without_its_history(tmp_path, capsys):
    _cell(tmp_path, "acai", {"status": "ok", "reported": {"mean_distance": 0.1}})
    with pytest.raises(SystemExit) as stop:
        reread_main(["--results", str(tmp_path)])
    assert stop.value.code == 2
    assert "metrics.json: damaged record: no evaluation history" in capsys.readouterr().err


def test_reread_keeps_an_undefined_value_undefined_and_is_stable(tmp_path):
    """A collapsed model's Smoothness is NaN in its record: read again, still NaN, and not rewritten again."""
    evals = _history([0.2, 0.1])
    for e in evals:
        e["smoothness"] = math.nan
    _cell(tmp_path, "aae", {"status": "ok", "reported": {}, "evals": evals})
    assert reread(tmp_path, PAPER_RULE, log=lambda m: None) == 1
    assert reread(tmp_path, PAPER_RULE, log=lambda m: None) == 0


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_every_committed_record_says_what_the_tables_read(path):
    """One rule in every record: each committed cell's stored values and rule are the paper's rule
    applied to its own history, as the tables, the scorecard, grid status and the figures read it."""
    record = json.loads(path.read_text())
    if record["status"] != "ok":
        return
    expected = reported_values(record["evals"], PAPER_RULE)
    assert json.dumps(record["reported"]) == json.dumps(expected), (record["reported"], expected)
    assert record["report_rule"] == PAPER_RULE.record_text(record["evals"]), record["report_rule"]


def test_there_are_committed_records_to_check():
    assert len(COMMITTED) >= 36, f"{len(COMMITTED)} committed cell records found under docs/*-results"
