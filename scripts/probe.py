# Snakemake adapter: rule probe (acai_repro.downstream.probe_cell).
from acai_repro.downstream import probe_cell
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError,)) as log:
    probe_cell(snakemake.input, snakemake.params, snakemake.config["device"], snakemake.output[0], log)
