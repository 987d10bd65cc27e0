# Snakemake adapter: train one cell (see acai_repro.train.train_cell).
from pathlib import Path

from acai_repro.snakemake_io import logged
from acai_repro.train import train_cell

with logged(snakemake) as log:
    train_cell(snakemake.params.spec, Path(snakemake.output.metrics).parent, log)
