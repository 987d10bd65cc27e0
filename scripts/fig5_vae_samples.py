# Snakemake adapter: rule fig5_vae_samples (acai_repro.reporting.figures.vae_sample_figure).
from acai_repro.report_rule import ReportRule
from acai_repro.reporting.figures import vae_sample_figure
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    vae_sample_figure(
        snakemake.input[0],
        snakemake.output[0],
        snakemake.params.samples,
        snakemake.params.seed,
        rule=ReportRule(**snakemake.params.report_rule),
    )
