# Snakemake adapter: rule kmeans (acai_repro.downstream.kmeans_cell).
from acai_repro.downstream import kmeans_cell
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged
from acai_repro.training.devices import job_device

# the job's own device of the machine's GPUs, held until it ends (acai_repro.training.devices)
with (
    logged(snakemake, expected=(DamagedRecordError,)) as log,
    job_device(snakemake.config, f"{snakemake.rule}: {snakemake.log[0]}", log),
):
    kmeans_cell(
        snakemake.input, snakemake.params, snakemake.config["device"], snakemake.threads, snakemake.output[0], log
    )
