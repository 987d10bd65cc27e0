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
from acai_repro.training.packs import dissolve_targeted, training_packs
from acai_repro.results import (
    SPEC_FILE,
    DamagedRecordError,
    check_scale_root,
    dataset_pattern,
    normalise_paths,
    read_cell_spec,
    write_cell_spec,
)
from acai_repro.table_registry import SCORECARD, TABLES
from acai_repro.grid.targets import WILDCARDS, command_line_targets

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
    # acai_repro.grid.targets explains a target that breaks one of them; {dataset} is never another
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


def table_files(name, filename, seeds=None):
    """A file of every cell of a table (acai_repro.table_registry), by explicit expansion (a
    missing cell fails the table): of the config's seeds, or of `seeds`."""
    return [
        f"{cell_directory(cell, RESULTS)}/{filename}"
        for cell in TABLES[name].cells(config, seeds)
    ]


def pixel_files(name):
    """The raw-pixel record of each dataset of a table (none for a table without pixels)."""
    table = TABLES[name]
    if table.pixels is None:
        return []
    return [
        f"{RESULTS}/{dataset}/pixels/{table.pixels}"
        for dataset in table.datasets(config)
    ]


def figure_models(wildcards):
    return table_files("table1", "model.pt", [config["figures"]["seed"]])


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


# The evaluations that read a cell's latent codes, or a dataset's raw pixels, each into its own
# record (the tables' records other than metrics.json: acai_repro.table_registry): the config
# section of its options, and whether it runs on a GPU.
EVALUATIONS = {
    "probe": {"options": "probe", "gpu": False},
    "kmeans": {"options": "clustering", "gpu": True},
}


def evaluation_resources(kind):
    """A probe's or K-Means's resources: those of every evaluation job, and a GPU for K-Means (a
    GPU run: resources.evaluate.gpu 1 counts it with the training jobs, docs/gpu.md)."""
    gpu = {"gpu": config["resources"]["evaluate"]["gpu"]}
    return {**job_resources("evaluate"), **(gpu if EVALUATIONS[kind]["gpu"] else {})}


def downstream_params(kind):
    """Parameters of a probe or K-Means job: a change to them reruns those jobs only."""
    return {
        "options": config[kind],
        "train_split": "train",
        "test_split": _dataset_setting("test_split"),
        "classes": _dataset_setting("classes"),
        "limit": _dataset_setting("max_examples"),
    }


def table_inputs(table):
    """A table rule's inputs: each cell's record, and each dataset's raw-pixel record."""
    inputs = {"cells": table_files(table.name, table.record)}
    if table.pixels:
        inputs["pixels"] = pixel_files(table.name)
    return inputs


def table_params(table):
    """A table rule's params: what it shows (Table 1: its models, seeds and records; Tables 2-3:
    their cells, models, seeds, record key, paper table and title), the std's ddof, and the
    reporting rule where it reads trained cells' histories (the probe and K-Means read the final
    weights: changing the rule does not rerun them)."""
    if table.pixels is None:
        params = {
            "models": config[table.paper]["models"],
            "seeds": config["seeds"],
            "sources": table_files(table.name, table.record),
        }
    else:
        params = {
            "cells": config[table.paper]["cells"],
            "models": config[table.paper]["models"],
            "seeds": config["seeds"],
            "key": table.key,
            "table": table.paper,
            "title": table.title,
        }
    params["std_ddof"] = config["tables"]["std_ddof"]
    if table.reads_history:
        params["report_rule"] = config["tables"]["report_rule"]
    return params


def scorecard_inputs():
    """Every record the scorecard reads, the inputs of rule reproduction. Each judged table's cells
    (and pixels), then the training records of the cells it names the images of."""
    inputs = {}
    for name in SCORECARD.judged:
        inputs[name] = table_files(name, TABLES[name].record)
        if TABLES[name].pixels:
            inputs[f"{name}_pixels"] = pixel_files(name)
    for name in SCORECARD.training_of:
        inputs[f"{name}_training"] = table_files(name, "metrics.json")
    return inputs


def scorecard_sources():
    """The judged tables' records, in order (rule reproduction's params)."""
    return [
        path
        for name in SCORECARD.judged
        for path in [*table_files(name, TABLES[name].record), *pixel_files(name)]
    ]


def curve_inputs(wildcards):
    """metrics.json of every model and seed of one (dataset, dz) cell of the tables."""
    if wildcards.dataset == config["table1"]["dataset"]:
        return table_files("table1", "metrics.json")
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
    """Rule name -> cells of each training pack (resources.train.pack > 1; acai_repro.training.packs).

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
