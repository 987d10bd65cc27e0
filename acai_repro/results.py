"""Where a scale's results live, and which spec each training cell was trained under.

Each scale (the paper's protocol, quick, smoke, ...) writes under its own `results_dir`, so
the paper's `results/` holds the other shipped scales' roots (`results/quick/`, ...) beside
its own dataset folders: `dataset_pattern` keeps a nested root from ever being read as a
dataset of the enclosing scale.

A cell's recorded spec says what it was trained under: `metrics.json` once finished, and
`spec.json` (written as a job starts, `write_started_spec`) while it runs. `spec_differences`
compares a recorded spec with the one a config resolves to, run settings excluded.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from acai_repro.cells import cell_of_path
from acai_repro.config import (
    CONFIG_DIR,
    DATASET_NAME,
    ConfigError,
    cell_spec,
    comparable_spec,
    read_yaml,
    spec_core,
    spec_digest,
)
from acai_repro.files import write_json

SPEC_FILE = "spec.json"
DEFAULT_RESULTS_DIR = "results"


def _normal(path: str) -> str:
    return os.path.normpath(path)


def workflow_path(path: str) -> str:
    """One spelling of a path for the workflow's patterns and targets: normalised
    (./results/smoke and results/../results/smoke are results/smoke), absolute where written so
    (Snakemake matches an absolute target against absolute patterns only)."""
    return os.path.normpath(path)


def other_spelling(path: str, cwd: str | None = None) -> str:
    """`path` relative to the working directory if it is absolute, absolute if it is relative."""
    cwd = os.path.abspath(cwd or os.getcwd())
    return os.path.relpath(path, cwd) if os.path.isabs(path) else os.path.normpath(os.path.join(cwd, path))


def normalise_paths(config: dict) -> dict:
    """`results_dir` and `data.data_dir` in their one spelling (workflow_path), in place."""
    config["results_dir"] = workflow_path(config["results_dir"])
    config["data"]["data_dir"] = workflow_path(config["data"]["data_dir"])
    return config


def scale_roots(config_dir: Path = CONFIG_DIR) -> list[str]:
    """The results_dir of every shipped scale (config/*.yaml; the default where unset)."""
    roots = []
    for path in sorted(Path(config_dir).glob("*.yaml")):
        if path.name == "schema.yaml":
            continue
        try:
            roots.append(read_yaml(path).get("results_dir", DEFAULT_RESULTS_DIR))
        except ConfigError:
            continue  # a broken file beside the scales is no scale; the run using it says why
    return roots


def nested_roots(results_dir: str, roots: list[str]) -> list[str]:
    """The first folder, under `results_dir`, of each root that lies strictly inside it."""
    base = _normal(results_dir)
    names = []
    for root in map(_normal, roots):
        relative = os.path.relpath(root, base)
        if root != base and not relative.startswith(".."):
            names.append(relative.split(os.sep)[0])
    return sorted(set(names))


def dataset_pattern(results_dir: str, roots: list[str] | None = None) -> str:
    """The {dataset} wildcard's constraint: a dataset name that is not another scale's root
    folder under `results_dir` (results/quick/... is never the dataset 'quick' of the paper)."""
    nested = nested_roots(results_dir, scale_roots() if roots is None else roots)
    if not nested:
        return DATASET_NAME
    return f"(?!(?:{'|'.join(map(re.escape, nested))})/){DATASET_NAME}"


# ---- the spec a cell was trained under ---------------------------------------------------
class DamagedRecordError(ValueError):
    """A record file that cannot be read as what it should be (named, with what is wrong)."""


def read_record(path) -> dict:
    """A JSON record (metrics.json, kmeans.json, probe.json, spec.json) as a dict;
    DamagedRecordError naming the file and what is wrong (empty, cut short, not JSON, not an
    object, unreadable) instead of a JSONDecodeError traceback."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DamagedRecordError(f"{path}: damaged record: not text (UTF-8)") from None
    except IsADirectoryError:
        raise DamagedRecordError(f"{path}: damaged record: a folder, not a file") from None
    if not text.strip():
        raise DamagedRecordError(f"{path}: damaged record: the file is empty")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DamagedRecordError(
            f"{path}: damaged record: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}); "
            "cut short or overwritten: rerun the job that writes it"
        ) from None
    if not isinstance(record, dict):
        raise DamagedRecordError(f"{path}: damaged record: a JSON {type(record).__name__}, not an object")
    return record


def record_number(record: dict, key: str, path, may_be_undefined: bool = False) -> float:
    """`record[key]` as a float; DamagedRecordError naming the file where it is not a number
    (a string, a list...), or NaN/null where the value can never be undefined."""
    value = record.get(key)
    if value is None and may_be_undefined:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        shown = "missing" if key not in record else f"{value!r}, a {type(value).__name__}, not a number"
        raise DamagedRecordError(f"{path}: damaged record: {key!r} is {shown}")
    if math.isnan(value) and not may_be_undefined:
        raise DamagedRecordError(
            f"{path}: damaged record: {key!r} is NaN, a value that is never undefined (only a collapsed "
            "model's Smoothness is); restore the file or rerun the job that writes it"
        )
    return float(value)


def _write_spec_record(path: Path, spec: dict) -> None:
    """`spec` and its digest as a JSON record at `path` (atomically), its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"spec": spec, "spec_digest": spec_digest(spec)})


def write_cell_spec(path, spec: dict) -> None:
    """A cell's spec.json: what determines its result (rule cell_spec; training reads it)."""
    _write_spec_record(Path(path), spec_core(spec))


def read_cell_spec(path) -> dict:
    """The spec in a cell's spec.json, run settings excluded; DamagedRecordError naming the file
    when it is not such a record."""
    path = Path(path)
    try:
        record = read_record(path)
    except (DamagedRecordError, OSError) as error:
        raise DamagedRecordError(f"{error}; delete it to have it written again") from None
    spec = record.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("training"), dict):
        raise DamagedRecordError(
            f"{path}: no 'spec' object with a 'training' section; delete it to have it written again"
        )
    return spec_core(spec)


def write_started_spec(outdir, spec: dict) -> None:
    """Record, as a training job starts, the spec it trains under: `grid status` compares it
    with the config's without loading the torch state. A spec.json already recording the same
    spec (rule cell_spec wrote it) is left as it is: its time is what reruns training."""
    path = Path(outdir) / SPEC_FILE
    if _records_spec(path, spec):
        return
    _write_spec_record(path, spec)


def _records_spec(path: Path, spec: dict) -> bool:
    try:
        return read_cell_spec(path) == spec_core(spec)
    except DamagedRecordError:
        return False


def recorded_spec(record: dict) -> dict | None:
    """The spec in a metrics.json or spec.json record (None when it has none)."""
    return record.get("spec")


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        flat = {}
        for key, sub in value.items():
            flat.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


_ABSENT = object()


def _shown(value) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value)


def spec_differences(recorded: dict, expected: dict) -> list[str]:
    """'key recorded != expected' for each result setting that differs (run settings ignored),
    e.g. 'training.total_images 131072 != 16777216'. A record naming its data by path (written
    before data were named by content) is compared as naming the data `expected` names."""
    old, new = _flatten(spec_core(comparable_spec(recorded, expected))), _flatten(spec_core(expected))
    differing = [key for key in sorted(old.keys() | new.keys()) if old.get(key, _ABSENT) != new.get(key, _ABSENT)]
    return [f"{key} {_shown(old.get(key, _ABSENT))} != {_shown(new.get(key, _ABSENT))}" for key in differing]


# ---- one results root per scale ------------------------------------------------------------
def shipped_scales(config_dir: Path = CONFIG_DIR) -> dict[Path, tuple[str, str]]:
    """Each shipped config file -> (scale_name, results_dir) of its scale (defaults where unset)."""
    scales = {}
    for path in sorted(Path(config_dir).glob("*.yaml")):
        if path.name == "schema.yaml":
            continue
        try:
            data = read_yaml(path)
        except ConfigError:
            continue
        scales[path.resolve()] = (
            str(data.get("scale_name", "paper")),
            str(data.get("results_dir", DEFAULT_RESULTS_DIR)),
        )
    return scales


def own_scale_file(configfiles, config_dir: Path = CONFIG_DIR) -> Path:
    """The shipped config whose scale this run is: the last shipped file layered (config.yaml,
    the paper's, when no other is)."""
    shipped = shipped_scales(config_dir)
    layered = [Path(f).resolve() for f in configfiles if Path(f).resolve() in shipped]
    return layered[-1] if layered else (Path(config_dir) / "config.yaml").resolve()


def check_scale_root(config: dict, configfiles=(), config_dir: Path = CONFIG_DIR) -> None:
    """One results root per scale, before any job (ConfigError naming both): the scale name of
    another shipped config (smoke numbers labelled quick), or a root whose finished cells belong
    to another scale (recorded under another scale_name *and* trained under another spec: this
    config's jobs would retrain and overwrite them). A new name for the same cells, or the own
    scale's root moved elsewhere, is a run setting."""
    name, root = config["scale_name"], config["results_dir"]
    own = own_scale_file(configfiles, config_dir)
    for path, (shipped_name, shipped_root) in shipped_scales(config_dir).items():
        if name == shipped_name and path != own:
            raise ConfigError(
                f"config key 'scale_name': {name!r} is the scale of config/{path.name} (results_dir {shipped_root}), "
                f"but this run is config/{own.name}'s scale (results_dir {root}): its numbers would be labelled "
                f"{name}; give this scale its own name"
            )
    foreign = foreign_cell(config)
    if foreign:
        metrics, recorded, changes = foreign
        raise ConfigError(
            f"config key 'results_dir': {root} holds cells of scale {recorded!r} ({metrics} was trained under "
            f"another spec: {'; '.join(changes[:3])}), and this config is scale {name!r}: its jobs would retrain "
            f"and overwrite them; give scale {name!r} its own results_dir"
        )


def foreign_cell(config: dict):
    """(metrics.json, its scale_name, spec differences) of the first finished cell under the
    results root recorded by another scale under another spec; None when there is none."""
    from_config = config["scale_name"]
    for metrics in sorted(Path(config["results_dir"]).glob("*/*/dz*/seed*/metrics.json")):
        try:
            spec = read_record(metrics).get("spec")
        except (DamagedRecordError, OSError):
            continue  # grid status and the tables name a damaged record
        recorded = spec.get("scale_name") if isinstance(spec, dict) else None
        if recorded in (None, from_config):
            continue
        try:
            changes = spec_differences(spec, cell_spec(config, *cell_of_path(str(metrics))))
        except (ConfigError, KeyError, TypeError):
            continue  # a cell this config does not define: none of its jobs writes there
        if changes:
            return metrics, recorded, changes
    return None
