# Snakemake adapter: train one cell (see acai_repro.train.train_cell). The rule's params carry
# what determines the result; the run settings (device, scale name, reporting intervals) come
# from the config, so changing them reruns nothing. spec.json beside the outputs says what the
# cell trains under while it runs (read by `python -m acai_repro.grid status`).
from pathlib import Path

from acai_repro.config import with_run_settings
from acai_repro.guard import CellBusyError
from acai_repro.snakemake_io import logged
from acai_repro.train import train_cell

with logged(snakemake, expected=(CellBusyError,)) as log:
    spec = with_run_settings(snakemake.params.spec, snakemake.config)
    train_cell(spec, Path(snakemake.output.metrics).parent, log)
