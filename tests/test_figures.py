import json
import shutil

import pytest

from acai_repro import figures
from acai_repro.train import train_cell
from tests.conftest import tiny_spec


def QUIET(message):
    pass


@pytest.fixture
def drawn(monkeypatch):
    """The figures a call draws, kept open for inspection instead of closed."""
    kept = []
    monkeypatch.setattr(figures.plt, "close", kept.append)
    return kept


def _texts(fig) -> str:
    """Every piece of text drawn on a figure: title, axis labels, legends, free text."""
    texts = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_ylabel(), *(t.get_text() for t in ax.texts)]
        if ax.get_legend():
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return "\n".join(texts)


def _diverged_cell(config, model, outdir):
    """A cell that diverges at its first step (a bound no loss stays under), before any evaluation."""
    spec = tiny_spec(config, model, total_images=256, eval_every=128, divergence_bound=1e-12, check_every=1)
    metrics = train_cell(spec, outdir, QUIET)
    assert metrics["status"] == "diverged" and metrics["evals"] == []
    return outdir


def test_training_curves_when_every_cell_diverged_before_its_first_evaluation(smoke_config, tmp_path, drawn):
    cells = [_diverged_cell(smoke_config, m, tmp_path / m) for m in ("baseline", "acai")]
    out = tmp_path / "curves.png"
    figures.training_curves_figure([c / "metrics.json" for c in cells], out)
    assert out.read_bytes()[:4] == b"\x89PNG"
    text = _texts(drawn[0])
    assert "no cell reached its first evaluation" in text
    assert "Baseline seed 0: diverged" in text and "ACAI seed 0: diverged" in text  # the models' titles


def test_figures_from_diverged_weights_are_marked(smoke_config, tmp_path, drawn):
    vae = _diverged_cell(smoke_config, "vae", tmp_path / "vae")
    healthy = tmp_path / "healthy"  # the same weights, recorded as a finished cell
    shutil.copytree(vae, healthy)
    record = json.loads((healthy / "metrics.json").read_text())
    (healthy / "metrics.json").write_text(json.dumps(dict(record, status="ok")))
    endpoints = smoke_config["figures"]["lines_endpoints"]
    figures.lines_interpolation_figure([healthy / "model.pt", vae / "model.pt"], tmp_path / "fig3.png", endpoints)
    labels = [ax.get_ylabel() for ax in drawn[0].axes if ax.get_ylabel()]
    assert labels == ["VAE", "VAE (diverged)"]
    figures.vae_sample_figure(vae / "model.pt", tmp_path / "fig5.png", 4, 0)
    assert "(diverged)" in drawn[1]._suptitle.get_text()
    figures.vae_sample_figure(healthy / "model.pt", tmp_path / "fig5_ok.png", 4, 0)
    assert "diverged" not in drawn[2]._suptitle.get_text()


def _record(path, model, status, evals):
    cell = {"dataset": "lines", "model": model, "dz": 64, "seed": 0}
    path.write_text(json.dumps({"status": status, "cell": cell, "evals": evals, "reason": "|loss| reached inf"}))
    return path


def test_a_cell_that_diverged_before_its_first_evaluation_is_named_in_the_legend(tmp_path, drawn):
    evals = [{"kimg": k, "loss_ae": 1.0 / k, "mean_distance": 0.01} for k in (1, 2)]
    paths = [_record(tmp_path / "a.json", "baseline", "ok", evals), _record(tmp_path / "b.json", "acai", "diverged", [])]
    figures.training_curves_figure(paths, tmp_path / "curves.png")
    legend = [t.get_text() for t in drawn[0].axes[-1].get_legend().get_texts()]
    assert legend == ["Baseline s0", "ACAI s0 (diverged before its first evaluation: no curve)"]
