import json
import math
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from acai_repro.config import evaluations, load_config
from acai_repro.report_rule import PAPER_RULE
from acai_repro.reporting import scorecard, tables
from acai_repro.reporting.reread import main as reread_main
from acai_repro.reporting.tables import PAPER_VALUES, MissingCellError, ReportRule, write_accuracy_table, write_table1
from acai_repro.reporting.tables import main as tables_main
from acai_repro.reporting.tables import markdown_tables as tables_markdown

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"

MODELS = ["baseline", "acai"]
MODELS6 = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]
SEEDS = [0, 1, 2]
BEFORE = Path(__file__).parent / "fixtures" / "tables_before_pandas"  # outputs of the hand-written tables
PAPER_CONFIG = load_config(Path(__file__).parent.parent / "config" / "config.yaml")  # the datasets' titles


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))  # json.dumps writes float('nan') as NaN, as train.py does
    return path


def _cell(tmp_path, model, seed, status="ok", md=0.001, sm=0.1):
    reported = {"mean_distance": md, "smoothness": sm} if status == "ok" else {}
    cell = {"dataset": "lines", "model": model, "dz": 64, "seed": seed}
    record = {"status": status, "cell": cell, "reported": reported, "evals": [reported]}  # one evaluation
    return _write(tmp_path / f"{model}_{seed}.json", record)


def fabricate_study(root):
    """The records the fixtures were made from: lines Table 1, MNIST Tables 2-3, one seed diverged."""
    root, t1, t2, t3 = Path(root), [], [], []
    for i, model in enumerate(MODELS6):
        for seed in SEEDS:
            status = "diverged" if (model, seed) == ("vqvae", 2) else "ok"
            md, sm = 0.001 * (6 - i) + 0.0003 * seed, 0.1 * (i % 4) + 0.05 * seed
            cell = {"dataset": "lines", "model": model, "dz": 64, "seed": seed}
            reported = {"mean_distance": md, "smoothness": sm} if status == "ok" else {}
            t1.append(
                _write(
                    root / f"lines/{model}/dz64/seed{seed}/metrics.json",
                    {"status": status, "cell": cell, "reported": reported, "evals": [reported]},
                )
            )
            for dz in (32, 256):
                acc = 0.5 + 0.07 * i + 0.01 * seed + dz / 10000
                cell = {"dataset": "mnist", "model": model, "dz": dz, "seed": seed}
                folder = root / f"mnist/{model}/dz{dz}/seed{seed}"
                reported = {"classifier_accuracy": acc - 0.05} if status == "ok" else {}
                t2.append(
                    _write(
                        folder / "metrics.json",
                        {"status": status, "cell": cell, "reported": reported, "evals": [reported]},
                    )
                )
                t3.append(_write(folder / "kmeans.json", {"status": status, "cell": cell, "accuracy": acc}))
    pixels = {
        name: _write(root / f"mnist/pixels/{name}.json", {"dataset": "mnist", "status": "ok", "accuracy": acc})
        for name, acc in (("probe", 0.9123), ("kmeans", 0.5321))
    }
    return t1, t2, t3, pixels


def _body_cells(tex: str) -> list[list[str]]:
    """The tabular's rows as lists of stripped cells (no comments, rules or spacing; a paper value's
    source letter, which the hand-written tables did not have, left out)."""
    rows = [line.removesuffix("\\\\").strip() for line in tex.splitlines() if "&" in line and not line.startswith("%")]
    return [[re.sub(r"\$\^\{[a-h]\}\$$", "", cell.strip()) for cell in row.split("&")] for row in rows]


def _lines(tex: str) -> dict[str, list[str]]:
    """A table's model lines: title -> its cells after the title."""
    return {row[0]: row[1:] for row in _body_cells(tex) if row[0] and row[0] not in ("Model",)}


def _values(tex: str) -> set[str]:
    """The values a table prints (ours and the paper's, bold and marks left out; the old grid tables
    printed the pixels in every row)."""
    cells = [re.sub(r"\\textbf\{(.*?)\}|\$\^\\circ\$", r"\1", c) for row in _body_cells(tex) for c in row]
    return {c for c in cells if re.match(r"\d+\.\d\d|undef|diverged", c)}


@pytest.fixture
def study(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative record paths, as in the fixtures' sources
    return fabricate_study("records")


@pytest.mark.parametrize("name", ["table1", "table2", "table3"])
def test_same_outputs_as_the_hand_written_tables_at_ddof_1(study, name):
    t1, t2, t3, pixels = study
    cells = [["mnist", 32], ["mnist", 256]]
    if name == "table1":
        write_table1(t1, MODELS6, SEEDS, "t.tex", "t.csv", std_ddof=1)
    else:
        key, paths, pixel = ("classifier_accuracy", t2, "probe") if name == "table2" else ("accuracy", t3, "kmeans")
        write_accuracy_table(
            paths,
            [pixels[pixel]],
            cells,
            MODELS6,
            SEEDS,
            key,
            name,
            "T",
            "t.tex",
            "t.csv",
            std_ddof=1,
            config=PAPER_CONFIG,
        )
    # the same numbers, laid out with a line per model now (a column per model no longer fits in \\small)
    assert _values(Path("t.tex").read_text()) == _values((BEFORE / f"{name}.tex").read_text())
    old, new = pd.read_csv(BEFORE / f"{name}.csv"), pd.read_csv("t.csv")
    if name != "table1":  # the old tables repeated a dataset's pixel row after each of its rows
        pixel_rows = old[old.model == "pixels"].drop_duplicates("dataset")
        old = pd.concat([old[old.model != "pixels"], pixel_rows]).reset_index(drop=True)
    shared = ["mean", "std", "status", "paper_mean", "paper_std", "sources"]
    pd.testing.assert_frame_equal(new[shared], old[shared])
    ok = new.status == "ok"
    assert (new.n_seeds[ok] == old.n_seeds[ok.to_numpy()].to_numpy()).all()


def test_population_std_by_default(tmp_path):
    paths = [_cell(tmp_path, m, s, md=md, sm=0.1) for m, s, md in
             [("baseline", 0, 0.006), ("baseline", 1, 0.008), ("acai", 0, 0.0002), ("acai", 1, 0.0004)]]  # fmt: skip
    summary = write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert "7.00 $\\pm$ 1.00" in tex  # x10^-3; np.std of [6, 8] (ddof 0), not 1.41 (ddof 1)
    assert "\\textbf{0.30 $\\pm$ 0.10}" in tex and "population standard deviation over 2 seeds (0, 1)" in tex
    assert "\\toprule" in tex and "\\bottomrule" in tex and "6.88 $\\pm$ 0.21" in tex  # the paper under ours
    csv = pd.read_csv(tmp_path / "t.csv")
    assert csv.loc[(csv.metric == "mean_distance") & (csv.model == "baseline"), "std"].item() == pytest.approx(1.0)
    assert len(csv) == 4 and summary["std"].tolist() == pytest.approx([1.0, 0.1, 0.0, 0.0])


def test_diverged_cell_is_printed_not_averaged(tmp_path):
    paths = [
        _cell(tmp_path, "baseline", 0),
        _cell(tmp_path, "baseline", 1),
        _cell(tmp_path, "acai", 0),
        _cell(tmp_path, "acai", 1, status="diverged"),
    ]
    write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    assert (tmp_path / "t.tex").read_text().count("diverged") == 2
    csv = pd.read_csv(tmp_path / "t.csv")
    acai = csv[csv.model == "acai"]
    assert (acai.status == "diverged").all() and acai["mean"].isna().all()


def test_all_undefined_smoothness_is_reported_undefined_end_to_end(tmp_path):
    # A collapsed model: every interpolation's endpoints decode to one line, so the metric
    # gives NaN (written by json.dumps as NaN) and the cell's median over evaluations is NaN.
    paths = [_cell(tmp_path, "baseline", s, sm=0.4) for s in SEEDS]
    paths += [_cell(tmp_path, "acai", s, sm=float("nan")) for s in SEEDS]
    assert "NaN" in paths[-1].read_text()
    write_table1(paths, MODELS, SEEDS, tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    lines = _lines(tex)  # model -> Mean Distance ours, paper, Smoothness ours, paper
    assert lines["ACAI"][2] == "undef.$^\\dagger$"
    assert lines["Baseline"][2] == "\\textbf{0.40 $\\pm$ 0.00}"  # the only defined value is the best
    assert "ACAI, Smoothness: 3 of 3 seeds" in tex
    csv = pd.read_csv(tmp_path / "t.csv").set_index(["metric", "model"])
    row = csv.loc[("smoothness", "acai")]
    assert row.status == "undefined" and row.n_undefined == 3 and math.isnan(row["mean"])
    assert csv.loc[("mean_distance", "acai")].status == "ok"


def test_collapsed_model_is_undefined_from_the_metric_to_the_table(tmp_path):
    # The real chain: a collapsed model's evaluation (every interpolated point decodes to one
    # line), the cell's reported median as train.py computes and writes it, then the table.
    from acai_repro.data.lines import render_lines
    from acai_repro.files import write_json
    from acai_repro.metrics.lines import line_metrics
    from acai_repro.report_rule import reported_values

    line = render_lines(torch.tensor([1.0])).numpy()  # [1, 1, 32, 32]
    evaluation = line_metrics(np.broadcast_to(line, (4, 16, *line.shape[1:])).copy())
    assert math.isnan(evaluation["smoothness"]) and evaluation["smoothness_undefined"] == 4
    paths = []
    for model, evals in (("baseline", [{"mean_distance": 0.02, "smoothness": 0.5}] * 2), ("acai", [evaluation] * 2)):
        for seed in SEEDS:
            cell = {"dataset": "lines", "model": model, "dz": 64, "seed": seed}
            paths.append(tmp_path / f"{model}{seed}.json")
            write_json(
                paths[-1],
                {"status": "ok", "cell": cell, "reported": reported_values(evals, PAPER_RULE), "evals": evals},
            )
    write_table1(paths, MODELS, SEEDS, tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert "undef.$^\\dagger$" in tex and "ACAI, Smoothness: 3 of 3 seeds" in tex
    csv = pd.read_csv(tmp_path / "t.csv").set_index(["metric", "model"])
    acai = csv.loc[("smoothness", "acai")]
    assert acai.status == "undefined" and acai.n_undefined == 3 and math.isnan(acai["mean"])


def test_one_undefined_seed_leaves_the_mean_undefined(tmp_path):
    # null is accepted as well as NaN for an undefined value
    paths = [_cell(tmp_path, "baseline", s) for s in (0, 1)] + [_cell(tmp_path, "acai", 0, sm=0.2)]
    path = tmp_path / "acai_1.json"
    reported = {"mean_distance": 0.001, "smoothness": None}
    path.write_text(
        json.dumps(
            {
                "status": "ok",
                "cell": {"dataset": "lines", "model": "acai", "dz": 64, "seed": 1},
                "reported": reported,
                "evals": [reported],
            }
        )
    )
    write_table1([*paths, path], MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    csv = pd.read_csv(tmp_path / "t.csv").set_index(["metric", "model"])
    assert csv.loc[("smoothness", "acai")].status == "undefined" and csv.loc[("smoothness", "acai")].n_undefined == 1
    assert math.isnan(csv.loc[("smoothness", "acai"), "mean"])
    assert "ACAI, Smoothness: 1 of 2 seeds" in (tmp_path / "t.tex").read_text()


def _history_cell(root, model, seed, smoothness_by_evaluation):
    """A cell as training leaves it: reported = median of all its evaluations (NaN ones too)."""
    evals = [{"mean_distance": 0.01 * (i + 1), "smoothness": s} for i, s in enumerate(smoothness_by_evaluation)]
    cell = {"dataset": "lines", "model": model, "dz": 64, "seed": seed}
    reported = {"mean_distance": float(np.median([e["mean_distance"] for e in evals])), "smoothness": float("nan")}
    path = root / "lines" / model / "dz64" / f"seed{seed}" / "metrics.json"
    return _write(path, {"status": "ok", "cell": cell, "reported": reported, "evals": evals})


def test_the_papers_rule_is_read_from_the_histories_not_the_stored_values(tmp_path):
    # Early evaluations of an untrained model are undefined (NaN): the values the cell stored (the
    # median of every evaluation) are undefined, the paper's rule (last 20/256 of 4: one) is a number.
    paths = [
        _history_cell(tmp_path, m, s, [float("nan"), float("nan"), 0.3 + s, 0.5 + s]) for m in MODELS for s in (0, 1)
    ]
    write_table1(paths, MODELS, [0, 1], tmp_path / "paper.tex", tmp_path / "paper.csv")
    write_table1(paths, MODELS, [0, 1], tmp_path / "last2.tex", tmp_path / "last2.csv", rule=ReportRule(2, None))
    paper = pd.read_csv(tmp_path / "paper.csv").set_index(["metric", "model"])
    last2 = pd.read_csv(tmp_path / "last2.csv").set_index(["metric", "model"])
    assert paper.loc[("smoothness", "acai"), "mean"] == pytest.approx(np.mean([0.5, 1.5]))  # the last evaluation
    assert (paper.report_last == 1).all() and (paper.evaluations == 4).all(), paper[["report_last", "evaluations"]]
    assert last2.loc[("smoothness", "acai"), "mean"] == pytest.approx(np.mean([0.4, 1.4]))
    assert last2.loc[("mean_distance", "acai"), "mean"] == pytest.approx(35.0)  # (0.03 + 0.04) / 2, x 10^3
    assert "the median of its last 1 of 4 evaluations" in (tmp_path / "paper.tex").read_text()
    assert "the median of its last 2 of 4 evaluations" in (tmp_path / "last2.tex").read_text()
    with pytest.raises(MissingCellError, match="4 evaluations, fewer than the last 5"):
        write_table1(paths, MODELS, [0, 1], tmp_path / "x.tex", tmp_path / "x.csv", rule=ReportRule(5, None))


@pytest.mark.parametrize(
    "evaluations, expected", [(8, 1), (16, 2), (256, 20), (2, 1), (1, 1), (26, 3), (32, 3), (1024, 80)]
)
def test_the_papers_rule_reads_the_evaluations_over_the_last_20_of_256_of_training(evaluations, expected):
    """Regular histories (an evaluation every 1/M of training): the evaluations after 236/256 of it.
    quick's 8: the last 1; gpu-quick's 16: the last 2 (the 15th is at 240/256); the protocol: 20 of 256."""
    every = 4096
    regular = [{"images": every * k} for k in range(1, evaluations + 1)]
    assert ReportRule().count(regular) == expected, ReportRule().count(regular)
    hand_written = [{} for _ in range(evaluations)]  # no images: read as evenly spaced
    assert ReportRule().count(hand_written) == expected, ReportRule().count(hand_written)
    assert ReportRule(4, None).count(regular) == 4  # a fixed rule whatever the history


def test_the_papers_rule_reads_the_schedule_it_makes_at_every_scale():
    """Each scale's history (regular evaluations and the rule's own): the rule reads the 20 it made."""
    for overlay, regular_every in (("quick.yaml", 16384), ("gpu-quick.yaml", 65536), (None, 65536)):
        config = load_config(CONFIG_DIR / "config.yaml", *([CONFIG_DIR / overlay] if overlay else []))
        batch, total = config["training"]["batch_size"], config["training"]["total_images"]
        steps = set(range(regular_every // batch, total // batch + 1, regular_every // batch))
        steps |= PAPER_RULE.report_steps(total // batch)
        history = [{"images": step * batch} for step in sorted(steps)]
        assert len(history) == evaluations(config), (overlay, len(history), evaluations(config))
        assert PAPER_RULE.count(history) == 20, (overlay, PAPER_RULE.count(history))
        window = history[-20:]
        spacing = {b["images"] - a["images"] for a, b in zip(window, window[1:])}
        assert spacing == {total // 256}, (overlay, spacing)  # one every 1/256 of training


def test_a_record_without_its_evaluation_history_is_refused(tmp_path):
    cell = {"dataset": "lines", "model": "acai", "dz": 64, "seed": 0}
    path = _write(
        tmp_path / "acai.json", {"status": "ok", "cell": cell, "reported": {"mean_distance": 0.1, "smoothness": 0.1}}
    )
    with pytest.raises(MissingCellError, match="acai.json: no evaluation history"):
        write_table1([path], ["acai"], [0], tmp_path / "t.tex", tmp_path / "t.csv")


def test_the_tables_command_line_writes_every_table_or_says_what_is_missing(tmp_path, capsys):
    overlay = tmp_path / "two.yaml"
    overlay.write_text("seeds: [0, 1]\ntable1: {models: [baseline, acai]}\n")
    for m in MODELS:
        for s in (0, 1):
            _history_cell(tmp_path / "results", m, s, [float("nan"), 0.2, 0.3])
    out = tmp_path / "tables"
    tables_main(["--configfile", str(overlay), "--results", str(tmp_path / "results"), "--out", str(out)])
    assert "ACAI" in (out / "table1.tex").read_text() and (out / "table1.csv").exists()
    tables_main(
        ["--configfile", str(overlay), "--results", str(tmp_path / "results"), "--report-last", "2", "--out", str(out)]
    )
    assert "last 2 of 3 evaluations" in (out / "table1_last2.tex").read_text()
    with pytest.raises(SystemExit) as stop:
        tables_main(["--configfile", str(overlay), "--results", str(tmp_path / "none"), "--out", str(out)])
    assert stop.value.code == 2 and "metrics.json" in capsys.readouterr().err


def test_missing_cell_fails_loudly(tmp_path):
    paths = [_cell(tmp_path, "baseline", 0), _cell(tmp_path, "acai", 0), _cell(tmp_path, "acai", 1)]
    with pytest.raises(MissingCellError, match="baseline', 1"):
        write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")


def _grid_cell(tmp_path, dataset, dz, model, seed, accuracy):
    cell = {"dataset": dataset, "dz": dz, "model": model, "seed": seed}
    record = {"cell": cell, "status": "ok", "accuracy": accuracy}
    return _write(tmp_path / f"{dataset}_{dz}_{model}_{seed}.json", record)


def test_grid_table_best_is_highest_with_paper_pixels_and_sources(tmp_path):
    paths = [_grid_cell(tmp_path, "mnist", 32, m, s, acc) for m, s, acc in
             [("baseline", 0, 0.70), ("baseline", 1, 0.72), ("acai", 0, 0.90), ("acai", 1, 0.94)]]  # fmt: skip
    pixel = _write(tmp_path / "pixels.json", {"dataset": "mnist", "status": "ok", "accuracy": 0.5})
    tex, csv_path = tmp_path / "t3.tex", tmp_path / "t3.csv"
    write_accuracy_table(
        paths, [pixel], [["mnist", 32]], MODELS, [0, 1], "accuracy", "table3", "T3", tex, csv_path, config=PAPER_CONFIG
    )
    text = tex.read_text()
    assert "\\textbf{92.00 $\\pm$ 2.00}" in text and "71.00 $\\pm$ 1.00" in text  # population std
    assert "94.38" in text and "53.20" in text and "50.00" in text  # paper ACAI, paper pixels, our pixels
    assert "DEC on MNIST, 84.3" in text  # the prior methods quoted beside Table 3
    rows = csv_path.read_text().splitlines()
    assert rows[1].endswith(f"{paths[0].name};{paths[1].name}") and rows[-1].endswith(pixel.name)  # relative
    with pytest.raises(MissingCellError, match="acai"):
        write_accuracy_table(
            paths[:3], [pixel], [["mnist", 32]], MODELS, [0, 1], "accuracy", "table3", "T3", tex, csv_path
        )


def test_grid_table_names_each_dataset_by_its_title_in_the_config(tmp_path):
    paths = [_grid_cell(tmp_path, "mnist", 32, model, seed, 0.9) for model in MODELS for seed in (0, 1)]
    pixel = _write(tmp_path / "pixels.json", {"dataset": "mnist", "status": "ok", "accuracy": 0.5})
    tex = tmp_path / "t3.tex"

    def written(config):
        write_accuracy_table(
            paths,
            [pixel],
            [["mnist", 32]],
            MODELS,
            [0, 1],
            "accuracy",
            "table3",
            "T3",
            tex,
            tmp_path / "t3.csv",
            config=config,
        )
        return tex.read_text()

    titled = written({"datasets": {"mnist": {"title": "Handwritten digits"}}})
    assert "{Handwritten digits, $d_z$ = 32}" in titled and "DEC on Handwritten digits, 84.3" in titled
    assert "{mnist, $d_z$ = 32}" in written({"datasets": {"mnist": {}}})  # a dataset without a title: its key


def test_paper_values_cover_every_published_cell():
    paper = pd.read_csv(PAPER_VALUES, comment="#")
    counts = paper.groupby("table").size().to_dict()
    assert counts == {
        "table1": 12,
        "table2": 36 + 3,
        "table3": 24 + 2 + 6,
    }  # cells, pixels, prior methods (DEC, RIM, IMSAT x 2)
    assert not paper.duplicated(["table", "dataset", "dz", "model", "metric"]).any()
    assert np.isfinite(paper["mean"]).all()


def test_a_model_at_its_own_dz_is_named_in_the_caption(tmp_path):
    paths = [_cell(tmp_path, m, 0) for m in MODELS]
    vq = json.loads(paths[0].read_text())
    vq["cell"].update(model="vqvae", dz=256)
    paths.append(_write(tmp_path / "vqvae_0.json", vq))
    write_table1(paths, ["baseline", "vqvae", "acai"], [0], tmp_path / "t.tex", tmp_path / "t.csv")
    tex = (tmp_path / "t.tex").read_text()
    assert list(_lines(tex)) == ["Baseline", "VQ-VAE", "ACAI"]
    assert "The VQ-VAE at $d_z$ = 256, the others at 64" in next(
        line for line in tex.splitlines() if line.startswith("\\caption")
    )
    assert pd.read_csv(tmp_path / "t.csv").set_index(["metric", "model"]).loc[("smoothness", "vqvae"), "dz"] == 256


@pytest.mark.parametrize("ddof", [0, 1])
def test_one_seed_shows_no_std_never_zero(tmp_path, ddof):
    """One seed has no spread at either ddof: the mean alone in the .tex, an empty std in the CSV."""
    paths = [_cell(tmp_path, "baseline", 0, md=0.006), _cell(tmp_path, "acai", 0, md=0.0002)]
    summary = write_table1(paths, MODELS, [0], tmp_path / "t.tex", tmp_path / "t.csv", std_ddof=ddof)
    tex = (tmp_path / "t.tex").read_text()
    lines = _lines(tex)
    assert [lines["Baseline"][0], lines["ACAI"][0]] == ["6.00", "\\textbf{0.20}$^\\circ$"], lines  # best of one seed
    assert "$\\pm$ 0.00" not in tex and "undef.}" not in tex and "one seed (0), so no standard deviation" in tex
    csv = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    assert (csv["std"] == "").all() and (csv["status"] == "ok").all() and (csv["mean"] != "").all()
    assert summary["std"].isna().all()


def test_two_seeds_with_one_value_show_a_std_of_zero(tmp_path):
    paths = [_cell(tmp_path, m, s, md=0.006) for m in MODELS for s in (0, 1)]
    write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    assert "6.00 $\\pm$ 0.00" in (tmp_path / "t.tex").read_text()  # measured: two seeds that agree


def test_grid_table_with_one_seed_shows_no_std(study):
    t1, t2, t3, pixels = study
    one_seed = [p for p in t2 if "/seed0/" in str(p)]
    summary = write_accuracy_table(
        one_seed,
        [pixels["probe"]],
        [["mnist", 32], ["mnist", 256]],
        MODELS6,
        [0],
        "classifier_accuracy",
        "table2",
        "T",
        "t.tex",
        "t.csv",
        std_ddof=1,
        config=PAPER_CONFIG,
    )
    tex = Path("t.tex").read_text()
    ours = [cells[0::2] for cells in _lines(tex).values()]  # ours: every other column
    assert ours and not any("pm" in cell for row in ours for cell in row), ours
    assert summary[summary.model != "pixels"]["std"].isna().all()


def test_each_row_names_the_scale_its_records_were_made_at(tmp_path):
    """The scale comes from the records (a cell's spec; a probe or K-Means record's own key), not
    from the table's caller; records of two scales in one row name both; pixels record none."""

    def cell(model, seed, scale, where):
        record = {"status": "ok", "cell": {"dataset": "mnist", "model": model, "dz": 32, "seed": seed}, "accuracy": 0.9}
        return _write(tmp_path / f"{model}_{seed}.json", {**record, **where(scale)})

    def in_spec(scale):
        return {"spec": {"scale_name": scale}}

    def top_level(scale):
        return {"scale_name": scale}

    paths = [
        cell("baseline", 0, "quick", in_spec),
        cell("baseline", 1, "quick", top_level),
        cell("acai", 0, "quick", top_level),
        cell("acai", 1, "paper", top_level),
    ]
    pixel = _write(tmp_path / "pixels.json", {"dataset": "mnist", "status": "ok", "accuracy": 0.5})
    csv_path = tmp_path / "t.csv"
    write_accuracy_table(
        paths, [pixel], [["mnist", 32]], MODELS, [0, 1], "accuracy", "table3", "T", tmp_path / "t.tex", csv_path
    )
    scales = pd.read_csv(csv_path, keep_default_na=False).set_index("model")["scale"]
    assert scales.to_dict() == {"baseline": "quick", "acai": "paper;quick", "pixels": ""}


# ---- every command the result sets give to regenerate their files, run as written --------------
ROOT = Path(__file__).resolve().parent.parent
REGENERATE = re.compile(r"## Regenerating the tables and the scorecard\n.*?```bash\n(.*?)```", re.S)


def regeneration_commands():
    """(result set, command) for each line of each committed set's regeneration block."""
    found = []
    for readme in sorted(ROOT.glob("docs/*-results/README.md")):
        block = REGENERATE.search(readme.read_text())
        assert block, f"{readme}: no regeneration block"
        found += [(readme.parent.name, line) for line in block.group(1).splitlines() if line.strip()]
    return found


def _run_redirected(command: str, out: Path, monkeypatch) -> dict:
    """Runs a documented command from the repository root with its --out moved under `out`; returns
    {written file: the committed file it must equal}."""
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"] and words[2] in (
        "acai_repro.tables",
        "acai_repro.scorecard",
        "acai_repro.reread",
    ), command
    monkeypatch.chdir(ROOT)
    if words[2] == "acai_repro.reread":  # rewrites records in place: run on a copy of the set
        at = words.index("--results")
        committed = ROOT / words[at + 1]
        copy = out / words[at + 1]
        shutil.copytree(committed, copy)
        words[at + 1] = str(copy)
        assert reread_main(words[3:]) == 0, command
        return {path: committed / path.relative_to(copy) for path in copy.rglob("metrics.json")}
    at = words.index("--out")
    committed = ROOT / words[at + 1]
    words[at + 1] = str(out / words[at + 1])
    before = set(out.rglob("*"))
    if words[2] == "acai_repro.tables":
        tables.main(words[3:])
    else:
        assert scorecard.main(words[3:]) == 0, command
    written = sorted(set(out.rglob("*")) - before)
    return {
        path: committed / path.name if committed.is_dir() else committed.with_suffix(path.suffix)
        for path in written
        if path.is_file()
    }


@pytest.mark.parametrize("folder, command", regeneration_commands(), ids=lambda v: v if "/" not in v else None)
def test_each_documented_regeneration_command_rewrites_its_files_byte_for_byte(folder, command, tmp_path, monkeypatch):
    pairs = _run_redirected(command, tmp_path, monkeypatch)
    assert pairs, f"{command}: wrote nothing"
    for written, committed in pairs.items():
        assert written.read_bytes() == committed.read_bytes(), f"{command}: {written.name} differs from {committed}"


def test_every_committed_table_and_scorecard_is_regenerated_by_a_documented_command(tmp_path, monkeypatch):
    covered = set()
    for folder, command in regeneration_commands():
        covered |= set(_run_redirected(command, tmp_path / str(len(covered)), monkeypatch).values())
    shipped = {
        p for p in ROOT.glob("docs/*-results/*") if p.suffix in (".tex", ".csv", ".md") and p.name != "README.md"
    }
    assert shipped <= covered, sorted(str(p.relative_to(ROOT)) for p in shipped - covered)


def test_table_csvs_name_their_records_relative_to_the_results_folder():
    for csv in ROOT.glob("docs/*-results/table*.csv"):
        sources = [s for joined in pd.read_csv(csv).sources for s in joined.split(";")]
        assert all((csv.parent / s).is_file() for s in sources), (csv, sources[:2])


@pytest.mark.parametrize("acai, bold", [((0.0050, 0.0070), False), ((0.0002, 0.0004), True)])
def test_bold_only_where_the_lead_exceeds_the_seeds_spread(tmp_path, acai, bold):
    """Baseline 7 ± 1, ACAI 6 ± 1 (lead 1 within 2 combined std: no bold) or 0.3 ± 0.1 (bold)."""
    paths = [_cell(tmp_path, "baseline", s, md=md) for s, md in ((0, 0.006), (1, 0.008))]
    paths += [_cell(tmp_path, "acai", s, md=md) for s, md in zip((0, 1), acai)]
    write_table1(paths, MODELS, [0, 1], tmp_path / "t.tex", tmp_path / "t.csv")
    lines = _lines((tmp_path / "t.tex").read_text())
    assert lines["ACAI"][0].startswith("\\textbf{") is bold, lines["ACAI"]
    markdown = tables_markdown([tmp_path / "t.csv"], PAPER_CONFIG)
    assert ("**0.30 ± 0.10**" in markdown) is bold and ("**6.00 ± 1.00**" not in markdown), markdown
    assert ("Bold: the best autoencoder, where its lead" in markdown) is bold


COMMAND = re.compile(r"python -m acai_repro\.(?:tables|scorecard)(?:[^`\n\\]|\\\n)*")


def documented_commands(text: str) -> list[str]:
    """Each `python -m acai_repro.tables|scorecard ...` in a page that writes from a committed set,
    its continuation lines joined and its spaces collapsed."""
    found = [" ".join(m.replace("\\\n", " ").split()) for m in COMMAND.findall(text)]
    return [c for c in found if re.search(r"--results docs/[\w-]+-results", c) and "--out" in c]


def test_every_regeneration_command_the_docs_give_is_one_the_test_runs():
    run = {" ".join(command.split()) for _, command in regeneration_commands()}
    pages = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("docs/*-results/README.md")]
    given = {(page.relative_to(ROOT).as_posix(), c) for page in pages for c in documented_commands(page.read_text())}
    assert len(given) >= 5, given
    assert [g for g in given if g[1] not in run] == []
    # known bad: the README's former form, without the config its records were made under
    assert (
        documented_commands("`python -m acai_repro.tables --results docs/quick-table1-results --out x`")[0] not in run
    )
