"""Configuration: schema validation, semantic checks, and the resolved spec of one cell.

Every check raises `ConfigError` naming the offending key, and runs when the Snakefile
is parsed, so a bad configuration is rejected before any job starts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import yaml

from acai_repro.models import MODELS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"
IMAGE_SIZE = 32


class ConfigError(ValueError):
    """A configuration value that the workflow cannot run with."""


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _schema_error(error: jsonschema.ValidationError) -> ConfigError:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return ConfigError(f"config key '{_key(path + [missing])}' is missing")
    if error.validator == "enum":
        valid = ", ".join(str(v) for v in error.validator_value)
        return ConfigError(f"config key '{_key(path)}': unknown value {error.instance!r}; valid: {valid}")
    if error.validator == "additionalProperties" and not path:
        return ConfigError(f"config has an unknown top-level key: {error.message}")
    return ConfigError(f"config key '{_key(path)}': {error.message}")


def _check_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise _schema_error(errors[0])


def latent_width(config: dict, dataset: str, model: str) -> int:
    ds = config["datasets"][dataset]
    return ds.get("latent_width_by_model", {}).get(model, ds["latent_width"])


def _check_architecture(config: dict, dataset: str, model: str, dz: int, key: str) -> None:
    width = latent_width(config, dataset, model)
    if width > IMAGE_SIZE or IMAGE_SIZE % width or (width & (width - 1)):
        raise ConfigError(
            f"config key 'datasets.{dataset}.latent_width': {width} must be a power of two "
            f"dividing {IMAGE_SIZE} (model {model})"
        )
    if dz % (width * width):
        raise ConfigError(
            f"config key '{key}': dz={dz} cannot be produced by {model} on {dataset}: "
            f"it must be a multiple of latent_width² = {width * width}"
        )


def _check_grid(config: dict, table: str) -> None:
    """Every (dataset, dz) cell of a table names a real dataset that every model can produce."""
    for index, (dataset, dz) in enumerate(config[table]["cells"]):
        key = f"{table}.cells.{index}"
        if dataset not in config["datasets"] or dataset == "lines":
            valid = ", ".join(d for d in config["datasets"] if d != "lines")
            raise ConfigError(f"config key '{key}': unknown dataset {dataset!r}; valid datasets: {valid}")
        if dataset not in config["data"]["sources"]:
            raise ConfigError(f"config key 'data.sources.{dataset}' is missing")
        for model in config[table]["models"]:
            if model not in config["models"]:
                raise ConfigError(f"config key 'models.{model}' is missing (options of {model})")
            _check_architecture(config, dataset, model, dz, key)


def _check_training(training: dict) -> None:
    batch = training["batch_size"]
    for name in ("total_images", "eval_every"):
        if training[name] % batch:
            raise ConfigError(
                f"config key 'training.{name}': {training[name]} is not divisible by "
                f"training.batch_size = {batch}"
            )
    if training["eval_every"] > training["total_images"]:
        raise ConfigError(
            "config key 'training.eval_every': larger than training.total_images, "
            "so no evaluation would run"
        )
    if batch < 2:
        raise ConfigError("config key 'training.batch_size': ACAI mixes pairs, needs >= 2")


def _check_lines_evaluation(lines: dict) -> None:
    if 2 * lines["interpolation_pairs"] > lines["test_lines"]:
        raise ConfigError(
            "config key 'evaluation.lines.interpolation_pairs': needs 2 x pairs <= "
            f"evaluation.lines.test_lines ({lines['test_lines']})"
        )


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Raise ConfigError on the first problem; return the config unchanged when valid."""
    _check_schema(config, schema_path)
    table = config["table1"]
    if table["dataset"] not in config["datasets"]:
        raise ConfigError(
            f"config key 'table1.dataset': unknown dataset {table['dataset']!r}; "
            f"valid datasets: {', '.join(config['datasets'])}"
        )
    for model in table["models"]:
        if model not in config["models"]:
            raise ConfigError(f"config key 'models.{model}' is missing (options of {model})")
        _check_architecture(config, table["dataset"], model, table["dz"], "table1.dz")
    for table in ("table2", "table3"):
        _check_grid(config, table)
    _check_training(config["training"])
    _check_lines_evaluation(config["evaluation"]["lines"])
    if config["figures"]["seed"] not in config["seeds"]:
        raise ConfigError("config key 'figures.seed': must be one of the configured seeds")
    return config


def load_config(*paths) -> dict:
    """Merge YAML files left to right (later files override keys deeply) and validate."""
    config: dict = {}
    for path in paths:
        deep_update(config, yaml.safe_load(Path(path).read_text()) or {})
    return validate_config(config)


def deep_update(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def cell_spec(config: dict, dataset: str, model: str, dz: int, seed: int) -> dict:
    """Everything one training cell depends on (and nothing else), JSON-serialisable."""
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    _check_architecture(config, dataset, model, dz, "dz")
    ds = config["datasets"][dataset]
    width = latent_width(config, dataset, model)
    return {
        "dataset": dataset,
        "model": model,
        "dz": int(dz),
        "seed": int(seed),
        "device": config["device"],
        "architecture": {
            "colors": ds["colors"],
            "depth": ds["depth"],
            "latent_width": width,
            "latent_channels": int(dz) // (width * width),
        },
        "classes": ds["classes"],
        "model_options": copy.deepcopy(config["models"][model]),
        "training": copy.deepcopy(config["training"]),
        "evaluation": copy.deepcopy(config["evaluation"].get(dataset, {})),
        "data": data_spec(config, dataset),
    }


def data_spec(config: dict, dataset: str) -> dict | None:
    """Where a real dataset's HDF5 file is and which of its splits a cell uses."""
    if dataset == "lines":
        return None
    ds = config["datasets"][dataset]
    return {
        "path": f"{config['data']['data_dir']}/{dataset}.h5",
        "train_splits": list(ds.get("train_splits", ["train"])),
        "test_split": ds.get("test_split", "test"),
        "max_examples": ds.get("max_examples"),
    }


# Settings that change how a run reports, not what it computes: a checkpoint taken under
# other values of these is still a valid starting point.
_NON_SEMANTIC = ("checkpoint_minutes", "progress_seconds", "check_every")


def spec_digest(spec: dict) -> str:
    """Hash of what determines a cell's weights (device excluded: it is recorded apart)."""
    core = copy.deepcopy(spec)
    core.pop("device", None)
    for key in _NON_SEMANTIC:
        core["training"].pop(key, None)
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]
