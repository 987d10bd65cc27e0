# Snakemake adapter of every training rule: one cell, or a pack of cells in one process (see
# acai_repro.training.train.train_pack). Each cell's spec.json (rule cell_spec) says what determines its
# result; the run settings (device, scale name, reporting intervals) come from the config, so
# changing them, or the pack size, reruns nothing.
from pathlib import Path

from acai_repro.config import with_run_settings
from acai_repro.data import LabelError
from acai_repro.results import DamagedRecordError, read_cell_spec
from acai_repro.snakemake_io import logged
from acai_repro.training.devices import job_device
from acai_repro.training.guard import CellBusyError
from acai_repro.training.train import WriteFailedError, train_pack

# the job's own device of the machine's GPUs, held until it ends (acai_repro.training.devices)
with (
    logged(snakemake, expected=(CellBusyError, LabelError, DamagedRecordError, WriteFailedError)) as log,
    job_device(snakemake.config, f"{snakemake.rule}: {snakemake.log[0]}", log),
):
    specs = [with_run_settings(read_cell_spec(path), snakemake.config) for path in snakemake.input.specs]
    folders = [Path(path).parent for path in snakemake.output.metrics]
    train_pack(list(zip(specs, folders)), log)
