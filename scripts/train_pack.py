# Snakemake adapter: train a pack of cells in one process (see acai_repro.train.train_pack).
# The rule's params carry what determines each cell's result, in the order of its outputs;
# the run settings (device, reporting intervals) come from the config.
from pathlib import Path

from acai_repro.config import with_run_settings
from acai_repro.guard import CellBusyError
from acai_repro.snakemake_io import logged
from acai_repro.train import train_pack

with logged(snakemake, expected=(CellBusyError,)) as log:
    folders = [Path(path).parent for path in snakemake.output.metrics]
    specs = [with_run_settings(spec, snakemake.config) for spec in snakemake.params.specs]
    train_pack(list(zip(specs, folders)), log)
