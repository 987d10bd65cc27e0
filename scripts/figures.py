# Snakemake adapter: the figure rules of rules/figures.smk, dispatched by rule name.
from acai_repro import figures
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    if snakemake.rule == "training_curves":
        figures.training_curves_figure(list(snakemake.input), snakemake.output[0])
    elif snakemake.rule == "image_interpolations":
        figures.image_interpolation_figure(
            list(snakemake.input), snakemake.output[0], snakemake.params.pairs
        )
    elif snakemake.rule == "fig5_vae_samples":
        figures.vae_sample_figure(
            snakemake.input[0], snakemake.output[0], snakemake.params.samples, snakemake.params.seed
        )
    else:
        figures.lines_interpolation_figure(
            list(snakemake.input), snakemake.output[0], snakemake.params.endpoints
        )
    log(f"wrote {snakemake.output[0]}")
