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


def _grid_cell(tmp_path, dataset, dz, model, seed, accuracy, name="kmeans.json"):
    path = tmp_path / f"{dataset}_{dz}_{model}_{seed}_{name}"
    cell = {"dataset": dataset, "dz": dz, "model": model, "seed": seed}
    path.write_text(json.dumps({"cell": cell, "status": "ok", "accuracy": accuracy}))
    return path


def test_grid_table_best_is_highest_with_paper_pixels_and_sources(tmp_path):
    from acai_repro.tables import write_grid_table

    paths = [_grid_cell(tmp_path, "mnist", 32, m, s, acc) for m, s, acc in
             [("baseline", 0, 0.70), ("baseline", 1, 0.72), ("acai", 0, 0.90), ("acai", 1, 0.94)]]  # fmt: skip
    pixel = tmp_path / "pixels.json"
    pixel.write_text(json.dumps({"dataset": "mnist", "status": "ok", "accuracy": 0.5}))
    tex, csv_path = tmp_path / "t3.tex", tmp_path / "t3.csv"
    write_grid_table(paths, [pixel], [["mnist", 32]], MODELS, [0, 1], "accuracy", "table3", "T3", tex, csv_path)
    text = tex.read_text()
    assert "\\textbf{92.00 $\\pm$ 2.83}" in text and "71.00 $\\pm$ 1.41" in text
    assert "94.38" in text and "53.20" in text and "50.00" in text  # paper ACAI, paper pixels, our pixels
    rows = csv_path.read_text().splitlines()
    assert rows[1].endswith(f"{paths[0]};{paths[1]}") and rows[-1].endswith(str(pixel))
    with pytest.raises(MissingCellError, match="acai"):
        write_grid_table(paths[:3], [pixel], [["mnist", 32]], MODELS, [0, 1], "accuracy", "table3", "T3", tex, csv_path)
