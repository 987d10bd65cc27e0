import copy
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from acai_repro.config import (
    RUN_SETTINGS,
    ConfigError,
    cell_spec,
    dataset_title,
    load_config,
    load_schema,
    main,
    max_dz,
    read_yaml,
    source_splits,
    spec_digest,
    validate_config,
    with_run_settings,
)
from acai_repro.data.prepare import idx_splits, load_cifar10
from acai_repro.models import MODELS
from tests.conftest import ROOT
from tests.test_prepare import _cifar_archive

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
    (
        "data: {sources: {mnist: {md5: 0123456789abcdef0123456789abcdef}}}",
        "'data.sources.mnist.md5' is unknown",
        "path",
    ),
    ("models: {vae: {latent: median}}", "'models.vae.latent'", "valid: sample, mean"),
    ("device: tpu", "'device'", "valid: auto, cpu, cuda"),
    ("clustering: {backend: gpu}", "'clustering.backend'", "valid: auto, elkan, torch, sklearn"),
    ("models: {vqvae: {variant: full}}", "'models.vqvae.variant'", "valid: slices, whole"),
    ("training: {cuda_graphs: always}", "'training.cuda_graphs'", "valid: auto, off, false, true"),
    ("tables: {std_ddof: 2}", "'tables.std_ddof'", "valid: 0, 1"),
    ("training: {batch_size: 64.0}", "'training.batch_size'", "not of type integer"),
    ("training: {learning_rate: .nan}", "'training.learning_rate'", "not of type number (finite)"),
    ("training: {learning_rate: 1e-4}", "'training.learning_rate'", "'1e-4' is not of type number"),
    ("training: 5", "'training'", "not of type object"),
    ("models: {acai: {lambda: -0.5}}", "'models.acai.lambda'", "less than the minimum of 0"),
    ("models: {acai: {gamma: 1.5}}", "'models.acai.gamma'", "greater than the maximum of 1"),
    ("training: {report_last: 2}", "'training.report_last'", "is unknown"),  # gone: tables.report_rule
    ("training: {total_images: 1000}", "'training.total_images'", "not divisible by training.batch_size"),
    ("seeds: [0, 0]", "'seeds'", "non-unique"),
    ("table1: {models: [baseline, gan]}", "'table1.models.1'", "valid: baseline, denoising"),
    ("table2: {cells: [[imagenet, 32]]}", "'table2.cells.0'", "unknown dataset 'imagenet'; valid datasets: mnist"),
    ("table3: {cells: [[mnist, 30]]}", "'table3.cells.0'", "multiple of latent_width"),
    (
        "datasets: {My_Data: {colors: 1, classes: 2, depth: 16, latent_width: 4}}",
        "'datasets'",
        "name 'My_Data' is not allowed",
    ),
    ("figures: {seed: 7}", "'figures.seed'", "one of the configured seeds"),
    ("figures: {samples_model: acai}", "'figures.samples_model'", "'acai' has no prior to sample (has_prior is False)"),
    ("figures: {samples_model: gan}", "'figures.samples_model'", "unknown model 'gan'; valid: baseline"),
    ("evaluation: {lines: {interpolation_pairs: 3000}}", "'evaluation.lines.interpolation_pairs'", "test_lines"),
    # Values that passed validation and crashed a job later: refused here, with the valid ones or the bound.
    (
        "datasets: {mnist: {test_split: valid}}",
        "'datasets.mnist.test_split'",
        "unknown split 'valid'; valid splits (from data.sources.mnist): test, train",
    ),
    ("datasets: {mnist: {train_splits: [train, valid]}}", "'datasets.mnist.train_splits.1'", "valid splits"),
    ("table1: {dz: 1048576}", "'table1.dz'", "dz must be at most 1024"),
    ("table1: {dz_by_model: {vqvae: 1048576}}", "'table1.dz_by_model'", "dz must be at most 1024"),
    ("table2: {cells: [[mnist, 1048576]]}", "'table2.cells.0'", "dz must be at most 1024"),
]


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


def test_a_dataset_is_named_by_its_title_else_by_its_key(tmp_path):
    """datasets.<name>.title names a dataset in the tables and the scorecard; one added without a
    title validates and is named by its key, as on a page made with no config at hand."""
    added = "datasets: {fashion: {colors: 1, classes: 10, depth: 16, latent_width: 4}}"
    config = load_config(PAPER, _overlay(tmp_path, added))
    titles = [dataset_title(config, name) for name in ("lines", "mnist", "svhn", "cifar10", "fashion")]
    assert titles == ["lines", "MNIST", "SVHN", "CIFAR-10", "fashion"]
    assert "title" not in config["datasets"]["fashion"]  # wording: nothing is filled in, no spec holds it
    assert dataset_title(None, "mnist") == "mnist"
    with pytest.raises(ConfigError, match="'datasets.mnist.title'"):
        load_config(PAPER, _overlay(tmp_path, "datasets: {mnist: {title: ''}}", "empty.yaml"))


def test_model_names_come_from_the_registry():
    schema = load_schema()
    assert schema["definitions"]["model_name"]["enum"] == list(MODELS)
    assert set(schema["properties"]["models"]["properties"]) == set(MODELS)


# The models section of config/schema.yaml before the models declared their own options
# (commit 69cf7be, $refs resolved, descriptions left out): the built one is as strict.
SCHEMA_MODELS_BEFORE = {
    "baseline": {},
    "denoising": {"noise_std": {"type": "number", "minimum": 0, "default": 1.0}},
    "vae": {
        "beta": {"type": "number", "minimum": 0, "default": 1.0},
        "latent": {"enum": ["sample", "mean"], "default": "sample"},
    },
    "aae": {
        "critic_width": {"type": "integer", "minimum": 1, "default": 100},
        "adversary_weight": {"type": "number", "minimum": 0, "default": 1.0},
    },
    "vqvae": {
        "codebook_size": {"type": "integer", "minimum": 1, "default": 16384},
        "commitment": {"type": "number", "minimum": 0, "default": 10.0},
        "decay": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.999},
        "epsilon": {"type": "number", "exclusiveMinimum": 0, "default": 1e-05},
        "variant": {"enum": ["slices", "whole"], "default": "slices"},
        "slices": {"type": "integer", "minimum": 1, "default": 10},
        "mlp_width": {"type": "integer", "minimum": 1, "default": 512},
    },
    "acai": {
        "lambda": {"type": "number", "minimum": 0, "default": 0.5},
        "gamma": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.2},
    },
}


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


def test_check_command_help_is_help_not_a_file_name():
    result = subprocess.run(
        [sys.executable, "-m", "acai_repro.config", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m acai_repro.config"), (
        f"exit {result.returncode}, stdout {result.stdout[:200]!r}, stderr {result.stderr[-300:]!r}"
    )
    assert "invalid configuration" not in result.stderr, result.stderr


# Through Snakemake: rejected while the Snakefile is parsed, before any job, with the key named
# and no Python traceback.
def _dry_run(tmp_path, *configs, snakefile=ROOT / "Snakefile"):
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--cores",
        "1",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(tmp_path / "work"),
    ]
    if configs:
        command += ["--configfile", *map(str, configs)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize(
    "text,key",
    [
        ("models: {acai: {lamda: 0.25}}", "config key 'models.acai.lamda' is unknown"),
        ("training: {batch_size: 64.0}", "config key 'training.batch_size'"),
        ("training: {report_last: 2}", "config key 'training.report_last' is unknown"),
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


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_configfiles_given_after_one_flag_layer(tmp_path):
    """`--configfile a.yaml b.yaml` layers both (each alone is invalid, together valid);
    `--configfile=a.yaml --configfile=b.yaml` keeps only b.yaml in Snakemake 9."""
    smoke = ROOT / "config" / "smoke.yaml"
    a = _overlay(tmp_path, "seeds: [5]", "a.yaml")
    b = _overlay(tmp_path, "figures: {seed: 5}", "b.yaml")
    layered = _dry_run(tmp_path, smoke, a, b)
    assert layered.returncode == 0, layered.stderr[-2000:]
    separate = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--cores",
            "1",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(tmp_path / "work"),
            f"--configfile={a}",
            f"--configfile={b}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert separate.returncode != 0
    assert "config key 'figures.seed'" in separate.stdout + separate.stderr  # a.yaml was dropped


def test_a_source_for_an_unconfigured_dataset_is_named(paper_config):
    config = copy.deepcopy(paper_config)
    config["data"]["sources"]["mnsit"] = config["data"]["sources"]["mnist"]
    with pytest.raises(ConfigError, match="'data.sources.mnsit': unknown dataset; valid datasets: mnist"):
        validate_config(config)


# ---- reading config files: one reader for the workflow and `python -m acai_repro.config` ----
TWO_TRAINING_BLOCKS = "training:\n  batch_size: 32\nseeds: [0]\ntraining:\n  learning_rate: 0.001\n"
UNREADABLE = [  # (file content, what the message must say)
    (TWO_TRAINING_BLOCKS, "overlay.yaml, line 4: key 'training' is written twice in one mapping (first at line 1)"),
    ("models:\n  acai: {lambda: 0.2, lambda: 0.3}\n", "overlay.yaml, line 2: key 'lambda' is written twice"),
    ("", "overlay.yaml: the config file is empty"),
    ("# only a comment\n", "overlay.yaml: the config file is empty"),
]


@pytest.mark.parametrize("text,message", UNREADABLE, ids=["two training blocks", "nested", "empty", "comment only"])
def test_unreadable_config_files_are_refused_naming_file_and_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(PAPER, _overlay(tmp_path, text))


def test_a_binary_config_file_is_named(tmp_path):
    binary = tmp_path / "model.pt"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xd0\x9f\xff\xfe")
    with pytest.raises(ConfigError, match=re.escape(f"{binary}: not a text (UTF-8) YAML file: byte 0xff")):
        read_yaml(binary)


def test_a_merge_key_is_not_a_duplicate(tmp_path):
    text = "base: &base {x: 1, y: 2}\nother:\n  <<: *base\n  x: 3\n"
    assert read_yaml(_overlay(tmp_path, text))["other"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("text", [TWO_TRAINING_BLOCKS, "", b"\x80\x81binary"], ids=["duplicate", "empty", "binary"])
def test_check_command_refuses_what_the_workflow_refuses(tmp_path, capsys, text):
    path = tmp_path / "overlay.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main([str(path)]) == 1
    assert f"invalid configuration: {path}" in capsys.readouterr().err


# ---- on/off switches: YAML 1.1 booleans and their spellings ----
SPELLINGS = [
    ("off", "off"),
    ("'off'", "off"),
    ("false", "off"),
    ("no", "off"),
    ("on", "auto"),
    ("true", "auto"),
    ("yes", "auto"),
    ("auto", "auto"),
]


@pytest.mark.parametrize("spelling,value", SPELLINGS)
def test_cuda_graphs_takes_booleans_as_written_in_the_docs(tmp_path, spelling, value):
    config = load_config(PAPER, _overlay(tmp_path, f"training:\n  cuda_graphs: {spelling}\n"))
    assert config["training"]["cuda_graphs"] == value


def test_a_switch_spelt_as_a_boolean_keeps_the_spec_digest(tmp_path, paper_config):
    off = load_config(PAPER, _overlay(tmp_path, "training: {cuda_graphs: off}"))
    assert spec_digest(cell_spec(off, "lines", "acai", 64, 0)) == spec_digest(
        cell_spec(paper_config, "lines", "acai", 64, 0)
    )


# ---- splits and the dz bound ----
def test_splits_of_a_source_are_those_its_loader_writes(tmp_path, paper_config):
    archive = tmp_path / "cifar-10-python.tar.gz"
    _cifar_archive(archive)
    assert source_splits(paper_config["data"]["sources"]["cifar10"]) == sorted(load_cifar10({"archive": archive}))
    mnist = paper_config["data"]["sources"]["mnist"]
    assert source_splits(mnist) == idx_splits(mnist["files"]) == ["test", "train"]
    assert source_splits(paper_config["data"]["sources"]["svhn"]) == ["extra", "test", "train"]


def test_dz_bound_is_the_image_size_and_admits_the_papers_cells(paper_config):
    assert max_dz(paper_config, "lines") == 1024 and max_dz(paper_config, "cifar10") == 3072
    for table in ("table2", "table3"):
        assert all(dz <= max_dz(paper_config, dataset) for dataset, dz in paper_config[table]["cells"])
    with pytest.raises(ConfigError, match="at most 1024"):
        cell_spec(paper_config, "lines", "acai", 1048576, 0)


# ---- through Snakemake ----
@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_snakemake_refuses_a_duplicate_key_in_a_configfile(tmp_path):
    result = _dry_run(tmp_path, _overlay(tmp_path, TWO_TRAINING_BLOCKS))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "overlay.yaml, line 4: key 'training' is written twice" in output
    assert "Traceback" not in output


def test_snakemake_refuses_an_empty_configfile(tmp_path):
    """Snakemake refuses it itself, before the workflow runs (as `python -m acai_repro.config` does)."""
    result = _dry_run(tmp_path, _overlay(tmp_path, ""))
    assert result.returncode != 0
    assert "Config file must be given as JSON or YAML with keys at top level" in result.stdout + result.stderr
    assert not (tmp_path / "work" / "results").exists()


@pytest.mark.parametrize(
    "text,key",
    [
        ("datasets: {mnist: {test_split: valid}}", "'datasets.mnist.test_split'"),
        ("table1: {dz: 1048576}", "'table1.dz'"),
    ],
)
def test_snakemake_refuses_late_crashing_values_before_any_job(tmp_path, text, key):
    result = _dry_run(tmp_path, ROOT / "config" / "smoke.yaml", _overlay(tmp_path, text))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"invalid configuration: config key {key}" in output
    assert not (tmp_path / "work" / "results").exists()


def test_a_spec_written_with_report_last_is_current_and_kept():
    """Cells trained while `training.report_last` was part of their spec: the same cell now (no
    retraining, not stale), their spec.json kept as written (Snakemake sees the same params); a
    real difference beside it still counts."""
    from acai_repro.config import cell_spec, kept_spec, spec_digest
    from acai_repro.results import spec_differences

    config = load_config(PAPER, ROOT / "config" / "quick.yaml")
    expected = cell_spec(config, "lines", "acai", 64, 0)
    legacy = copy.deepcopy(expected)
    legacy["training"]["report_last"] = 2
    assert spec_differences(legacy, expected) == [], spec_differences(legacy, expected)
    assert spec_digest(legacy) != spec_digest(expected), "its own digest keeps its form: its checkpoints resume"
    assert kept_spec(legacy, expected) is legacy, "the recorded spec is kept: the same params for Snakemake"
    changed = copy.deepcopy(legacy)
    changed["training"]["total_images"] *= 2
    assert spec_differences(changed, expected) == ["training.total_images 262144 != 131072"]
    assert kept_spec(changed, expected) is expected


def test_the_reporting_rule_is_a_run_setting():
    """The rule rides with the job (when to evaluate) but is no part of what a cell's weights depend on."""
    from acai_repro.config import cell_spec, spec_digest, with_run_settings

    config = load_config(PAPER, ROOT / "config" / "quick.yaml")
    spec = cell_spec(config, "lines", "acai", 64, 0)
    job = with_run_settings(spec, config)
    assert job["report_rule"] == {"last": 20, "of": 256}, job.get("report_rule")
    other = copy.deepcopy(config)
    other["tables"]["report_rule"] = {"last": 40, "of": 256}
    assert spec_digest(with_run_settings(spec, other)) == spec_digest(job) == spec_digest(spec)
