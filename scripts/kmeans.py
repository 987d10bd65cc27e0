# Snakemake adapter: rule kmeans (acai_repro.downstream.kmeans_cell).
from acai_repro.downstream import kmeans_cell
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError,)) as log:
    kmeans_cell(
        snakemake.input, snakemake.params, snakemake.config["device"], snakemake.threads, snakemake.output[0], log
    )
