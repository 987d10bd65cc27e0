"""The figures the README and the docs show are committed PNGs of a result set, stamped with
that set's provenance, from code whose fingerprint is the current one (or said to be older)."""

import json
import re
import shutil
from pathlib import Path

import pytest

from acai_repro.provenance.doc_quotes import docs
from acai_repro.provenance.fingerprint import read_committed
from acai_repro.reporting import figure_sets

ROOT = Path(__file__).resolve().parent.parent
SHOWN = {  # the figures the results page must show, each beside its table (links relative to docs/)
    "quick-table1-results/figures/training_curves_lines_dz64.png",
    "quick-table1-results/figures/fig3_lines_interpolations.png",
    "quick-table1-results/figures/fig5_vae_samples.png",
    "quick-tables23-results/figures/interpolations_mnist_dz32.png",
    "quick-tables23-results/figures/training_curves_mnist_dz32.png",
    "quick-tables23-results/figures/training_curves_mnist_dz256.png",
    "gpu-quick-results/figures/training_curves_lines_dz64.png",
}


@pytest.mark.parametrize(
    "page", ["README.md", *(p.relative_to(ROOT).as_posix() for p in docs(ROOT) if p.name != "README.md")]
)
def test_every_linked_figure_is_committed_stamped_and_current(page):
    problems = figure_sets.linked_figure_problems(ROOT / page, ROOT)
    assert problems == [], "\n".join(problems)


def test_the_results_page_shows_the_figures_of_the_runs_it_quotes():
    linked = set(figure_sets.IMAGE_LINK.findall((ROOT / "docs/results.md").read_text()))
    assert SHOWN <= linked, f"not shown: {sorted(SHOWN - linked)}"


def test_the_readme_opens_with_fig3():
    linked = figure_sets.IMAGE_LINK.findall((ROOT / "README.md").read_text())
    assert linked[:1] == ["docs/quick-table1-results/figures/fig3_lines_interpolations.png"], linked


# ---- Known-good and known-bad pages, in a copy of one result set ----
SET = "docs/quick-table1-results"
FIGURE = f"{SET}/figures/training_curves_lines_dz64.png"


@pytest.fixture
def repo(tmp_path):
    """A result set with its provenance and its stamped figure, under a temporary root."""
    (tmp_path / SET / "figures").mkdir(parents=True)
    for name in ("provenance.json", "figures/training_curves_lines_dz64.png"):
        shutil.copy2(ROOT / SET / name, tmp_path / SET / name)
    return tmp_path


def _page(root, text):
    page = root / "README.md"
    page.write_text(text)
    return page


def _problems(root, text, committed=None):
    return figure_sets.linked_figure_problems(_page(root, text), root, committed or read_committed())


MOVED = {"platforms": {}}  # fingerprints of code that computes none of the set's models as it did


def test_a_stamped_figure_of_a_current_set_passes(repo):
    assert _problems(repo, f"Curves:\n\n![curves]({FIGURE})\n") == []


def test_a_missing_figure_fails(repo):
    problems = _problems(repo, f"![fig3]({SET}/figures/fig3_lines_interpolations.png)\n")
    assert len(problems) == 1 and "not committed" in problems[0], problems


def test_a_figure_outside_any_result_set_fails(repo):
    shutil.copy2(repo / FIGURE, repo / "loose.png")
    problems = _problems(repo, "![x](loose.png)\n")
    assert len(problems) == 1 and "no result set" in problems[0], problems


def test_a_figure_stamped_by_another_run_fails(repo):
    record = json.loads((repo / SET / "provenance.json").read_text())
    (repo / SET / "provenance.json").write_text(json.dumps(dict(record, commit="1234567")))
    problems = _problems(repo, f"![curves]({FIGURE})\n")
    assert len(problems) == 1 and "stamped" in problems[0] and "1234567" in problems[0], problems


def test_a_figure_of_a_set_from_older_code_needs_the_marker(repo):
    commit = json.loads((repo / SET / "provenance.json").read_text())["commit"]
    stale = _problems(repo, f"![curves]({FIGURE})\n", committed=MOVED)
    assert len(stale) == 1 and "older code" in stale[0], stale
    marked = f"Produced by commit {commit} (older code):\n![curves]({FIGURE})\n"
    assert _problems(repo, marked, committed=MOVED) == []
    assert _problems(repo, marked), "a marker on a current set is not flagged"


def test_an_oversized_figure_fails(repo, monkeypatch):
    monkeypatch.setattr(figure_sets, "MAX_BYTES", 100)
    problems = _problems(repo, f"![curves]({FIGURE})\n")
    assert len(problems) == 1 and "bytes" in problems[0], problems


def test_links_are_read_as_markdown_images_only():
    text = "![a](x/a.png) [not an image](x/b.png) ![c](x/c.jpg) ![d](x/d.png)"
    assert figure_sets.IMAGE_LINK.findall(text) == ["x/a.png", "x/d.png"]
    assert re.search(figure_sets.IMAGE_LINK, "![](docs/x-results/figures/y.png)")
