# Configuration checks, wildcard constraints and input helpers shared by every rule.
import os
import sys

import torch

sys.path.insert(0, workflow.basedir)  # the acai_repro package beside this Snakefile

from acai_repro.config import (
    ConfigError,
    cell_spec,
    check_dataset,
    data_file as prepared_file,
    kept_spec,
    table1_cells,
    validate_config,
)
from acai_repro.cells import CELL_FOLDERS, cell_directory, cell_folders, group_folders
from acai_repro.packs import dissolve_targeted, training_packs
from acai_repro.results import (
    SPEC_FILE,
    DamagedRecordError,
    check_scale_root,
    dataset_pattern,
    normalise_paths,
    read_cell_spec,
    write_cell_spec,
)
from acai_repro.tables import GRID_TABLES
from acai_repro.targets import WILDCARDS, command_line_targets

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None
# ./results/smoke, results/../results/smoke or an absolute path to the same folder: one root
normalise_paths(config)
try:
    check_scale_root(config, workflow.overwrite_configfiles)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None


def check_local_device(local_exec):
    """`device: cuda` where jobs run here (not on cluster nodes) needs CUDA here: refused as
    the run starts, before any job, not by the first training job."""
    if local_exec and config["device"] == "cuda" and not torch.cuda.is_available():
        raise WorkflowError(
            "invalid configuration: config key 'device': cuda, but this machine has no CUDA "
            "device (torch.cuda.is_available() is false): set device: cpu, or auto (CUDA where "
            "present), or run where a GPU is"
        )
    if local_exec and config["training"]["conv_tf32"] and not torch.cuda.is_available():
        # device: cpu is refused with the config; auto falls back to the CPU here
        raise WorkflowError(
            "invalid configuration: config key 'training.conv_tf32': true, but this machine has no "
            "CUDA device, so the jobs run here on the CPU, where convolutions are float32 either way "
            "(the cells would retrain for identical numbers): set training.conv_tf32: false, or run "
            "where a GPU is"
        )


onstart:
    check_local_device(workflow.local_exec)


# This scale's outputs (tables, figures, cells, logs, benchmarks): scales coexist side by side.
RESULTS = config["results_dir"]


wildcard_constraints:
    # acai_repro.targets explains a target that breaks one of them; {dataset} is never another
    # scale's root folder: results/quick/... is not the dataset 'quick' of results/
    **{**WILDCARDS, "dataset": dataset_pattern(RESULTS)},


CELL = f"{RESULTS}/{CELL_FOLDERS}"


def target_error(error):
    """A bad target (unknown dataset, impossible dz) as one message, without a traceback."""
    return WorkflowError(f"invalid target: {error}")


def train_spec(wildcards):
    """What determines one cell's result: a change to it reruns that cell only. Run settings
    (device, reporting intervals, where the data lie) are not in it; the job reads them from the
    config. A spec.json naming the data by path (written before data were named by content) that
    otherwise says the same is kept as it is: the same params, nothing retrained."""
    try:
        spec = cell_spec(
            config,
            wildcards.dataset,
            wildcards.model,
            int(wildcards.dz),
            int(wildcards.seed),
        )
    except ConfigError as error:
        raise target_error(error) from None
    return kept_spec(recorded_cell_spec(wildcards), spec)


def recorded_cell_spec(wildcards):
    """The spec in the cell's spec.json; None where it has none (or a damaged one: rewritten)."""
    path = f"{cell_directory((wildcards.dataset, wildcards.model, wildcards.dz, wildcards.seed), RESULTS)}/{SPEC_FILE}"
    if wildcards.dataset == "lines" or not os.path.isfile(path):
        return None
    try:
        return read_cell_spec(path)
    except DamagedRecordError:
        return None


def table1_files(filename, seeds):
    """A file of every Table 1 cell (each model at its own dz), for the given seeds."""
    dataset = config["table1"]["dataset"]
    return [
        f"{cell_directory((dataset, model, dz, seed), RESULTS)}/{filename}"
        for model, dz in table1_cells(config)
        for seed in seeds
    ]


def table1_metrics(wildcards):
    """Every cell of Table 1, by explicit expansion (a missing cell fails the table)."""
    return table1_files("metrics.json", config["seeds"])


def figure_models(wildcards):
    return table1_files("model.pt", [config["figures"]["seed"]])


def samples_model(wildcards):
    """The model whose prior samples make Fig. 5 (figures.samples_model, the VAE): its Table 1
    cell, at table1.dz when Table 1 does not hold it."""
    table, figures = config["table1"], config["figures"]
    model = figures["samples_model"]
    dz = dict(table1_cells(config)).get(model, table["dz"])
    return f"{cell_directory((table['dataset'], model, dz, figures['seed']), RESULTS)}/model.pt"


def interpolation_models(wildcards):
    """The model.pt of every Table 2 model of one (dataset, dz), at the figures' seed."""
    return expand(
        f"{CELL}/model.pt",
        dataset=wildcards.dataset,
        model=config["table2"]["models"],
        dz=wildcards.dz,
        seed=config["figures"]["seed"],
    )


DATA_DIR = config["data"]["data_dir"]


def data_file(dataset):
    """The prepared HDF5 file of a real (image) dataset."""
    try:
        check_dataset(config, dataset)
    except ConfigError as error:
        raise target_error(error) from None
    if dataset not in config["data"]["sources"]:
        real = ", ".join(config["data"]["sources"])
        raise target_error(
            f"dataset {dataset!r} has no data file (the lines are drawn on the fly): "
            f"latents, probes, K-Means and image figures need one of {real}"
        )
    return prepared_file(
        config, dataset
    )  # where the job reads it too (config.with_run_settings)


def train_data(wildcards):
    """The prepared HDF5 file a cell trains on (the lines are synthetic: none)."""
    return [] if wildcards.dataset == "lines" else data_file(wildcards.dataset)


def split_names(dataset):
    return sorted({"train", config["datasets"][dataset]["test_split"]})


def _dataset_setting(key):
    return lambda w: config["datasets"][w.dataset][key]


def downstream_params(kind):
    """Parameters of a probe or K-Means job: a change to them reruns those jobs only."""
    return {
        "options": config[kind],
        "train_split": "train",
        "test_split": _dataset_setting("test_split"),
        "classes": _dataset_setting("classes"),
        "limit": _dataset_setting("max_examples"),
    }


def grid_inputs(table, filename):
    """Every cell x model x seed of Table 2 or 3, by explicit expansion."""
    return [
        f"{cell_directory((dataset, model, dz, seed), RESULTS)}/{filename}"
        for dataset, dz in config[table]["cells"]
        for model in config[table]["models"]
        for seed in config["seeds"]
    ]


def pixel_inputs(table, filename):
    datasets = dict.fromkeys(dataset for dataset, _ in config[table]["cells"])
    return [f"{RESULTS}/{dataset}/pixels/{filename}" for dataset in datasets]


def scorecard_sources(wildcards):
    """Every record the scorecard reads (rule reproduction's inputs)."""
    return [
        *table1_metrics(wildcards),
        *grid_inputs("table2", "metrics.json"),
        *pixel_inputs("table2", "probe.json"),
        *grid_inputs("table3", "kmeans.json"),
        *pixel_inputs("table3", "kmeans.json"),
    ]


def grid_params(name):
    """A Table 2-3 output's params: its paper table, record key and title (tables.GRID_TABLES)."""
    table, _, key, _, title = GRID_TABLES[name]
    return {
        "cells": config[table]["cells"],
        "models": config[table]["models"],
        "seeds": config["seeds"],
        "key": key,
        "table": table,
        "title": title,
    }


def curve_inputs(wildcards):
    """metrics.json of every model and seed of one (dataset, dz) cell of the tables."""
    if wildcards.dataset == config["table1"]["dataset"]:
        return table1_files("metrics.json", config["seeds"])
    return expand(
        f"{CELL}/metrics.json",
        dataset=wildcards.dataset,
        model=config["table2"]["models"],
        dz=wildcards.dz,
        seed=config["seeds"],
    )


def job_resources(kind):
    """Scheduling settings of one kind of job (config `resources.<kind>`), defined here once for
    every rule; they place a job and never rerun one."""
    settings = config["resources"][kind]
    return {"mem_mb": settings["mem_mb"], "runtime": settings["runtime"]}


def train_packs():
    """Rule name -> cells of each training pack (resources.train.pack > 1; acai_repro.packs).

    A command-line target inside a cell's directory dissolves the pack holding that cell, so
    asking for one cell trains it alone (train_cell). SLURM jobs are started with
    --target-jobs and no targets: they define every pack, and run the rule the head process
    chose by its name (a pack, or train_cell for a dissolved pack's cell).
    """
    return dissolve_targeted(training_packs(config), command_line_targets(), RESULTS)


def share_train_cell_resources(rule_names):
    """Give the pack rules what a profile sets for train_cell (`set-resources: train_cell:`
    partition, GPU, memory, runtime, slurm_extra): a pack is a training job too, and its rule
    name comes from the config, so a profile cannot name it."""
    overrides = workflow.resource_settings.overwrite_resources
    if "train_cell" in overrides:
        for name in rule_names:
            overrides.setdefault(name, overrides["train_cell"])


def training_rules(packs):
    """Name -> cells of each training rule, train_cell's being None (any one cell, by its
    wildcards; under seed fusion its group of seeds), then each pack's."""
    return {"train_cell": None, **packs}


# Under seed fusion (training.seed_fusion) train_cell trains a cell's group of seeds as one: its
# wildcards are the dataset, model and dz, and its outputs every configured seed's.
FUSED = config["training"]["seed_fusion"]
GROUP_WILDCARDS = ("{dataset}", "{model}", "{dz}")


def training_files(cells, filename):
    """A file of each cell that a training job trains; cells None means the wildcards' cell
    (under seed fusion, the wildcards' group of seeds)."""
    if cells is None and FUSED:
        return [
            f"{RESULTS}/{cell_folders(*GROUP_WILDCARDS, seed)}/{filename}"
            for seed in config["seeds"]
        ]
    if cells is None:
        return [f"{CELL}/{filename}"]
    return [f"{cell_directory(cell, RESULTS)}/{filename}" for cell in cells]


def training_data(cells):
    """The prepared HDF5 files the cells train on (the lines: none)."""
    if cells is None:
        return train_data
    datasets = dict.fromkeys(dataset for dataset, *_ in cells if dataset != "lines")
    return [data_file(dataset) for dataset in datasets]


def training_record(kind, rule_name, cells, suffix):
    """The log or benchmark file of a training job: per cell (per group of seeds under seed
    fusion), or per pack."""
    if cells is None and FUSED:
        return f"{RESULTS}/{kind}/train/{group_folders(*GROUP_WILDCARDS, config['seeds'])}.{suffix}"
    if cells is None:
        return f"{RESULTS}/{kind}/train/{CELL_FOLDERS}.{suffix}"
    return f"{RESULTS}/{kind}/train/packs/{rule_name}.{suffix}"
