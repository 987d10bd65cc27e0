import copy
import shutil
import subprocess
import sys

import pytest
import yaml

from acai_repro.config import (
    RUN_SETTINGS,
    ConfigError,
    cell_spec,
    load_config,
    load_schema,
    spec_digest,
    validate_config,
    with_run_settings,
)
from acai_repro.models import MODELS
from tests.conftest import ROOT

PAPER = ROOT / "config" / "config.yaml"


def _overlay(tmp_path, text, name="overlay.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


# (overlay on config.yaml, the key the error must name, a hint it must give)
MALFORMED = [
    ("trainnig: {batch_size: 32}", "'trainnig' is unknown", "valid keys at the top level: seeds, device"),
    ("models: {acai: {lamda: 0.25}}", "'models.acai.lamda' is unknown", "lambda, gamma"),
    ("training: {batchsize: 32}", "'training.batchsize' is unknown", "batch_size"),
    ("evaluation: {lines: {test_line: 10}}", "'evaluation.lines.test_line' is unknown", "test_lines"),
    ("datasets: {mnist: {color: 1}}", "'datasets.mnist.color' is unknown", "colors"),
    ("resources: {train: {gpus: 2}}", "'resources.train.gpus' is unknown", "valid keys under 'resources.train': gpu, "),
    ("models: {gan: {}}", "'models.gan' is unknown", "baseline, denoising, vae, aae, vqvae, acai"),
    ("data: {sources: {mnist: {md5: 0123456789abcdef0123456789abcdef}}}", "'data.sources.mnist.md5' is unknown",
     "path"),
    ("models: {vae: {latent: median}}", "'models.vae.latent'", "valid: sample, mean"),
    ("device: tpu", "'device'", "valid: auto, cpu, cuda"),
    ("clustering: {backend: gpu}", "'clustering.backend'", "valid: auto, elkan, torch, sklearn"),
    ("models: {vqvae: {variant: full}}", "'models.vqvae.variant'", "valid: slices, whole"),
    ("training: {cuda_graphs: on}", "'training.cuda_graphs'", "valid: auto, off"),  # YAML reads `on` as true
    ("tables: {std_ddof: 2}", "'tables.std_ddof'", "valid: 0, 1"),
    ("training: {batch_size: 64.0}", "'training.batch_size'", "not of type integer"),
    ("training: {learning_rate: .nan}", "'training.learning_rate'", "not of type number (finite)"),
    ("training: {learning_rate: 1e-4}", "'training.learning_rate'", "'1e-4' is not of type number"),
    ("training: 5", "'training'", "not of type object"),
    ("models: {acai: {lambda: -0.5}}", "'models.acai.lambda'", "less than the minimum of 0"),
    ("models: {acai: {gamma: 1.5}}", "'models.acai.gamma'", "greater than the maximum of 1"),
    ("training: {report_last: 300}", "'training.report_last'", "more than the 256 evaluations"),
    ("training: {total_images: 1000}", "'training.total_images'", "not divisible by training.batch_size"),
    ("seeds: [0, 0]", "'seeds'", "non-unique"),
    ("table1: {models: [baseline, gan]}", "'table1.models.1'", "valid: baseline, denoising"),
    ("table2: {cells: [[imagenet, 32]]}", "'table2.cells.0'", "unknown dataset 'imagenet'; valid datasets: mnist"),
    ("table3: {cells: [[mnist, 30]]}", "'table3.cells.0'", "multiple of latent_width"),
    ("datasets: {My_Data: {colors: 1, classes: 2, depth: 16, latent_width: 4}}", "'datasets'",
     "name 'My_Data' is not allowed"),
    ("figures: {seed: 7}", "'figures.seed'", "one of the configured seeds"),
    ("evaluation: {lines: {interpolation_pairs: 3000}}", "'evaluation.lines.interpolation_pairs'", "test_lines"),
]  # fmt: skip


@pytest.mark.parametrize("text,key,hint", MALFORMED, ids=[m[1] + " " + m[0][:24] for m in MALFORMED])
def test_malformed_configs_are_rejected_naming_the_key(tmp_path, text, key, hint):
    with pytest.raises(ConfigError) as error:
        load_config(PAPER, _overlay(tmp_path, text))
    assert key in str(error.value)
    assert hint in str(error.value)


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    broken = _overlay(tmp_path, "training:\n  batch_size: 32\n  eval_every: [1, 2\nseeds: [0]\n")
    with pytest.raises(ConfigError, match=r"YAML syntax error in .*overlay.yaml, line 4"):
        load_config(PAPER, broken)


def test_every_schema_error_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(PAPER, _overlay(tmp_path, "trainnig: {}\nmodels: {acai: {lamda: 1}}\ndevice: tpu"))
    for key in ("'trainnig'", "'models.acai.lamda'", "'device'"):
        assert key in str(error.value)


def test_required_keys_without_a_default_are_named(paper_config):
    for path in ("table2", "datasets.mnist.depth", "data.sources"):
        config = copy.deepcopy(paper_config)
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        del node[last]
        with pytest.raises(ConfigError, match=f"'{path}' is missing"):
            validate_config(config)


def test_config_yaml_spells_only_the_schema_defaults(paper_config):
    """Keys without a default, plus nothing else: the schema fills in exactly the paper."""
    written = yaml.safe_load(PAPER.read_text())
    minimal = {key: written[key] for key in ("table2", "table3", "datasets")}
    minimal["table1"] = {}
    minimal["data"] = {"sources": written["data"]["sources"]}
    assert validate_config(minimal) == paper_config


def test_config_yaml_leaves_model_options_and_lists_to_the_registry(paper_config):
    written = yaml.safe_load(PAPER.read_text())
    assert "models" not in written, "each model's module carries its defaults"
    assert all("models" not in written[table] for table in ("table1", "table2", "table3"))
    for table in ("table1", "table2", "table3"):
        assert paper_config[table]["models"] == list(MODELS)  # every registered model, in order
    assert paper_config["models"] == {name: cls.filled_options() for name, cls in MODELS.items()}


def test_defaults_are_filled_in_nested_objects(tmp_path):
    config = load_config(PAPER, _overlay(tmp_path, "models: {acai: {lambda: 0.25}}"))
    assert config["models"]["acai"] == {"lambda": 0.25, "gamma": 0.2}
    assert config["datasets"]["mnist"]["max_examples"] is None
    assert config["resources"]["evaluate"]["gpu"] == 0


def test_model_names_come_from_the_registry():
    schema = load_schema()
    assert schema["definitions"]["model_name"]["enum"] == list(MODELS)
    assert set(schema["properties"]["models"]["properties"]) == set(MODELS)


# The models section of config/schema.yaml before the models declared their own options
# (commit 69cf7be, $refs resolved, descriptions left out): the built one is as strict.
SCHEMA_MODELS_BEFORE = {
    "baseline": {},
    "denoising": {"noise_std": {"type": "number", "minimum": 0, "default": 1.0}},
    "vae": {"beta": {"type": "number", "minimum": 0, "default": 1.0},
            "latent": {"enum": ["sample", "mean"], "default": "sample"}},
    "aae": {"critic_width": {"type": "integer", "minimum": 1, "default": 100},
            "adversary_weight": {"type": "number", "minimum": 0, "default": 1.0}},
    "vqvae": {"codebook_size": {"type": "integer", "minimum": 1, "default": 16384},
              "commitment": {"type": "number", "minimum": 0, "default": 10.0},
              "decay": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.999},
              "epsilon": {"type": "number", "exclusiveMinimum": 0, "default": 1e-05},
              "variant": {"enum": ["slices", "whole"], "default": "slices"},
              "slices": {"type": "integer", "minimum": 1, "default": 10},
              "mlp_width": {"type": "integer", "minimum": 1, "default": 512}},
    "acai": {"lambda": {"type": "number", "minimum": 0, "default": 0.5},
             "gamma": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2}},
}  # fmt: skip


def test_the_models_section_is_built_from_the_model_declarations_as_strict_as_before():
    built = load_schema()["properties"]["models"]
    assert built["additionalProperties"] is False and built["default"] == {}
    for name, options in SCHEMA_MODELS_BEFORE.items():
        model = built["properties"][name]
        assert model["additionalProperties"] is False and model["default"] == {}
        without_descriptions = {
            key: {k: v for k, v in option.items() if k != "description"} for key, option in model["properties"].items()
        }
        assert without_descriptions == options, name
        assert all(option["description"] for option in model["properties"].values())


def test_cell_spec_holds_what_determines_the_result_only(paper_config):
    acai = cell_spec(paper_config, "lines", "acai", 64, 0)
    vq = cell_spec(paper_config, "lines", "vqvae", 256, 0)
    assert acai["architecture"] == {"colors": 1, "depth": 16, "latent_width": 2, "latent_channels": 16}
    assert vq["architecture"]["latent_width"] == 4 and vq["architecture"]["latent_channels"] == 16
    assert acai["model_options"] == {"lambda": 0.5, "gamma": 0.2}
    assert "device" not in acai
    assert not set(RUN_SETTINGS) & set(acai["training"])


def test_the_job_gets_the_run_settings_back(paper_config):
    config = copy.deepcopy(paper_config)
    config["device"], config["training"]["progress_seconds"] = "cpu", 7
    spec = with_run_settings(cell_spec(config, "lines", "acai", 64, 0), config)
    assert spec["device"] == "cpu" and spec["training"]["progress_seconds"] == 7
    assert set(RUN_SETTINGS) <= set(spec["training"])


def test_digest_ignores_run_settings_only(paper_config):
    spec = with_run_settings(cell_spec(paper_config, "lines", "acai", 64, 0), paper_config)
    moved = copy.deepcopy(spec)
    moved["device"] = "cuda"
    moved["training"].update(progress_seconds=300, checkpoint_minutes=1, check_every=8, cuda_graphs="off")
    other_lr = copy.deepcopy(spec)
    other_lr["training"]["learning_rate"] = 1e-3
    assert spec_digest(spec) == spec_digest(moved) == spec_digest(cell_spec(paper_config, "lines", "acai", 64, 0))
    assert spec_digest(spec) != spec_digest(other_lr)


@pytest.mark.parametrize("dataset,dz", [("imagenet", 32), ("lines", 0), ("lines", 62)])
def test_bad_cells_are_rejected_by_name(paper_config, dataset, dz):
    with pytest.raises(ConfigError, match=dataset if dataset == "imagenet" else f"dz={dz}"):
        cell_spec(paper_config, dataset, "acai", dz, 0)


def test_check_command_names_file_and_line(tmp_path):
    broken = _overlay(tmp_path, "seeds: [0\n")
    result = subprocess.run(
        [sys.executable, "-m", "acai_repro.config", str(broken)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1
    assert f"{broken}, line 2" in result.stderr and "Traceback" not in result.stderr


# Through Snakemake: rejected while the Snakefile is parsed, before any job, with the key named
# and no Python traceback.
def _dry_run(tmp_path, *configs, snakefile=ROOT / "Snakefile"):
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile", str(snakefile),
               "--directory", str(tmp_path / "work")]  # fmt: skip
    if configs:
        command += ["--configfile", *map(str, configs)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    "text,key",
    [
        ("models: {acai: {lamda: 0.25}}", "config key 'models.acai.lamda' is unknown"),
        ("training: {batch_size: 64.0}", "config key 'training.batch_size'"),
        ("training: {report_last: 300}", "config key 'training.report_last'"),
        ("table2: {cells: [[imagenet, 32]]}", "config key 'table2.cells.0'"),
    ],
)
def test_snakemake_rejects_bad_config_before_any_job(tmp_path, text, key):
    result = _dry_run(tmp_path, _overlay(tmp_path, text))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "invalid configuration: " + key in output
    assert "Traceback" not in output
    assert not (tmp_path / "work" / "results").exists()


def test_snakemake_names_file_and_line_of_a_broken_workflow_config(tmp_path):
    """A syntax error in config/config.yaml (the workflow's own file). Snakemake itself reads
    the --configfile overlays, before the workflow runs, and names neither: docs say to use
    `python -m acai_repro.config` (tested above)."""
    copy_dir = tmp_path / "workflow"
    shutil.copytree(ROOT, copy_dir, ignore=shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "tests"))
    paper = copy_dir / "config" / "config.yaml"
    paper.write_text(paper.read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2", 1))
    result = _dry_run(tmp_path, snakefile=copy_dir / "Snakefile")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"YAML syntax error in {paper}, line" in output
    assert "Traceback" not in output


def test_configfiles_given_after_one_flag_layer(tmp_path):
    """`--configfile a.yaml b.yaml` layers both (each alone is invalid, together valid);
    `--configfile=a.yaml --configfile=b.yaml` keeps only b.yaml in Snakemake 9."""
    smoke = ROOT / "config" / "smoke.yaml"
    a = _overlay(tmp_path, "seeds: [5]", "a.yaml")
    b = _overlay(tmp_path, "figures: {seed: 5}", "b.yaml")
    layered = _dry_run(tmp_path, smoke, a, b)
    assert layered.returncode == 0, layered.stderr[-2000:]
    separate = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(tmp_path / "work"), f"--configfile={a}", f"--configfile={b}"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert separate.returncode != 0
    assert "config key 'figures.seed'" in separate.stdout + separate.stderr  # a.yaml was dropped


def test_a_source_for_an_unconfigured_dataset_is_named(paper_config):
    config = copy.deepcopy(paper_config)
    config["data"]["sources"]["mnsit"] = config["data"]["sources"]["mnist"]
    with pytest.raises(ConfigError, match="'data.sources.mnsit': unknown dataset; valid datasets: mnist"):
        validate_config(config)
