import json

import pytest

from acai_repro.tables import MissingCellError, write_table1

MODELS = ["baseline", "acai"]


def _cell(tmp_path, model, seed, status="ok", md=0.001, sm=0.1):
    path = tmp_path / f"{model}_{seed}.json"
    reported = {"mean_distance": md, "smoothness": sm} if status == "ok" else {}
    path.write_text(json.dumps({"status": status, "cell": {"model": model, "seed": seed}, "reported": reported}))
    return path


def test_mean_std_and_bold_best(tmp_path):
    paths = [
        _cell(tmp_path, "baseline", 0, md=0.006, sm=0.4), _cell(tmp_path, "baseline", 1, md=0.008, sm=0.5),
        _cell(tmp_path, "acai", 0, md=0.0002, sm=0.1), _cell(tmp_path, "acai", 1, md=0.0004, sm=0.1),
    ]  # fmt: skip
    write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "7.00 $\\pm$ 1.41" in tex  # x10^-3, sample std
    assert "\\textbf{0.30 $\\pm$ 0.14}" in tex
    assert "6.88 $\\pm$ 0.21" in tex  # the paper's value beside ours
    csv_rows = (tmp_path / "t.csv").read_text().splitlines()
    assert csv_rows[0].startswith("metric,model,mean,std") and len(csv_rows) == 5


def test_diverged_cell_is_printed_not_averaged(tmp_path):
    paths = [
        _cell(tmp_path, "baseline", 0), _cell(tmp_path, "baseline", 1),
        _cell(tmp_path, "acai", 0), _cell(tmp_path, "acai", 1, status="diverged"),
    ]  # fmt: skip
    write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert tex.count("diverged") == 2
    assert "acai,,,,diverged" in (tmp_path / "t.csv").read_text().replace("mean_distance,", "").replace("smoothness,", "")


def test_missing_cell_fails_loudly(tmp_path):
    paths = [_cell(tmp_path, "baseline", 0), _cell(tmp_path, "acai", 0), _cell(tmp_path, "acai", 1)]
    with pytest.raises(MissingCellError, match="baseline', 1"):
        write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
