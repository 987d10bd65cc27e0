"""The model registry finds the models by itself, in their declared order, and refuses what
would break the workflow (a taken or unusable name, an extra module without a model)."""

import os
import subprocess
import sys

import pytest

from acai_repro.models import EXTRA_MODELS_ENV, MODELS, model_classes, register, title_of
from acai_repro.models.__main__ import BEGIN, END, README, option_rows
from acai_repro.models.base import AutoEncoder
from acai_repro.nets import Architecture
from tests.conftest import ROOT

SMALL = Architecture(colors=1, depth=4, latent_width=2, latent_channels=4)

PAPER_MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]  # the paper's column order


def test_the_package_modules_are_found_in_the_papers_order():
    # Other models may sit among or after them (a model's `order` places it).
    found = [name for name in MODELS if name in PAPER_MODELS]
    assert found == PAPER_MODELS, f"the paper's models were registered in the order {found}"
    modules = {name: MODELS[name].__module__ for name in PAPER_MODELS}
    assert all(module == f"acai_repro.models.{name}" for name, module in modules.items()), modules
    titles = [title_of(m) for m in PAPER_MODELS]
    assert titles == ["Baseline", "Denoising", "VAE", "AAE", "VQ-VAE", "ACAI"], titles
    assert title_of("pixels") == "pixels"  # not a model: unchanged


def _readme_rows() -> dict[str, list[str]]:
    """config/README.md's generated option rows, per model they document."""
    text = README.read_text()
    block = text[text.index(BEGIN) + len(BEGIN) : text.index(END)]
    rows: dict[str, list[str]] = {}
    for row in block.strip().splitlines()[2:]:  # after the header and its rule
        model = row.split("`")[1].split(".")[0]
        rows.setdefault(model, []).append(row)
    return rows


def test_config_readme_documents_the_options_of_the_models_it_lists():
    # A model it does not list yet (a new file) is documented by `python -m acai_repro.models`.
    listed = _readme_rows()
    unknown = sorted(set(listed) - set(MODELS))
    assert not unknown, (
        f"config/README.md documents unregistered models {unknown}: run python -m acai_repro.models --readme"
    )
    stale = [name for name, rows in listed.items() if rows != option_rows(name, MODELS[name])]
    assert not stale, (
        f"config/README.md's rows of {stale} differ from their OPTIONS: run python -m acai_repro.models --readme"
    )
    order = [name for name in MODELS if name in listed]
    assert list(listed) == order, f"config/README.md lists {list(listed)}, the registry's order is {order}"
    assert set(PAPER_MODELS) <= set(listed), (
        f"config/README.md lacks paper models: {sorted(set(PAPER_MODELS) - set(listed))}"
    )


def test_a_model_fills_its_own_defaults_and_refuses_an_unknown_option():
    assert MODELS["acai"].filled_options({"gamma": 0.3}) == {"lambda": 0.5, "gamma": 0.3}
    assert list(MODELS["vqvae"].filled_options({"epsilon": 1.0, "variant": "whole"}))[:2] == ["variant", "slices"]
    with pytest.raises(ValueError, match=r"models.acai: unknown options \['lamda'\]; valid: lambda, gamma"):
        MODELS["acai"].filled_options({"lamda": 0.5})


@pytest.fixture
def registry():
    """MODELS as it was, after the test."""
    saved = dict(MODELS)
    yield MODELS
    MODELS.clear()
    MODELS.update(saved)


def _module(tmp_path, monkeypatch, name, text):
    (tmp_path / f"{name}.py").write_text("from acai_repro.models.base import AutoEncoder\n\n" + text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_a_registered_module_joins_in_its_order(tmp_path, monkeypatch, registry):
    early = _module(
        tmp_path, monkeypatch, "early_model", 'class Early(AutoEncoder):\n    name = "early"\n    order = 15\n'
    )
    assert register(early) == ["early"]
    assert list(MODELS)[:3] == ["baseline", "early", "denoising"], list(MODELS)
    assert title_of("early") == "early"  # no title: its name


def test_a_subclass_inherits_behaviour_but_not_its_parents_title_or_place(tmp_path, monkeypatch, registry):
    text = 'from acai_repro.models.vae import VAE\n\nclass Beta(VAE):\n    name = "beta_sub"\n'
    assert register(_module(tmp_path, monkeypatch, "beta_sub_model", text)) == ["beta_sub"]
    beta = MODELS["beta_sub"]
    assert (title_of("beta_sub"), beta.order) == ("beta_sub", 1000), "identity is the class's own"
    names = list(MODELS)
    assert names.index("beta_sub") > max(names.index(m) for m in PAPER_MODELS), names
    assert beta.rate_like == "vae", "costed at its parent's rate until measured"
    assert beta.OPTIONS is MODELS["vae"].OPTIONS
    options = {"latent": "mean"}
    assert beta(SMALL, options).latent_kind == "mean" and beta(SMALL).latent_kind == "sample"
    assert MODELS["baseline"].rate_like == "baseline" and MODELS["vqvae"].rate_like == "baseline"


@pytest.mark.parametrize(
    "text,error",
    [
        (
            'class Copy(AutoEncoder):\n    name = "acai"\n',
            "model name 'acai' is already taken by acai_repro.models.acai",
        ),
        ('class Bad(AutoEncoder):\n    name = "My-Model"\n', "model name 'My-Model' must match"),
        ('class Pix(AutoEncoder):\n    name = "pixels"\n', "not be one of pixels"),
        ("class Helper:\n    pass\n", "defines no model"),
    ],
)
def test_an_unusable_model_module_is_refused_by_name(tmp_path, monkeypatch, registry, text, error):
    with pytest.raises(ValueError, match=error):
        register(_module(tmp_path, monkeypatch, "bad_model", text))
    assert list(MODELS) == list(registry)


def test_only_classes_that_set_their_own_name_are_models(tmp_path, monkeypatch):
    name = _module(
        tmp_path,
        monkeypatch,
        "mixed_model",
        "from acai_repro.models.acai import ACAI\n\nclass Plain(AutoEncoder):\n    pass\n\n"
        'class Mine(AutoEncoder):\n    name = "mine"\n',
    )
    module = __import__(name)
    assert [cls.__name__ for cls in model_classes(module)] == ["Mine"]  # ACAI is imported, Plain unnamed
    assert issubclass(module.Mine, AutoEncoder)


def test_an_extra_module_that_does_not_import_names_the_variable():
    env = dict(os.environ, **{EXTRA_MODELS_ENV: "no_such_package.model"})
    result = subprocess.run(
        [sys.executable, "-c", "import acai_repro.models"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"{EXTRA_MODELS_ENV}: cannot import 'no_such_package.model'" in result.stderr
