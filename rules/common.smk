# Configuration checks, wildcard constraints and input helpers shared by every rule.
import sys

sys.path.insert(0, workflow.basedir)  # the acai_repro package beside this Snakefile

from acai_repro.config import ConfigError, cell_spec, validate_config
from acai_repro.models import MODELS

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None


wildcard_constraints:
    dataset="[a-z0-9]+",
    model="|".join(MODELS),
    dz=r"\d+",
    seed=r"\d+",


CELL = "results/{dataset}/{model}/dz{dz}/seed{seed}"


def train_spec(wildcards):
    """The resolved configuration of one cell: a change to it reruns that cell only."""
    return cell_spec(
        config,
        wildcards.dataset,
        wildcards.model,
        int(wildcards.dz),
        int(wildcards.seed),
    )


def table1_metrics(wildcards):
    """Every cell of Table 1, by explicit expansion (a missing cell fails the table)."""
    table = config["table1"]
    return expand(
        f"{CELL}/metrics.json",
        dataset=table["dataset"],
        model=table["models"],
        dz=table["dz"],
        seed=config["seeds"],
    )


def figure_models(wildcards):
    table = config["table1"]
    return expand(
        f"{CELL}/model.pt",
        dataset=table["dataset"],
        model=table["models"],
        dz=table["dz"],
        seed=config["figures"]["seed"],
    )
