# Snakemake adapter: rule pixels_probe (acai_repro.downstream.probe_pixels).
from acai_repro.downstream import probe_pixels
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    probe_pixels(
        snakemake.wildcards.dataset,
        snakemake.input,
        snakemake.params,
        snakemake.config["device"],
        snakemake.output[0],
        log,
    )
