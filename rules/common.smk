# Configuration checks, wildcard constraints and input helpers shared by every rule.
import os
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


DATA_DIR = config["data"]["data_dir"]


def data_file(dataset):
    return f"{DATA_DIR}/{dataset}.h5"


def train_data(wildcards):
    """The prepared HDF5 file a cell trains on (the lines are synthetic: none)."""
    return [] if wildcards.dataset == "lines" else data_file(wildcards.dataset)


def data_source(dataset):
    """The configured source of a dataset; a relative path is relative to this workflow."""
    source = dict(config["data"]["sources"][dataset])
    if source.get("path") and not os.path.isabs(source["path"]):
        source["path"] = os.path.join(workflow.basedir, source["path"])
    return source


def split_names(dataset):
    return sorted({"train", config["datasets"][dataset].get("test_split", "test")})


def _dataset_setting(key, default=None):
    return lambda w: config["datasets"][w.dataset].get(key, default)


def downstream_params(kind):
    """Parameters of a probe or K-Means job: a change to them reruns those jobs only."""
    return {
        "options": config[kind],
        "train_split": "train",
        "test_split": _dataset_setting("test_split", "test"),
        "classes": _dataset_setting("classes"),
        "limit": _dataset_setting("max_examples"),
        "device": config["device"],
    }


def grid_inputs(table, filename):
    """Every cell x model x seed of Table 2 or 3, by explicit expansion."""
    return [
        f"results/{dataset}/{model}/dz{dz}/seed{seed}/{filename}"
        for dataset, dz in config[table]["cells"]
        for model in config[table]["models"]
        for seed in config["seeds"]
    ]


def pixel_inputs(table, filename):
    datasets = dict.fromkeys(dataset for dataset, _ in config[table]["cells"])
    return [f"results/{dataset}/pixels/{filename}" for dataset in datasets]


def grid_params(table, key, title):
    return {
        "cells": config[table]["cells"],
        "models": config[table]["models"],
        "seeds": config["seeds"],
        "key": key,
        "table": "table3" if table == "table3" else "table2",
        "title": title,
    }


def curve_inputs(wildcards):
    """metrics.json of every model and seed of one (dataset, dz) cell of the tables."""
    table = "table1" if wildcards.dataset == config["table1"]["dataset"] else "table2"
    return expand(
        f"{CELL}/metrics.json",
        dataset=wildcards.dataset,
        model=config[table]["models"],
        dz=wildcards.dz,
        seed=config["seeds"],
    )


def job_resources(kind):
    """Scheduling settings of one kind of job (config `resources.<kind>`), defined here once for
    every rule; they place a job and never rerun one."""
    settings = config["resources"][kind]
    return {"mem_mb": settings["mem_mb"], "runtime": settings["runtime"]}
