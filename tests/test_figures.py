import json
import math
import shutil

import pytest

from acai_repro.reporting import figures
from acai_repro.reporting.tables import paper_values
from acai_repro.training.train import train_cell
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


def _axes_with_images(fig) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_figures_from_diverged_weights_are_labelled_never_drawn(smoke_config, tmp_path, drawn):
    vae = _diverged_cell(smoke_config, "vae", tmp_path / "vae")
    healthy = tmp_path / "healthy"  # the same weights, recorded as a finished cell with reported values
    shutil.copytree(vae, healthy)
    record = json.loads((healthy / "metrics.json").read_text())
    reported = {"mean_distance": 0.0123, "smoothness": float("nan")}
    (healthy / "metrics.json").write_text(json.dumps(dict(record, status="ok", reported=reported)))
    endpoints = smoke_config["figures"]["lines_endpoints"]
    figures.lines_interpolation_figure([healthy / "model.pt", vae / "model.pt"], tmp_path / "fig3.png", endpoints)
    fig3 = drawn[0]
    labels = [ax.get_ylabel() for ax in fig3.axes if ax.get_ylabel()]
    assert labels == ["(a) VAE\nMean Distance 12.30×10⁻³\nSmoothness undef.", "(b) VAE (diverged)"], labels
    n_points = figures.N_POINTS
    assert len(_axes_with_images(fig3)) == n_points, "only the finished cell's row holds images"
    assert all(not ax.images for ax in fig3.axes[n_points:]), "the diverged row shows no images"
    assert "diverged after 0.1 kimg: not a trained model, not drawn" in _texts(fig3), _texts(fig3)
    figures.vae_sample_figure(vae / "model.pt", tmp_path / "fig5.png", 4, 0)
    assert "(diverged)" in drawn[1]._suptitle.get_text()
    assert not _axes_with_images(drawn[1]), "samples of diverged weights are drawn"
    assert "not a trained model" in "\n".join(t.get_text() for t in drawn[1].texts)
    figures.vae_sample_figure(healthy / "model.pt", tmp_path / "fig5_ok.png", 4, 0)
    assert "diverged" not in drawn[2]._suptitle.get_text()
    assert len(_axes_with_images(drawn[2])) == 4, "one image per sample"


def _record(path, model, status, evals, images=0, dz=64, seed=0):
    cell = {"dataset": "lines", "model": model, "dz": dz, "seed": seed}
    record = {
        "status": status,
        "cell": cell,
        "evals": evals,
        "reason": "|loss| reached inf",
        "images": images,
        "report_rule": "median of the last 2 evaluations",
        "spec": {"scale_name": "quick"},
        "provenance": {"code_version": "abc1234"},
    }
    path.write_text(json.dumps(record))
    return path


def _evals(smoothness):
    """Evaluations at 1, 2, 3 kimg, with the VAE's loss scale (a summed NLL, ~100) to show on a log axis."""
    return [
        {"kimg": k, "loss_ae": 100.0 / k, "mean_distance": 0.03 / k, "smoothness": s}
        for k, s in zip((1, 2, 3), smoothness)
    ]


def _panel(fig, title_start):
    return next(ax for ax in fig.axes if ax.get_title().startswith(title_start))


@pytest.fixture
def curves(tmp_path, drawn):
    paths = [
        _record(tmp_path / "a.json", "baseline", "ok", _evals([float("nan"), 0.5, 0.4])),
        _record(tmp_path / "b.json", "acai", "diverged", []),
        _record(tmp_path / "c.json", "vae", "diverged", _evals([0.9, 0.8]), images=2500),
    ]
    figures.training_curves_figure(paths, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    return drawn[0]


def test_every_stopped_cell_is_named_in_the_legend_with_why(curves):
    legend = next(ax.get_legend() for ax in curves.axes if ax.get_legend())
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:3] == ["Baseline", "ACAI", "VAE"], texts  # a colour per model, in the records' order
    assert "ACAI s0 (diverged before its first evaluation: no curve)" in texts, texts
    assert "VAE s0 (diverged after 2.5 kimg: curve ends at ✕)" in texts, texts
    assert "paper's final value (2^24 images)" in texts, texts


def test_losses_and_lines_metrics_on_log_axes_with_the_papers_values(curves):
    for title in ("autoencoder loss", "Mean Distance", "Smoothness"):
        assert _panel(curves, title).get_yscale() == "log", f"{title}: not on a log axis"
    paper = paper_values("table1").set_index(["model", "metric"])["mean"]
    for title, metric, factor in (("Mean Distance", "mean_distance", 1e3), ("Smoothness", "smoothness", 1.0)):
        levels = {
            line.get_ydata()[0]
            for line in _panel(curves, title).get_lines()
            if len(set(line.get_ydata())) == 1 and line.get_linewidth() > 2
        }
        expected = {paper[(m, metric)] for m in ("baseline", "acai", "vae")}
        assert levels == expected, f"{title}: reference lines at {levels}, the paper's values are {expected}"
    mean_distance = _panel(curves, "Mean Distance").get_lines()[0]
    assert list(mean_distance.get_ydata()) == pytest.approx([30.0, 15.0, 10.0]), "Mean Distance not in units of 1e-3"


def test_an_undefined_evaluation_is_marked_in_a_strip_never_drawn_as_a_value(curves):
    smoothness = _panel(curves, "Smoothness")
    baseline = smoothness.get_lines()[0]
    values = dict(zip(baseline.get_xdata(), baseline.get_ydata()))
    assert math.isnan(values[1]) and values[2] == 0.5, f"the undefined evaluation at 1 kimg is drawn as {values[1]}"
    strips = [child for ax in curves.axes for child in ax.child_axes if child.get_ylabel() == "undef."]
    assert len(strips) == 1, "one strip: only Smoothness has an undefined evaluation"
    marked = [tuple(point) for c in strips[0].collections for point in c.get_offsets()]
    assert [x for x, _ in marked] == [1], f"undefined evaluations marked at {marked}, expected kimg 1"


def test_the_figure_names_scale_seeds_reporting_rule_and_commit(curves):
    footer = "\n".join(t.get_text() for t in curves.texts)
    # the tables' rule (the paper's last 20 of 256, as a fraction) on the trained cell's 3 evaluations
    expected = "scale quick; seeds 0; a cell's value: median of the last 1 of 3 evaluations; trained by commit abc1234"
    assert expected in footer.splitlines(), footer


def test_no_log_axis_for_a_quantity_that_is_not_positive(tmp_path, drawn):
    evals = [{"kimg": k, "loss_ae": v} for k, v in ((1, 1.0), (2, -0.5))]
    figures.training_curves_figure([_record(tmp_path / "a.json", "aae", "ok", evals)], tmp_path / "c.png")
    assert _panel(drawn[0], "autoencoder loss").get_yscale() == "symlog", "a negative loss would vanish on a log axis"


def test_figure_footers_read_the_tables_rule():
    """The footer names each cell's value as the tables read it: the config's rule, not a fixed one."""
    from acai_repro.report_rule import PAPER_RULE, ReportRule
    from acai_repro.reporting.figures import provenance_text

    evals = [{"images": 65536 * k, "mean_distance": 0.01} for k in range(1, 17)]
    record = {"status": "ok", "cell": {"seed": 0}, "spec": {"scale_name": "gpu-quick"}, "evals": evals}
    assert "median of the last 2 of 16 evaluations" in provenance_text([record], PAPER_RULE)
    assert "median of the last 4 of 16 evaluations" in provenance_text([record], ReportRule(4, None))
