# Snakemake adapter: rule pixels_kmeans (acai_repro.downstream.kmeans_pixels).
from acai_repro.downstream import kmeans_pixels
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    kmeans_pixels(
        snakemake.wildcards.dataset, snakemake.input, snakemake.params, snakemake.config["device"],
        snakemake.threads, snakemake.output[0], log,
    )  # fmt: skip
