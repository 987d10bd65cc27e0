"""Configuration: the strict schema with its defaults, semantic checks, and the spec of one cell.

config/schema.yaml is the single source of every key and every default, except the `models`
section, which is built here from the model registry (each model module declares its options,
types, ranges and defaults: acai_repro.models.base.Option). `validate_config` fills the
defaults in place, rejects unknown keys at every level, and runs the checks that a
schema cannot express. It runs when the Snakefile is parsed, so a bad configuration is
rejected before any job starts; every problem raises `ConfigError` naming the key.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import math
import os
import sys
from pathlib import Path

import h5py
import jsonschema
import yaml

from acai_repro.models import MODELS
from acai_repro.models.base import AutoEncoder, Option, unfusable_reason
from acai_repro.report_rule import ReportRule

# The repository's root (the Snakefile's folder) and its config folder: named here, once.
ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
SCHEMA_PATH = CONFIG_DIR / "schema.yaml"
IMAGE_SIZE = 32
# Dataset names: also the wildcard constraint of {dataset} in rules/common.smk.
DATASET_NAME = r"[a-z0-9][a-z0-9_-]*"
# training.* keys that say how a run reports and where it runs, never what it computes: they
# stay out of the rules' params (no rerun when they change) and out of the resume digest.
RUN_SETTINGS = ("checkpoint_minutes", "progress_seconds", "check_every", "cuda_graphs")
# Top-level run settings that a job's spec carries (where it ran, which scale it belongs to).
TOP_RUN_SETTINGS = ("device", "scale_name")
# The reporting rule (tables.report_rule) a job's spec carries: when the cell evaluates for it. The
# weights do not depend on it, so it is a run setting: changing it retrains nothing.
REPORT_RULE = "report_rule"
# Training keys that specs written before held and that no longer determine a result:
# report_last only chose the values a record stored (the tables read the rule since).
LEGACY_TRAINING_KEYS = ("report_last",)


class ConfigError(ValueError):
    """A configuration value that the workflow cannot run with."""


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping: by default the later
    block silently replaces the earlier one (two `training:` blocks drop the first's values)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor` merges defaults; a key written beside it overrides them
                key = self.construct_object(key_node, deep=True)
                if not _hashable(key):
                    continue  # PyYAML itself rejects an unhashable key, with its own message
                if key in seen:
                    raise DuplicateKeyError(key, seen[key], key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _hashable(key) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key, first_line: int, line: int):
        super().__init__(f"duplicate key {key!r} at line {line} (first at line {first_line})")
        self.key, self.first_line, self.line = key, first_line, line


def read_yaml(path) -> dict:
    """A non-empty YAML mapping from `path`, read as text (UTF-8) with duplicate keys refused.

    Every problem (not text, a syntax error, a key written twice, empty, not a mapping) raises
    ConfigError naming the file, and the line where there is one."""
    text = _read_text(path)
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except DuplicateKeyError as error:
        raise ConfigError(
            f"{path}, line {error.line}: key {error.key!r} is written twice in one mapping (first at "
            f"line {error.first_line}); the later block would silently replace the earlier one: merge them"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"YAML syntax error in {where}: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: the config file is empty (no keys); give at least one key, or leave the file out")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of keys, not {type(data).__name__}")
    return data


def _read_text(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not a text (UTF-8) YAML file: byte 0x{error.object[error.start]:02x} at offset {error.start}"
        ) from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror or error})") from None


def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The schema, with what the model registry declares and the dataset-name pattern filled in."""
    return _schema(Path(schema_path), tuple(MODELS.items()))


@functools.cache
def _schema(schema_path: Path, models: tuple[tuple[str, type[AutoEncoder]], ...]) -> dict:
    schema = read_yaml(schema_path)
    names = [name for name, _ in models]
    schema["definitions"]["model_name"] = {"enum": names}
    schema["definitions"]["dataset_name"] = {"type": "string", "pattern": f"^{DATASET_NAME}$"}
    # Tables 1-3 show every registered model unless a config names a subset.
    schema["properties"]["table1"]["properties"]["models"]["default"] = names
    schema["definitions"]["grid"]["properties"]["models"]["default"] = names
    schema["properties"]["models"] = models_schema(dict(models))
    return schema


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}
_BOUNDS = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
}


def option_schema(option: Option) -> dict:
    """The JSON schema of one model option: its type and range, or its choices; its default."""
    if option.choices is not None:
        schema = {"enum": list(option.choices)}
    else:
        schema = {"type": _JSON_TYPES[option.type]}
        schema.update(
            {key: getattr(option, bound) for bound, key in _BOUNDS.items() if getattr(option, bound) is not None}
        )
    return {**schema, "description": option.description, "default": option.default}


def models_schema(models: dict[str, type[AutoEncoder]]) -> dict:
    """The `models` section: one strict object of options per registered model."""
    return {
        "description": "options of each model (keys are the registry's model names)",
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "properties": {
            name: {
                "type": "object",
                "additionalProperties": False,
                "properties": {key: option_schema(option) for key, option in cls.OPTIONS.items()},
                "default": {},
            }
            for name, cls in models.items()
        },
    }


def _is_integer(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)  # 64.0 is not an integer


def _is_number(checker, instance) -> bool:
    finite = isinstance(instance, (int, float)) and math.isfinite(instance)
    return finite and not isinstance(instance, bool)  # .nan and .inf are not numbers here


_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number})
StrictValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=_TYPES)


def _resolve(schema: dict, root: dict) -> dict:
    """Follow local `$ref`s (#/definitions/...) to the schema they name."""
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def fill_defaults(instance, schema: dict, root: dict) -> None:
    """Insert every missing key that has a schema default, recursively (in place)."""
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        sub = _resolve(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
    for key, value in instance.items():
        sub = properties.get(key, schema.get("additionalProperties"))
        if isinstance(sub, dict):
            fill_defaults(value, sub, root)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    allowed = error.schema.get("properties", {})
    path = list(error.absolute_path)
    where = f"under '{_key(path)}'" if path else "at the top level"
    valid = ", ".join(allowed) or "none"
    return [
        f"config key '{_key(path + [key])}' is unknown; valid keys {where}: {valid}"
        for key in error.instance
        if key not in allowed
    ]


def _messages(error: jsonschema.ValidationError) -> list[str]:
    path = list(error.absolute_path)
    key = _key(path)
    if error.validator == "additionalProperties" and error.validator_value is False:
        return _unknown_keys(error)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        return [f"config key '{_key(path + [missing])}' is missing"]
    if error.validator == "enum":
        valid = ", ".join(_as_yaml(v) for v in error.validator_value)  # bool: true, as YAML writes it
        return [f"config key '{key}': unknown value {error.instance!r}; valid: {valid}"]
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        note = (
            " (finite)" if "number" in wanted else " (written without a decimal point)" if wanted == "integer" else ""
        )
        return [
            f"config key '{key}': {error.instance!r} is not of type {wanted}{note}{_yaml11_note(error.instance, wanted)}"
        ]
    if "propertyNames" in error.schema_path:
        return [f"config key '{key}': name {error.instance!r} is not allowed: {error.message}"]
    return [f"config key '{key}': {error.message}"]


def _yaml11_note(value, wanted: str) -> str:
    """YAML 1.1 (PyYAML, Snakemake) reads 1e-4 as a string: a number needs a decimal point."""
    if "number" not in wanted or not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    mantissa, _, exponent = value.lower().partition("e")
    spelt = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}" if exponent else repr(number)
    return f"; YAML 1.1 reads {value} as a string (an exponent needs a decimal point): write {spelt}"


def _as_yaml(value) -> str:
    """A value as a config file writes it (true, not True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_schema(config: dict, schema_path: Path) -> None:
    schema = load_schema(schema_path)
    fill_defaults(config, schema, schema)
    errors = sorted(StrictValidator(schema).iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    messages = list(dict.fromkeys(m for error in errors for m in _messages(error)))
    if messages:
        raise ConfigError("\n".join(messages))


def table1_cells(config: dict) -> list[tuple[str, int]]:
    """(model, dz) of each Table 1 column: table1.dz, or the model's own in table1.dz_by_model.

    The authors' VQ-VAE runs on lines at dz 256 (latent_width 4, 16 channels), the others at 64.
    """
    table = config["table1"]
    own = table["dz_by_model"]
    return [(model, int(own.get(model, table["dz"]))) for model in table["models"]]


def latent_width(config: dict, dataset: str, model: str) -> int:
    ds = config["datasets"][dataset]
    return ds["latent_width_by_model"].get(model, ds["latent_width"])


def _check_architecture(config: dict, dataset: str, model: str, dz: int, key: str) -> None:
    width = latent_width(config, dataset, model)
    if width > IMAGE_SIZE or IMAGE_SIZE % width or (width & (width - 1)):
        raise ConfigError(
            f"config key 'datasets.{dataset}.latent_width': {width} must be a power of two "
            f"dividing {IMAGE_SIZE} (model {model})"
        )
    if dz < 1 or dz % (width * width):
        raise ConfigError(
            f"config key '{key}': dz={dz} cannot be produced by {model} on {dataset}: "
            f"it must be a positive multiple of latent_width² = {width * width}"
        )
    largest = max_dz(config, dataset)
    if dz > largest:
        raise ConfigError(
            f"config key '{key}': dz={dz} is more than the {largest} values of one {dataset} image "
            f"({IMAGE_SIZE}×{IMAGE_SIZE}×{config['datasets'][dataset]['colors']}): such a latent is no "
            f"bottleneck and its convolutions outgrow memory; dz must be at most {largest}"
        )


def max_dz(config: dict, dataset: str) -> int:
    """The largest dz of a dataset: the size of its images (the paper's largest, CIFAR-10's 1024,
    is a third of 32×32×3). Beyond it an autoencoder no longer compresses, and the latent
    convolutions' weights grow with dz until training runs out of memory."""
    return IMAGE_SIZE * IMAGE_SIZE * config["datasets"][dataset]["colors"]


def _real_datasets(config: dict) -> list[str]:
    return [d for d in config["datasets"] if d != "lines"]


def _check_grid(config: dict, table: str) -> None:
    """Every (dataset, dz) cell of a table names a real dataset that every model can produce,
    once (a row written twice would make the table with two rows of one index)."""
    first_row: dict = {}
    for index, (dataset, dz) in enumerate(config[table]["cells"]):
        key = f"{table}.cells.{index}"
        if (dataset, dz) in first_row:
            raise ConfigError(
                f"config key '{key}': row [{dataset}, {dz}] is written twice "
                f"(first as {table}.cells.{first_row[dataset, dz]}); each (dataset, dz) row once"
            )
        first_row[dataset, dz] = index
        if dataset not in _real_datasets(config):
            valid = ", ".join(_real_datasets(config))
            raise ConfigError(f"config key '{key}': unknown dataset {dataset!r}; valid datasets: {valid}")
        if dataset not in config["data"]["sources"]:
            raise ConfigError(f"config key 'data.sources.{dataset}' is missing (where {dataset} comes from)")
        _check_measurable(config, dataset, key)
        for model in config[table]["models"]:
            _check_architecture(config, dataset, model, dz, key)


def _check_measurable(config: dict, dataset: str, key: str) -> None:
    """A Table 2-3 row measures held-out test images against at least two classes: a dataset with
    one split (no test set apart from training) or one class (CelebA's, no labels) would train
    every model of the row and read 100.0 everywhere."""
    ds, splits = config["datasets"][dataset], source_splits(config["data"]["sources"][dataset])
    measurable = [name for name in _real_datasets(config) if _is_measurable(config, name)]
    instead = f"Table 2-3 rows take {', '.join(measurable) or 'a labelled dataset with a test split'}"
    if len(splits) < 2 or ds["test_split"] in ds["train_splits"]:
        raise ConfigError(
            f"config key '{key}': {dataset} has no test split apart from its training images (splits: "
            f"{', '.join(splits)}), so its accuracy and clustering would be measured on training data; "
            f"{instead} ({dataset} makes figures only)"
        )
    if ds["classes"] < 2:
        raise ConfigError(
            f"config key '{key}': {dataset} has {ds['classes']} class (datasets.{dataset}.classes), so every "
            f"accuracy and clustering score would read 100; {instead} ({dataset} makes figures only)"
        )


def _is_measurable(config: dict, dataset: str) -> bool:
    source = config["data"]["sources"].get(dataset)
    ds = config["datasets"][dataset]
    return (
        bool(source)
        and len(source_splits(source)) > 1
        and ds["test_split"] not in ds["train_splits"]
        and ds["classes"] > 1
    )


# Formats whose one source file holds a fixed set of splits (acai_repro.data.prepare's loaders);
# the splits of the others are their file keys (idx: <split>_images / <split>_labels).
FIXED_SPLITS = {"cifar10_python": ("test", "train"), "celeba_jpeg": ("train",)}


def source_splits(source: dict) -> list[str]:
    """The splits a dataset's prepared file will hold, from its `data.sources` entry."""
    if source["format"] in FIXED_SPLITS:
        return list(FIXED_SPLITS[source["format"]])
    keys = source.get("files") or {}
    return sorted({key.rsplit("_", 1)[0] if source["format"] == "idx" else key for key in keys})


def _check_splits(config: dict) -> None:
    """train_splits and test_split name splits that the dataset's source files provide."""
    for dataset, source in config["data"]["sources"].items():
        ds, valid = config["datasets"][dataset], source_splits(source)
        chosen = [(f"train_splits.{i}", split) for i, split in enumerate(ds["train_splits"])]
        for name, split in [*chosen, ("test_split", ds["test_split"])]:
            if split not in valid:
                raise ConfigError(
                    f"config key 'datasets.{dataset}.{name}': unknown split {split!r}; valid splits "
                    f"(from data.sources.{dataset}): {', '.join(valid)}"
                )
        _check_train_splits(dataset, ds, len(valid))


def _check_train_splits(dataset: str, ds: dict, splits: int) -> None:
    """Training never sees the test images, and draws from each split once. (A source with one
    split, CelebA's, has no test set to keep apart: its cells make figures only.)"""
    for index, split in enumerate(ds["train_splits"]):
        key = f"config key 'datasets.{dataset}.train_splits.{index}'"
        if split == ds["test_split"] and splits > 1:
            raise ConfigError(
                f"{key}: {split!r} is the test split (datasets.{dataset}.test_split): training on "
                "the images the models are evaluated on leaks the test set; train_splits and "
                "test_split must be disjoint"
            )
        if split in ds["train_splits"][:index]:
            raise ConfigError(
                f"{key}: {split!r} is listed twice; each training split once (a repeated split "
                "changes which images the batches draw)"
            )


# On/off switches: YAML 1.1 reads off/no/false as False and on/yes/true as True, so each
# boolean is accepted and turned into the switch's own word (on = auto: graphs where CUDA is).
SWITCHES = {("training", "cuda_graphs"): {False: "off", True: "auto"}}


def _normalise_switches(config: dict) -> None:
    for (section, key), words in SWITCHES.items():
        value = config[section][key]
        if isinstance(value, bool):
            config[section][key] = words[value]


def _check_sources(config: dict) -> None:
    for dataset, source in config["data"]["sources"].items():
        if source.get("path") is not None and not str(source["path"]).strip():
            raise ConfigError(
                f"config key 'data.sources.{dataset}.path': empty; give the local folder (or archive) to read "
                "the files from, or null (or leave the key out) to download them"
            )
        if dataset not in _real_datasets(config):
            raise ConfigError(
                f"config key 'data.sources.{dataset}': unknown dataset; "
                f"valid datasets: {', '.join(_real_datasets(config))}"
            )


# Colour channels of the images each source format holds (IDX: grey levels only).
FORMAT_COLORS = {"idx": 1, "svhn_mat": 3, "cifar10_python": 3, "celeba_jpeg": 3}
# Label counts fixed by a format (SVHN and CIFAR-10: ten digits/classes); IDX files hold any.
FORMAT_CLASSES = {"svhn_mat": 10, "cifar10_python": 10}


def _check_colors_and_classes(config: dict) -> None:
    for dataset, source in config["data"]["sources"].items():
        ds, fmt = config["datasets"][dataset], source["format"]
        if ds["colors"] != FORMAT_COLORS[fmt]:
            raise ConfigError(
                f"config key 'datasets.{dataset}.colors': {ds['colors']}, but {fmt} data "
                f"(data.sources.{dataset}.format) has {FORMAT_COLORS[fmt]} colour channel(s): "
                f"set colors: {FORMAT_COLORS[fmt]}"
            )
        if ds["classes"] < FORMAT_CLASSES.get(fmt, 0):
            raise ConfigError(
                f"config key 'datasets.{dataset}.classes': {ds['classes']}, but {fmt} data has "
                f"{FORMAT_CLASSES[fmt]} labels (0-{FORMAT_CLASSES[fmt] - 1}): classes must be at least {FORMAT_CLASSES[fmt]}"
            )


def _check_clustering(config: dict) -> None:
    """K-Means needs at least k examples to fit k centres."""
    k, limit = config["clustering"]["k"], config["clustering"]["train_limit"]
    if k > limit:
        raise ConfigError(
            f"config key 'clustering.k': {k} clusters, more than clustering.train_limit = {limit} examples"
        )
    for dataset in _grid_datasets(config, ("table3",)):
        cap = config["datasets"][dataset]["max_examples"]
        if cap is not None and k > cap:
            raise ConfigError(
                f"config key 'clustering.k': {k} clusters, more than the {cap} examples K-Means fits on "
                f"{dataset} (datasets.{dataset}.max_examples): k must be at most {cap}"
            )


def _grid_datasets(config: dict, tables=("table2", "table3")) -> list[str]:
    return list(dict.fromkeys(dataset for table in tables for dataset, _ in config[table]["cells"]))


def _check_figure_pairs(config: dict) -> None:
    """Fig. 6-11 interpolate between test images of each Table 2 dataset: their indices must exist."""
    for dataset in _grid_datasets(config, ("table2",)):
        cap = config["datasets"][dataset]["max_examples"]
        if cap is not None:
            _check_pairs_within(config, dataset, cap, f"datasets.{dataset}.max_examples")


def _check_samples_model(config: dict) -> None:
    """Fig. 5 decodes draws of N(0, I) with one model's lines cell: a registered model with a prior."""
    name = config["figures"]["samples_model"]
    if name not in MODELS:
        raise ConfigError(f"config key 'figures.samples_model': unknown model {name!r}; valid: {', '.join(MODELS)}")
    if not MODELS[name].has_prior:
        with_prior = [model for model, cls in MODELS.items() if cls.has_prior]
        raise ConfigError(
            f"config key 'figures.samples_model': {name!r} has no prior to sample (has_prior is False); "
            f"models with one: {', '.join(with_prior) or 'none'}"
        )


def prepared_splits(path) -> dict[str, tuple[int, int]] | None:
    """{split: (examples, largest label)} of a prepared dataset file, or None when it is not
    there (yet) or unreadable (its preparation reports that)."""
    try:
        with h5py.File(path, "r") as f:
            return {name: (len(f[name]["labels"]), int(f[name]["labels"][:].max(initial=-1))) for name in f}
    except (OSError, KeyError, ValueError):
        return None


def _check_prepared_data(config: dict) -> None:
    """Where a dataset is already prepared, its labels fit datasets.<d>.classes and its test set
    holds the figures' image pairs, before any job."""
    for dataset in config["data"]["sources"]:
        path = Path(config["data"]["data_dir"]) / f"{dataset}.h5"
        splits = prepared_splits(path) if path.is_file() else None
        if not splits:
            continue
        ds = config["datasets"][dataset]
        used = [s for s in [*ds["train_splits"], ds["test_split"]] if s in splits]
        largest = max((splits[s][1] for s in used), default=-1)
        if largest >= ds["classes"]:
            raise ConfigError(
                f"config key 'datasets.{dataset}.classes': {ds['classes']}, but {path} has labels up to "
                f"{largest}: classes must be at least {largest + 1}"
            )
        if dataset in _grid_datasets(config, ("table2",)) and ds["test_split"] in splits:
            _check_pairs_within(config, dataset, splits[ds["test_split"]][0], f"the {ds['test_split']} split of {path}")


def _check_pairs_within(config: dict, dataset: str, size: int, what: str) -> None:
    for index, pair in enumerate(config["figures"]["image_pairs"]):
        if max(pair) >= size:
            raise ConfigError(
                f"config key 'figures.image_pairs.{index}': {pair} names test image {max(pair)}, but "
                f"{what} holds {size} ({dataset}): indices must be below {size}"
            )


def _check_results_dir(path: str) -> None:
    """The results root is a folder, or not there yet (then it is made); never a file."""
    root = Path(path)
    if root.is_symlink() and not root.exists():
        raise ConfigError(
            f"config key 'results_dir': {path} is a symbolic link to {os.readlink(root)}, which does not "
            "exist: create the folder it points to, or name another results_dir"
        )
    for folder in [root, *root.parents]:
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"config key 'results_dir': {folder} is an existing file, not a folder; name a folder")


def evaluations(config: dict) -> int:
    """How many evaluations a full run makes: every eval_every images, at the end, and the
    reporting rule's over the last of its training (acai_repro.report_rule)."""
    training = config["training"]
    steps, every = training["total_images"] // training["batch_size"], training["eval_every"] // training["batch_size"]
    regular = set(range(every, steps + 1, every)) | {steps}
    return len(regular | ReportRule.from_config(config).report_steps(steps))


def _check_conv_precision(config: dict) -> None:
    """TF32 is a cuDNN setting: on the CPU the convolutions stay float32 whatever it says, so
    cells trained under it would retrain for identical numbers, their spec claiming TF32."""
    if config["training"]["conv_tf32"] and config["device"] == "cpu":
        raise ConfigError(
            "config key 'training.conv_tf32': true, but device: cpu; TF32 convolutions exist on CUDA only "
            "(the CPU computes float32 either way): set training.conv_tf32: false, or device: cuda"
        )


def _check_report_rule(config: dict) -> None:
    """The tables' rule can be met by every cell, before any job (else the tables fail after all
    training). It reads the evaluations over the last last/of of a cell's training
    (acai_repro.report_rule.ReportRule.count): with last <= of, at least the final one."""
    rule = config["tables"]["report_rule"]
    if rule["last"] > rule["of"]:
        raise ConfigError(
            f"config key 'tables.report_rule.last': {rule['last']} of {rule['of']} is more than all of a "
            f"cell's evaluations; last must be at most of ({rule['of']}), e.g. the paper's last: 20, of: 256"
        )


def _check_training(training: dict) -> None:
    batch = training["batch_size"]
    for name in ("total_images", "eval_every"):
        if training[name] % batch:
            raise ConfigError(
                f"config key 'training.{name}': {training[name]} is not divisible by training.batch_size = {batch}"
            )
    if training["eval_every"] > training["total_images"]:
        raise ConfigError(
            "config key 'training.eval_every': larger than training.total_images, so no evaluation would run"
        )
    if training["seed_fusion"] and not training["fast_path"]:
        raise ConfigError(
            "config key 'training.seed_fusion': seed fusion is part of the fast path; set "
            "training.fast_path: true as well (the exact path trains each seed on its own)"
        )


def _check_lines_evaluation(lines: dict) -> None:
    if 2 * lines["interpolation_pairs"] > lines["test_lines"]:
        raise ConfigError(
            "config key 'evaluation.lines.interpolation_pairs': needs 2 x pairs <= "
            f"evaluation.lines.test_lines ({lines['test_lines']})"
        )


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Fill the schema's defaults into `config` (in place) and check it; raise ConfigError
    naming every key the schema rejects, or the first semantic problem. Returns `config`."""
    _check_schema(config, schema_path)
    _normalise_switches(config)
    table = config["table1"]
    if table["dataset"] not in config["datasets"]:
        raise ConfigError(
            f"config key 'table1.dataset': unknown dataset {table['dataset']!r}; "
            f"valid datasets: {', '.join(config['datasets'])}"
        )
    for model, dz in table1_cells(config):
        key = "table1.dz_by_model" if dz != table["dz"] else "table1.dz"
        _check_architecture(config, table["dataset"], model, dz, key)
    _check_sources(config)
    _check_splits(config)
    _check_colors_and_classes(config)
    for table in ("table2", "table3"):
        _check_grid(config, table)
    _check_clustering(config)
    _check_figure_pairs(config)
    _check_samples_model(config)
    _check_prepared_data(config)
    _check_results_dir(config["results_dir"])
    _check_training(config["training"])
    _check_conv_precision(config)
    _check_report_rule(config)
    _check_lines_evaluation(config["evaluation"]["lines"])
    if config["figures"]["seed"] not in config["seeds"]:
        raise ConfigError("config key 'figures.seed': must be one of the configured seeds")
    return config


def load_config(*paths) -> dict:
    """Merge YAML files left to right (later files override keys deeply) and validate."""
    config: dict = {}
    for path in paths:
        deep_update(config, read_yaml(path))
    return validate_config(config)


def deep_update(base: dict, update: dict) -> dict:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def check_dataset(config: dict, dataset: str) -> None:
    """A dataset named in a target must be configured (a clear error, not a KeyError)."""
    if dataset not in config["datasets"]:
        raise ConfigError(
            f"unknown dataset {dataset!r}; configured datasets: {', '.join(config['datasets'])} "
            "(add it under `datasets:` and `data.sources:`)"
        )


def dataset_title(config: dict | None, dataset: str) -> str:
    """How the tables and the scorecard name a dataset: its `datasets.<name>.title`; its name where
    the config gives none (a dataset added without one) or a page is made with no config at hand."""
    entry = (config or {}).get("datasets", {}).get(dataset) or {}
    return entry.get("title", dataset)


def cell_spec(config: dict, dataset: str, model: str, dz: int, seed: int) -> dict:
    """Everything that determines one training cell's result (and nothing else), JSON-serialisable.

    Run settings (device, training.RUN_SETTINGS) are left out: see `with_run_settings`.
    """
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r}; valid models: {', '.join(MODELS)}")
    check_dataset(config, dataset)
    _check_architecture(config, dataset, model, dz, "dz")
    ds = config["datasets"][dataset]
    width = latent_width(config, dataset, model)
    training = {k: v for k, v in config["training"].items() if k not in RUN_SETTINGS}
    for key in ("fast_path", "seed_fusion"):
        if not training.get(key):
            # the exact path, and an unfused cell, are named by the key's absence: their specs
            # (and resume digests) stay those of every cell trained before these switches existed
            training.pop(key, None)
    fused = {"fused_seeds": fused_seeds(config, model, seed)} if training.get("seed_fusion") else {}
    return {
        "dataset": dataset,
        "model": model,
        "dz": int(dz),
        "seed": int(seed),
        "architecture": {
            "colors": ds["colors"],
            "depth": ds["depth"],
            "latent_width": width,
            "latent_channels": int(dz) // (width * width),
        },
        "classes": ds["classes"],
        "model_options": model_options(config, model),
        "training": copy.deepcopy(training),
        "evaluation": copy.deepcopy(config["evaluation"].get(dataset, {})),
        "data": data_spec(config, dataset),
        **fused,
    }


def fused_seeds(config: dict, model: str, seed: int) -> list[int]:
    """The seeds trained together with `seed` under seed fusion: the configured seeds, in order.
    They are in each of its cells' specs: the group is the unit of training (its bits depend on
    the group), so another set of seeds is another group, trained again."""
    reason = unfusable_reason(MODELS[model])
    if reason:
        raise ConfigError(f"config key 'training.seed_fusion': {reason}")
    seeds = [int(s) for s in config["seeds"]]
    if int(seed) not in seeds:
        raise ConfigError(
            f"seed {seed} is not one of the configured seeds {seeds}: under training.seed_fusion the "
            "configured seeds train as one group; add the seed to `seeds` (that group then trains again)"
        )
    return seeds


def model_options(config: dict, model: str) -> dict:
    """The options of `model` in a validated config, in the order the model declares them (one
    order whichever files set which option)."""
    return copy.deepcopy(MODELS[model].filled_options(config["models"][model]))


def with_run_settings(spec: dict, config: dict) -> dict:
    """`spec` plus the run settings of `config` (device, scale name, reporting intervals, the
    reporting rule whose evaluations the job makes, where the prepared data lie now), for the job."""
    spec = copy.deepcopy(spec)
    spec.update({key: config[key] for key in TOP_RUN_SETTINGS})
    spec[REPORT_RULE] = copy.deepcopy(config["tables"]["report_rule"])
    spec["training"].update({k: config["training"][k] for k in RUN_SETTINGS})
    if spec.get("data") and DATA_CONTENT in spec["data"]:
        spec["data"][DATA_LOCATION] = data_file(config, spec["dataset"])
    return spec


# A real-data cell's spec names its prepared data by content: DATA_CONTENT, a digest of what the
# prepared file's content depends on (data.sources.<d>: format and accepted md5s). Where the file
# lies (DATA_LOCATION) is a run setting the job adds: the same data elsewhere retrain nothing.
# Specs written before held the location alone (LEGACY: {"path": ...}); `comparable_spec` reads
# them as trained on the configured data, and their path stays part of their own digest.
DATA_CONTENT, DATA_LOCATION = "content", "path"


def data_file(config: dict, dataset: str) -> str:
    """Where a real dataset's prepared HDF5 file lies under the configured data folder."""
    return f"{config['data']['data_dir']}/{dataset}.h5"


def source_content(config: dict, dataset: str) -> dict:
    """What a prepared file's content depends on: the format and each file's accepted md5s.

    Where the files come from (path, URLs, mirrors) and how they are downloaded do not change
    the verified content: they stay out of it."""
    return content_of_source(config["data"]["sources"][dataset])


def content_of_source(source: dict) -> dict:
    """`source_content` of one `data.sources` entry."""
    files = {key: {"name": f["name"], "md5": list(f["md5"])} for key, f in (source.get("files") or {}).items()}
    return {"format": source["format"], "files": files}


def content_digest(content: dict) -> str:
    """The digest naming prepared data by what their content depends on (`source_content`)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def data_spec(config: dict, dataset: str) -> dict | None:
    """Which prepared data a real-data cell trains on (by content, not where they lie) and which of
    their splits it uses."""
    if dataset == "lines":
        return None
    ds = config["datasets"][dataset]
    return {
        DATA_CONTENT: content_digest(source_content(config, dataset)),
        "train_splits": list(ds["train_splits"]),
        "test_split": ds["test_split"],
        "max_examples": ds["max_examples"],
    }


def spec_core(spec: dict) -> dict:
    """`spec` without its run settings: what determines a cell's weights (as `cell_spec`)."""
    core = copy.deepcopy(spec)
    for key in (*TOP_RUN_SETTINGS, REPORT_RULE):
        core.pop(key, None)
    for key in RUN_SETTINGS:
        core["training"].pop(key, None)
    if core.get("data") and DATA_CONTENT in core["data"]:
        core["data"].pop(DATA_LOCATION, None)  # a location, not the data: a run setting
    return core


def is_located_spec(spec: dict) -> bool:
    """A real-data spec written before data were named by content: it names them by path alone."""
    data = spec.get("data")
    return isinstance(data, dict) and DATA_CONTENT not in data and DATA_LOCATION in data


def comparable_spec(recorded: dict, expected: dict) -> dict:
    """`recorded` in the form of `expected` where the two differ by form only: a spec naming its
    data by path (written before content digests) is read as trained on the data `expected`
    names, its other settings kept (those records were written when a cell's data were the
    configured source's data at that path; the path never said more about their content); a
    spec holding LEGACY_TRAINING_KEYS is read without them. Its own digest (spec_digest) keeps
    its form, so that a checkpoint written under it still resumes."""
    comparable = recorded
    if has_legacy_keys(recorded):
        comparable = copy.deepcopy(recorded)
        for key in LEGACY_TRAINING_KEYS:
            comparable["training"].pop(key, None)
    if not (is_located_spec(recorded) and (expected.get("data") or {}).get(DATA_CONTENT)):
        return comparable
    comparable = copy.deepcopy(comparable)
    located = comparable["data"]
    comparable["data"] = {
        DATA_CONTENT: expected["data"][DATA_CONTENT],
        **{k: v for k, v in located.items() if k != DATA_LOCATION},
    }
    return comparable


def kept_spec(recorded: dict | None, expected: dict) -> dict:
    """The spec rule cell_spec records: `recorded` (a cell's spec.json) where it says what `expected`
    says in its older form (data by path, legacy training keys), so Snakemake sees the same params
    and retrains nothing; else `expected`."""
    if (
        recorded is not None
        and (is_located_spec(recorded) or has_legacy_keys(recorded))
        and spec_core(comparable_spec(recorded, expected)) == spec_core(expected)
    ):
        return recorded
    return expected


def has_legacy_keys(spec: dict) -> bool:
    """A spec written while it held training keys that no longer determine a result."""
    return any(key in (spec.get("training") or {}) for key in LEGACY_TRAINING_KEYS)


def spec_digest(spec: dict) -> str:
    """Hash of what determines a cell's weights: run settings excluded, so a checkpoint taken
    under another device or reporting interval is still a valid starting point."""
    return hashlib.sha256(json.dumps(spec_core(spec), sort_keys=True).encode()).hexdigest()[:16]


DEFAULT_CONFIG = CONFIG_DIR / "config.yaml"  # the paper's protocol, under every overlay


def main(argv: list[str] | None = None) -> int:
    """`python -m acai_repro.config [FILE...]`: check config/config.yaml with the overlays layered
    on it as Snakemake layers `--configfile` files; names the file and line of a YAML error."""
    parser = argparse.ArgumentParser(
        prog="python -m acai_repro.config",
        description=f"Check {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parent.parent)} with overlays layered on it "
        "in order (as snakemake --configfile does) against config/schema.yaml; exit 1 naming what is invalid.",
    )
    parser.add_argument("overlays", nargs="*", metavar="FILE", help="a YAML overlay, e.g. config/quick.yaml")
    paths = [str(DEFAULT_CONFIG), *parser.parse_args(argv).overlays]
    try:
        load_config(*paths)
    except ConfigError as error:
        print(f"invalid configuration: {error}", file=sys.stderr)
        return 1
    print(f"valid: {' + '.join(paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
