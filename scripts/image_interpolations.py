# Snakemake adapter: rule image_interpolations (acai_repro.reporting.figures.image_interpolation_figure).
from acai_repro.report_rule import ReportRule
from acai_repro.reporting.figures import image_interpolation_figure
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    image_interpolation_figure(
        list(snakemake.input),
        snakemake.output[0],
        snakemake.params.pairs,
        rule=ReportRule(**snakemake.params.report_rule),
    )
