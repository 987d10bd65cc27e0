# Snakemake adapter: rule pixels_kmeans (acai_repro.downstream.kmeans_pixels).
from acai_repro.downstream import kmeans_pixels
from acai_repro.snakemake_io import logged
from acai_repro.training.devices import job_device

# the job's own device of the machine's GPUs, held until it ends (acai_repro.training.devices)
with logged(snakemake) as log, job_device(snakemake.config, f"{snakemake.rule}: {snakemake.log[0]}", log):
    kmeans_pixels(
        snakemake.wildcards.dataset,
        snakemake.input,
        snakemake.params,
        snakemake.config["device"],
        snakemake.threads,
        snakemake.output[0],
        log,
    )
