"""Committing a result set's figures: which figures belong to a set, the provenance stamp, and
refreshing from PNGs rendered elsewhere (the GPU session's) or from the set's records."""

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from acai_repro.config import DEFAULT_CONFIG, load_config
from acai_repro.reporting import figure_sets

ROOT = Path(__file__).resolve().parent.parent
QUICK = [ROOT / "config" / "quick.yaml"]
PROVENANCE = {
    "commit": "abc1234",
    "fingerprint": "0123456789abcdef",
    "depends_on_training": True,
    "command": "snakemake --configfile=config/quick.yaml results/quick/table1.tex",
    "date": "2026-01-01",
    "machine": "test",
}


def _set(root, *tables):
    set_dir = root / "docs" / "run-results"
    set_dir.mkdir(parents=True)
    (set_dir / "provenance.json").write_text(json.dumps(PROVENANCE))
    for table in tables:
        (set_dir / f"{table}.csv").write_text("")
    return set_dir


def _png(path, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size).save(path)
    return path


def test_the_figures_of_a_set_follow_its_tables_and_the_config(tmp_path):
    config = load_config(DEFAULT_CONFIG, *QUICK)
    table1 = _set(tmp_path / "a", "table1")
    assert figure_sets.set_figures(table1, config) == [
        "fig3_lines_interpolations.png",
        "fig5_vae_samples.png",
        "training_curves_lines_dz64.png",
    ]
    assert figure_sets.set_figures(table1, config, from_records=True) == ["training_curves_lines_dz64.png"]
    grids = _set(tmp_path / "b", "table2", "table3")
    assert figure_sets.set_figures(grids, config) == [
        "interpolations_mnist_dz32.png",
        "training_curves_mnist_dz32.png",
        "interpolations_mnist_dz256.png",
        "training_curves_mnist_dz256.png",
    ]
    assert figure_sets.set_figures(_set(tmp_path / "c"), config) == []


def test_rendered_pngs_are_stamped_with_the_sets_provenance(tmp_path):
    set_dir = _set(tmp_path, "table1")
    rendered = tmp_path / "out"
    names = figure_sets.set_figures(set_dir, load_config(DEFAULT_CONFIG, *QUICK))
    for name in names:
        _png(rendered / name)
    written = figure_sets.refresh(set_dir, QUICK, rendered=rendered, rendered_by="the test")
    assert written == [set_dir / "figures" / name for name in names], written
    stamp = figure_sets.read_stamp(set_dir / "figures" / "fig3_lines_interpolations.png")
    assert stamp == {
        "result set": set_dir.as_posix(),
        "commit": "abc1234",
        "fingerprint": "0123456789abcdef",
        "command": PROVENANCE["command"],
        "rendered by": "the test",
    }, stamp


def test_a_missing_rendered_figure_fails_naming_it_before_copying_any(tmp_path):
    set_dir = _set(tmp_path, "table1")
    _png(tmp_path / "out" / "training_curves_lines_dz64.png")
    with pytest.raises(FileNotFoundError, match="fig3_lines_interpolations.png, fig5_vae_samples.png"):
        figure_sets.refresh(set_dir, QUICK, rendered=tmp_path / "out")
    assert not (set_dir / "figures").exists()


def test_a_set_without_provenance_fails_before_any_work(tmp_path):
    set_dir = _set(tmp_path, "table1")
    (set_dir / "provenance.json").unlink()
    with pytest.raises(ValueError, match="provenance.json: missing"):
        figure_sets.refresh(set_dir, QUICK, rendered=tmp_path / "nowhere")


def test_an_oversized_figure_is_refused(tmp_path, monkeypatch):
    set_dir = _set(tmp_path, "table1")
    monkeypatch.setattr(figure_sets, "MAX_BYTES", 10)
    for name in figure_sets.set_figures(set_dir, load_config(DEFAULT_CONFIG, *QUICK)):
        _png(tmp_path / "out" / name)
    with pytest.raises(ValueError, match="over the 10"):
        figure_sets.refresh(set_dir, QUICK, rendered=tmp_path / "out")


def test_the_command_line_says_what_failed(tmp_path, capsys):
    set_dir = _set(tmp_path, "table1")
    assert figure_sets.main([str(set_dir), "--configfile", str(QUICK[0]), "--rendered", str(tmp_path / "none")]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_training_curves_from_the_committed_quick_records(tmp_path):
    """The workflow's training_curves rule on a copy of the committed quick Table 1 records."""
    set_dir = tmp_path / "docs" / "quick-table1-results"
    shutil.copytree(ROOT / "docs" / "quick-table1-results", set_dir, ignore=shutil.ignore_patterns("figures"))
    written = figure_sets.refresh(set_dir, QUICK, from_records=True, rendered_by="test")
    assert [p.name for p in written] == ["training_curves_lines_dz64.png"]
    assert (
        figure_sets.read_stamp(written[0])["commit"] == json.loads((set_dir / "provenance.json").read_text())["commit"]
    )
