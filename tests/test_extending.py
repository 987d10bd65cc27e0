"""A new model is one file: docs/extending.md's example module, put in a throw-away package
outside the product (named by ACAI_EXTRA_MODELS), validates, appears in the registry listing,
`grid cost`, the capture audit, trains at smoke scale into Table 1 and the figures, with its
title, while no file of this repository changes."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from acai_repro import figures
from acai_repro.config import ConfigError, load_config
from acai_repro.models import EXTRA_MODELS_ENV, MODELS, register
from tests.conftest import ROOT
from tests.test_figures import _texts
from tests.test_workflow import snakemake

DOC = ROOT / "docs" / "extending.md"
PAPER, SMOKE = ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml"
MODULE = "researcher_models.sparse"  # where the test puts the doc's example


def doc_example() -> str:
    """The one Python block of docs/extending.md: the complete model module."""
    [block] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    return block


def _repository_state() -> str | None:
    """git's view of the working tree; None in a copy without git (a release archive), where the
    check that the model touched no file of the repository is left out."""
    if not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


@pytest.fixture
def sparse(tmp_path, monkeypatch):
    """The doc's model registered from tmp_path/researcher_models/sparse.py, here and in every
    process the test starts; the registry and the repository are as before afterwards."""
    before = _repository_state()
    package = tmp_path / "researcher_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sparse.py").write_text(doc_example())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(EXTRA_MODELS_ENV, MODULE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    registry = dict(MODELS)
    assert register(MODULE) == ["sparse"]
    yield tmp_path
    MODELS.clear()
    MODELS.update(registry)
    for name in [m for m in sys.modules if m.split(".")[0] == "researcher_models"]:
        del sys.modules[name]
    assert _repository_state() == before, "the new model touched a file of the repository"


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def test_it_is_registered_after_the_papers_models_with_its_title_and_options(sparse):
    assert list(MODELS)[-1] == "sparse" and MODELS["sparse"].title == "Sparse AE"
    listing = _run("-m", "acai_repro.models")  # a new process: registered through the environment
    assert listing.returncode == 0, listing.stderr
    assert "sparse: Sparse AE (researcher_models.sparse)" in listing.stdout
    assert "| `sparse.weight` | `0.01` | weight of the L1 penalty on the code (number ≥ 0) |" in listing.stdout


def test_it_validates_with_its_defaults_and_as_strictly_as_the_papers_models(sparse):
    config = load_config(PAPER, SMOKE)
    assert config["models"]["sparse"] == {"weight": 0.01}
    for table in ("table1", "table2", "table3"):
        assert config[table]["models"][-1] == "sparse"  # every registered model by default
    bad = {"{wieght: 1}": ["'models.sparse.wieght' is unknown", "valid keys under 'models.sparse': weight"],
           "{weight: -1}": ["'models.sparse.weight'", "less than the minimum of 0"],
           "{weight: heavy}": ["'models.sparse.weight'", "is not of type number"]}  # fmt: skip
    for text, needles in bad.items():
        overlay = sparse / "bad.yaml"
        overlay.write_text(f"models: {{sparse: {text}}}")
        with pytest.raises(ConfigError) as error:
            load_config(PAPER, overlay)
        assert all(needle in str(error.value) for needle in needles), str(error.value)
    checked = _run("-m", "acai_repro.config", str(overlay))  # the check command, in a new process
    assert checked.returncode == 1 and "'models.sparse.weight'" in checked.stderr


@pytest.mark.slow  # a Snakemake dry run and the audit of every model: a minute or more on 2 cores
def test_grid_cost_estimates_it_from_its_rate_like_model_and_the_audit_captures_it(sparse):
    config = load_config(PAPER, SMOKE)
    cost = _run("-m", "acai_repro.grid", "cost", "--configfile", str(SMOKE), "--directory", str(sparse), "table1")
    assert cost.returncode == 0, cost.stderr
    cells = len(config["table1"]["models"]) * len(config["seeds"])
    assert f"training cells that would run: {cells}" in cost.stdout
    [line] = [line for line in cost.stdout.splitlines() if line.split()[:3] == ["lines", "64", "sparse"]]
    assert "ESTIMATE: sparse never measured; costed as baseline, measured [" in line
    audit = _run("-m", "acai_repro.graphs")
    assert audit.returncode == 0, audit.stderr
    assert re.search(r"^sparse\s+captures$", audit.stdout, re.M), audit.stdout


@pytest.mark.slow
def test_it_trains_at_smoke_scale_into_table1_and_the_figures(sparse, drawn):
    overlay = sparse / "two_models.yaml"  # Table 1 with the new model beside the Baseline only (time)
    overlay.write_text(yaml.safe_dump({"table1": {"models": ["baseline", "sparse"]}}))
    targets = ["results/smoke/table1.tex", "results/smoke/figures/fig3_lines_interpolations.png",
               "results/smoke/figures/training_curves_lines_dz64.png"]  # fmt: skip
    result = snakemake(sparse, *targets, configs=[overlay])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cell = sparse / "results/smoke/lines/sparse/dz64/seed0"
    assert yaml.safe_load((cell / "metrics.json").read_text())["spec"]["model_options"] == {"weight": 0.01}
    assert "Sparse AE" in (sparse / "results/smoke/table1.tex").read_text()
    for figure in targets[1:]:
        assert (sparse / figure).read_bytes()[:4] == b"\x89PNG"
    # The figures label it with its title (redrawn here to read the labels back).
    models = [sparse / f"results/smoke/lines/{m}/dz64/seed0/model.pt" for m in ("baseline", "sparse")]
    figures.lines_interpolation_figure(models, sparse / "fig3.png", load_config(PAPER)["figures"]["lines_endpoints"])
    figures.training_curves_figure([m.with_name("metrics.json") for m in models], sparse / "curves.png")
    assert "Sparse AE" in _texts(drawn[0]) and "Sparse AE s0" in _texts(drawn[1])


@pytest.fixture
def drawn(monkeypatch):
    kept = []
    monkeypatch.setattr(figures.plt, "close", kept.append)
    return kept


def test_a_copy_without_git_leaves_the_repository_check_out(tmp_path, monkeypatch):
    """A release archive has no .git: the fixture's before/after check is None == None there."""
    if (ROOT / ".git").exists():
        assert isinstance(_repository_state(), str), "in a git checkout the check runs"
    monkeypatch.setitem(_repository_state.__globals__, "ROOT", tmp_path)  # this module's ROOT
    assert _repository_state() is None
