"""The model registry finds the models by itself, in their declared order, and refuses what
would break the workflow (a taken or unusable name, an extra module without a model)."""

import os
import subprocess
import sys

import pytest

from acai_repro.models import EXTRA_MODELS_ENV, MODELS, model_classes, register, title_of
from acai_repro.models.__main__ import README, readme_block
from acai_repro.models.base import AutoEncoder
from tests.conftest import ROOT

PAPER_MODELS = ["baseline", "denoising", "vae", "aae", "vqvae", "acai"]  # the paper's column order


def test_the_package_modules_are_found_in_the_papers_order():
    assert list(MODELS)[: len(PAPER_MODELS)] == PAPER_MODELS
    assert all(MODELS[name].__module__ == f"acai_repro.models.{name}" for name in PAPER_MODELS)
    assert [title_of(m) for m in PAPER_MODELS] == ["Baseline", "Denoising", "VAE", "AAE", "VQ-VAE", "ACAI"]
    assert title_of("pixels") == "pixels"  # not a model: unchanged


def test_config_readme_lists_every_registered_models_options():
    assert readme_block() in README.read_text(), "run: python -m acai_repro.models --readme"


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
    early = _module(tmp_path, monkeypatch, "early_model", 'class Early(AutoEncoder):\n    name = "early"\n    order = 15\n')
    assert register(early) == ["early"]
    assert list(MODELS)[:3] == ["baseline", "early", "denoising"]
    assert title_of("early") == "early"  # no title: its name


@pytest.mark.parametrize(
    "text,error",
    [
        ('class Copy(AutoEncoder):\n    name = "acai"\n', "model name 'acai' is already taken by acai_repro.models.acai"),
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
    name = _module(tmp_path, monkeypatch, "mixed_model",
                   'from acai_repro.models.acai import ACAI\n\nclass Plain(AutoEncoder):\n    pass\n\n'
                   'class Mine(AutoEncoder):\n    name = "mine"\n')  # fmt: skip
    module = __import__(name)
    assert [cls.__name__ for cls in model_classes(module)] == ["Mine"]  # ACAI is imported, Plain unnamed
    assert issubclass(module.Mine, AutoEncoder)


def test_an_extra_module_that_does_not_import_names_the_variable():
    env = dict(os.environ, **{EXTRA_MODELS_ENV: "no_such_package.model"})
    result = subprocess.run([sys.executable, "-c", "import acai_repro.models"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert result.returncode != 0
    assert f"{EXTRA_MODELS_ENV}: cannot import 'no_such_package.model'" in result.stderr
