import copy
import subprocess
import sys

import pytest
import yaml

from acai_repro.config import ConfigError, cell_spec, spec_digest, validate_config
from tests.conftest import ROOT


def _broken(config, path, value=None, delete=False):
    config = copy.deepcopy(config)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return config


BAD_INPUTS = [
    ("table1.models", ["baseline", "gan"], "table1.models.1", "baseline, denoising, vae"),
    ("table1.dataset", "imagenet", "table1.dataset", "lines"),
    ("training.batch_size", 0, "training.batch_size", "minimum"),
    ("training.total_images", -64, "training.total_images", "minimum"),
    ("training.learning_rate", 0, "training.learning_rate", ""),
    ("table1.dz", 60, "table1.dz", "multiple of latent_width"),
    ("training.batch_size", 48, "training.total_images", "not divisible"),
    ("evaluation.lines.interpolation_pairs", 3000, "evaluation.lines.interpolation_pairs", "test_lines"),
    ("device", "tpu", "device", "auto"),
    ("seeds", [], "seeds", ""),
    ("table2.cells", [["imagenet", 32]], "table2.cells.0", "valid datasets: mnist"),
    ("table3.cells", [["mnist", 30]], "table3.cells.0", "multiple of latent_width"),
    ("clustering.restarts", 0, "clustering.restarts", "minimum"),
]


@pytest.mark.parametrize("path,value,key,hint", BAD_INPUTS)
def test_bad_values_are_rejected_naming_the_key(paper_config, path, value, key, hint):
    with pytest.raises(ConfigError) as error:
        validate_config(_broken(paper_config, path, value))
    assert f"'{key}" in str(error.value)
    assert hint in str(error.value)


@pytest.mark.parametrize(
    "path", ["training.batch_size", "table1", "models", "evaluation.lines.references", "clustering.k", "data"]
)
def test_missing_keys_are_named(paper_config, path):
    with pytest.raises(ConfigError, match=f"'{path}' is missing"):
        validate_config(_broken(paper_config, path, delete=True))


def test_missing_model_options_are_named(paper_config):
    config = copy.deepcopy(paper_config)
    del config["models"]["acai"]
    with pytest.raises(ConfigError, match="'models.acai' is missing"):
        validate_config(config)


def test_shipped_configurations_are_valid(paper_config, smoke_config):
    assert paper_config["training"]["total_images"] == 2**24
    assert paper_config["training"]["batch_size"] == 64
    assert paper_config["seeds"] == [0, 1, 2]
    assert smoke_config["training"]["total_images"] < 2**12


def test_cell_spec_resolves_the_architecture(paper_config):
    acai = cell_spec(paper_config, "lines", "acai", 64, 0)
    vq = cell_spec(paper_config, "lines", "vqvae", 64, 0)
    assert acai["architecture"] == {"colors": 1, "depth": 16, "latent_width": 2, "latent_channels": 16}
    assert vq["architecture"]["latent_width"] == 4 and vq["architecture"]["latent_channels"] == 4
    assert acai["model_options"] == {"lambda": 0.5, "gamma": 0.2}


def test_digest_ignores_reporting_settings_only(paper_config):
    spec = cell_spec(paper_config, "lines", "acai", 64, 0)
    slower_progress = copy.deepcopy(spec)
    slower_progress["training"]["progress_seconds"] = 300
    other_lr = copy.deepcopy(spec)
    other_lr["training"]["learning_rate"] = 1e-3
    assert spec_digest(spec) == spec_digest(slower_progress)
    assert spec_digest(spec) != spec_digest(other_lr)


def test_snakemake_rejects_bad_config_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"training": {"batch_size": 48}}))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad),
         "--directory", str(tmp_path / "work"), "--snakefile", str(ROOT / "Snakefile")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "training.total_images" in result.stdout + result.stderr
    assert not (tmp_path / "work" / "results").exists()
