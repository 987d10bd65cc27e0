"""A new model is one file: docs/extending.md's example module (a β-VAE, a subclass of the VAE),
placed both ways the doc describes: in the package's own folder (acai_repro/models/, in a
temporary copy of the tree) and outside the product (named by ACAI_EXTRA_MODELS). Either way it
appears in the registry listing with its title and options, validates as strictly as the
paper's models, joins the tables after them, inherits the VAE's behaviour (its latent kind,
`grid cost`'s stand-in rate), is captured by the audit, and trains at smoke scale into Table 1
and the figures, while no file of this repository changes."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from acai_repro.config import load_config
from acai_repro.models import EXTRA_MODELS_ENV, MODELS, register
from acai_repro.reporting import figures
from acai_repro.reporting.tables import latex_text
from tests.conftest import ROOT
from tests.test_figures import _texts
from tests.test_workflow import snakemake

DOC = ROOT / "docs" / "extending.md"
PAPER, SMOKE = ROOT / "config" / "config.yaml", ROOT / "config" / "smoke.yaml"
NAME, TITLE = "betavae", "β-VAE"  # the doc's example
MODULE = "researcher_models.betavae"  # where the test puts it outside the product
PAPER_MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]
# What the package's copy needs to run the workflow's commands.
TREE = ("acai_repro", "config", "rules", "scripts", "benchmarks", "profiles", "Snakefile")


def doc_example() -> str:
    """The one Python block of docs/extending.md: the complete model module."""
    [block] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    return block


def _repository_state() -> str | None:
    """git's view of the working tree; None in a copy without git (a release archive), where the
    check that the model touched no file of the repository is left out."""
    if not (ROOT / ".git").exists():
        return None
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


class Placed:
    """Where the model lives for one test: the tree commands run in, their environment, the
    model's module and name."""

    def __init__(self, root, env, module, tmp, name=NAME):
        self.root, self.env, self.module, self.tmp, self.name = root, env, module, tmp, name

    def run(self, *args, timeout=300):
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, cwd=self.root, env=self.env, timeout=timeout
        )

    def config(self, *overlays) -> dict:
        """The configuration as a new process of this tree loads it (its registry included)."""
        code = (
            "import json, sys; from acai_repro.config import load_config; print(json.dumps(load_config(*sys.argv[1:])))"
        )
        paths = [str(self.root / "config" / "config.yaml"), *map(str, overlays)]
        loaded = self.run("-c", code, *paths)
        assert loaded.returncode == 0, loaded.stderr
        return json.loads(loaded.stdout)


def _in_the_package(tmp_path) -> Placed:
    """A copy of the tree with the doc's module as acai_repro/models/betavae.py."""
    tree = tmp_path / "tree"
    for name in TREE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, tree / name)
    (tree / "acai_repro" / "models" / f"{NAME}.py").write_text(doc_example())
    env = {key: value for key, value in os.environ.items() if key != EXTRA_MODELS_ENV}
    return Placed(tree, dict(env, PYTHONPATH=str(tree)), f"acai_repro.models.{NAME}", tmp_path)


def _outside(tmp_path, monkeypatch) -> Placed:
    """The doc's module in tmp_path/researcher_models/, named by ACAI_EXTRA_MODELS, here and in
    every process the test starts. Once the example is in the product (the doc's first way),
    its name is taken: the copy kept apart is then renamed."""
    name = NAME if NAME not in MODELS else f"{NAME}_apart"
    package = tmp_path / "researcher_models"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / f"{NAME}.py").write_text(doc_example().replace(f'name = "{NAME}"', f'name = "{name}"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(EXTRA_MODELS_ENV, MODULE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    return Placed(ROOT, dict(os.environ), MODULE, tmp_path, name)


@pytest.fixture(params=["package", "extra"])
def placed(request, tmp_path, monkeypatch):
    """The doc's model in the package's folder (of a copy) or outside it; this process's
    registry (for `extra`) and the repository are as before afterwards."""
    before = _repository_state()
    registry = dict(MODELS)
    if request.param == "package":
        yield _in_the_package(tmp_path)
    else:
        where = _outside(tmp_path, monkeypatch)
        assert register(MODULE) == [where.name]
        yield where
    MODELS.clear()
    MODELS.update(registry)
    for name in [m for m in sys.modules if m.split(".")[0] == "researcher_models"]:
        del sys.modules[name]
    assert _repository_state() == before, "the new model touched a file of the repository"


@pytest.fixture
def outside(tmp_path, monkeypatch):
    """The doc's model outside the product, registered in this process too (the workflow test)."""
    before = _repository_state()
    registry = dict(MODELS)
    where = _outside(tmp_path, monkeypatch)
    assert register(MODULE) == [where.name]
    yield where
    MODELS.clear()
    MODELS.update(registry)
    for name in [m for m in sys.modules if m.split(".")[0] == "researcher_models"]:
        del sys.modules[name]
    assert _repository_state() == before, "the new model touched a file of the repository"


def test_it_is_listed_with_its_title_and_options(placed):
    listing = placed.run("-m", "acai_repro.models")  # a new process: the registry of that tree
    assert listing.returncode == 0, listing.stderr
    assert f"{placed.name}: {TITLE} ({placed.module})" in listing.stdout, listing.stdout
    row = f"| `{placed.name}.beta` | `4.0` | weight of the KL term (number ≥ 0) |"
    assert row in listing.stdout, f"{row!r} not in:\n{listing.stdout}"
    assert f"| `{placed.name}.latent` | `sample` |" in listing.stdout, "the VAE's other option is inherited"


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_it_joins_every_table_after_the_papers_models_and_validates_as_strictly(placed):
    config = placed.config(placed.root / "config" / "smoke.yaml")
    assert config["models"][placed.name] == {"beta": 4.0, "latent": "sample"}, config["models"][placed.name]
    for table in ("table1", "table2", "table3"):
        models = config[table]["models"]  # every registered model by default
        assert models[: len(PAPER_MODELS)] == PAPER_MODELS and placed.name in models, f"{table}: {models}"
    bad = {
        "{btea: 1}": [
            f"'models.{placed.name}.btea' is unknown",
            f"valid keys under 'models.{placed.name}': beta, latent",
        ],
        "{beta: -1}": [f"'models.{placed.name}.beta'", "less than the minimum of 0"],
        "{latent: median}": [f"'models.{placed.name}.latent': unknown value 'median'; valid: sample, mean"],
    }
    for text, needles in bad.items():
        overlay = placed.tmp / "bad.yaml"
        overlay.write_text(f"models: {{{placed.name}: {text}}}")
        checked = placed.run("-m", "acai_repro.config", str(overlay))  # the check command
        assert checked.returncode == 1, checked.stdout
        assert all(needle in checked.stderr for needle in needles), f"{needles} not all in: {checked.stderr}"


def test_it_inherits_the_vaes_behaviour_not_its_identity(placed):
    code = (
        f"from acai_repro.models import MODELS; m = MODELS[{placed.name!r}]; "
        "print(m.title, m.order, m.rate_like, m.latent_kind.fget.__qualname__)"
    )
    shown = placed.run("-c", code)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [TITLE, "1000", "vae", "VAE.latent_kind"], shown.stdout


@pytest.mark.slow  # a Snakemake dry run and the audit of every model: a minute or more on 2 cores
def test_grid_cost_estimates_it_from_its_parents_rate_and_the_audit_captures_it(placed):
    config = placed.config(placed.root / "config" / "smoke.yaml")
    smoke = placed.root / "config" / "smoke.yaml"
    cost = placed.run(
        "-m", "acai_repro.grid", "cost", "--configfile", str(smoke), "--directory", str(placed.tmp), "table1"
    )
    assert cost.returncode == 0, cost.stderr
    cells = len(config["table1"]["models"]) * len(config["seeds"])
    assert f"training cells that would run: {cells}" in cost.stdout, cost.stdout
    [line] = [line for line in cost.stdout.splitlines() if line.split()[:3] == ["lines", "64", placed.name]]
    assert f"ESTIMATE: {placed.name} never measured; costed as vae, measured " in line, line
    audit = placed.run("-m", "acai_repro.cuda_graphs")
    assert audit.returncode == 0, audit.stderr
    assert re.search(rf"^{placed.name}\s+captures$", audit.stdout, re.M), audit.stdout


@pytest.mark.slow
def test_it_trains_at_smoke_scale_into_table1_and_the_figures(outside, drawn):
    overlay = outside.tmp / "two_models.yaml"  # Table 1 with the new model beside the Baseline only (time)
    overlay.write_text(yaml.safe_dump({"table1": {"models": ["baseline", outside.name]}}))
    targets = [
        "results/smoke/table1.tex",
        "results/smoke/figures/fig3_lines_interpolations.png",
        "results/smoke/figures/training_curves_lines_dz64.png",
    ]
    result = snakemake(outside.tmp, *targets, configs=[overlay])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cell = outside.tmp / f"results/smoke/lines/{outside.name}/dz64/seed0"
    options = yaml.safe_load((cell / "metrics.json").read_text())["spec"]["model_options"]
    assert options == {"beta": 4.0, "latent": "sample"}, options
    tex = (outside.tmp / "results/smoke/table1.tex").read_text()
    assert latex_text(TITLE) in tex, f"the table's column {latex_text(TITLE)!r} (the escaped title) is missing"
    for figure in targets[1:]:
        assert (outside.tmp / figure).read_bytes()[:4] == b"\x89PNG", figure
    # The figures label it with its title (redrawn here to read the labels back).
    models = [outside.tmp / f"results/smoke/lines/{m}/dz64/seed0/model.pt" for m in ("baseline", outside.name)]
    figures.lines_interpolation_figure(
        models, outside.tmp / "fig3.png", load_config(PAPER)["figures"]["lines_endpoints"]
    )
    figures.training_curves_figure([m.with_name("metrics.json") for m in models], outside.tmp / "curves.png")
    assert TITLE in _texts(drawn[0]) and TITLE in _texts(drawn[1]), (
        _texts(drawn[0]),
        _texts(drawn[1]),
    )  # Fig. 3 row, curves legend


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
