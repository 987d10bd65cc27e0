"""Why a target names no file of the workflow, in words, before Snakemake builds its DAG.

Snakemake's own answer to a target that no rule makes is "No rule to produce ...", and a dz of
many repeated digits trips its guard against endless recursion (PeriodicWildcardError). The
Snakefile checks the targets of the command line against the rules' output patterns first:
a value that breaks a wildcard's rule (dz064, dz0, seed-1, seed00, ACAI, Lines, an unknown
model), a file name that differs only in case (metrics.JSON), a dz beyond the bound, or a file
that no rule makes (table9.tex) each get a sentence and the valid choices.
"""

from __future__ import annotations

import difflib
import os
import re
import sys

from snakemake.cli import get_argument_parser

from acai_repro.config import DATASET_NAME, max_dz
from acai_repro.models import MODELS
from acai_repro.results import other_spelling, workflow_path

# The wildcards' rules: rules/common.smk's wildcard_constraints use these very patterns.
WILDCARDS = {
    "dataset": DATASET_NAME,
    "model": "|".join(MODELS),
    "dz": r"[1-9]\d*",  # no dz0 (nothing to train), no dz064 (a second directory for dz 64)
    "seed": r"0|[1-9]\d*",
}
_FIELD = re.compile(r"\{(\w+)\}")


def _regex(pattern: str, constrained: bool, flags=0) -> re.Pattern:
    parts, last = [], 0
    for field in _FIELD.finditer(pattern):
        parts.append(re.escape(pattern[last : field.start()]))
        name = field.group(1)
        rule = WILDCARDS.get(name, "[^/]+") if constrained else "[^/]+?"
        parts.append(f"(?P<{name}>{rule})")
        last = field.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts), flags)


def _why_value(name: str, value: str, config: dict) -> str | None:
    """What is wrong with one wildcard value, or None if it keeps its wildcard's rule."""
    if name not in WILDCARDS or re.fullmatch(WILDCARDS[name], value):
        return None
    if name in ("dz", "seed"):
        if value.isdigit() and int(value) == 0 and name == "dz":
            return "dz0: dz must be at least 1 (a latent of size 0 trains nothing)"
        if value.isdigit():
            spelt = f"{name}{int(value)}"
            return f"{name}{value}: write {name} without leading zeros ({spelt}): each value has one spelling"
        kind = "a positive integer" if name == "dz" else "an integer ≥ 0 (config `seeds`)"
        return f"{name}{value}: {name} is {kind}, written in digits"
    if name == "model":
        valid = ", ".join(MODELS)
        if value.lower() in MODELS:
            return f"model {value!r}: model names are lower-case ({value.lower()}); models: {valid}"
        return f"unknown model {value!r}; models: {valid}"
    datasets = ", ".join(config["datasets"])
    if value.lower() in config["datasets"]:
        return f"dataset {value!r}: dataset names are lower-case ({value.lower()}); datasets: {datasets}"
    return f"dataset {value!r} is not a dataset name; datasets: {datasets}"


def _check_values(values: dict, config: dict) -> str | None:
    """A dz beyond the dataset's bound (an unknown dataset is named when the DAG is built)."""
    if "dataset" not in values or values["dataset"] not in config["datasets"]:
        return None
    if "dz" in values and int(values["dz"]) > max_dz(config, values["dataset"]):
        return (
            f"dz{values['dz']}: more than the {max_dz(config, values['dataset'])} values of one "
            f"{values['dataset']} image; dz must be at most {max_dz(config, values['dataset'])}"
        )
    return None


def explain(target: str, patterns, config: dict) -> str | None:
    """Why `target` is not a file the workflow makes; None when some output pattern makes it."""
    if target.endswith((".yaml", ".yml")) and not any(p.endswith((".yaml", ".yml")) for p in patterns):
        return (
            "a config file, not a target (no rule makes a YAML file): layer config files after "
            f"one --configfile, then end the list with -- before the targets: --configfile A.yaml {target} -- "
            "TARGET (--configfile=A.yaml takes one file only)"
        )
    target = workflow_path(target)
    for pattern in patterns:
        match = _regex(pattern, constrained=True).fullmatch(target)
        if match:
            return _check_values(match.groupdict(), config)
    other = other_spelling(target)
    if any(_regex(pattern, constrained=True).fullmatch(other) for pattern in patterns):
        kind = "as an absolute path" if os.path.isabs(other) else "relative to the working directory"
        return f"the config names this folder {kind} (results_dir, data.data_dir): write the target so too ({other})"
    reasons = _near_misses(target, patterns, config)
    if reasons:
        return reasons
    if os.path.exists(target):
        return None  # an existing file that no rule makes: Snakemake has nothing to do
    return _no_such_file(target, patterns)


def _near_misses(target: str, patterns, config: dict) -> str | None:
    """The wildcard values that break their rules, for the pattern with fewest of them; or the
    file in the right case."""
    best = None
    for pattern in patterns:
        match = _regex(pattern, constrained=False).fullmatch(target)
        if match:
            reasons = [r for name, v in match.groupdict().items() if (r := _why_value(name, v, config))]
            if reasons and (best is None or len(reasons) < len(best)):
                best = reasons
    if best:
        return "; ".join(best)
    for pattern in patterns:
        match = _regex(pattern, constrained=False, flags=re.IGNORECASE).fullmatch(target)
        if match:
            meant = pattern.format(**match.groupdict())
            return f"file names are case-sensitive: did you mean {meant}?"
    return None


def _no_such_file(target: str, patterns) -> str:
    """The closest files the workflow makes, among those as deep in results/ as the target."""
    depth = target.count("/")
    level = sorted({p for p in patterns if p.count("/") == depth}) or sorted(set(patterns))
    close = difflib.get_close_matches(target, level, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"no rule makes it; {hint}the workflow makes, at this level: {', '.join(level)}"


def command_line_targets(argv=None) -> list[str]:
    """The targets of a `snakemake` command line (empty when this process is not one)."""
    argv = sys.argv if argv is None else argv
    if not argv or "snakemake" not in argv[0]:  # bin/snakemake, or python -m snakemake's __main__
        return []
    try:
        parsed, rest = get_argument_parser().parse_known_args(argv[1:])
    except (SystemExit, Exception):
        return []  # a command line this check does not understand: Snakemake answers it
    after_dashes = rest[rest.index("--") + 1 :] if "--" in rest else []
    return [*parsed.targets, *after_dashes]


def check_targets(targets, rule_names, patterns, config: dict) -> list[str]:
    """One line per target that names no file of the workflow (rule names are fine)."""
    return [f"{t}: {why}" for t in targets if t not in rule_names and (why := explain(t, patterns, config))]
