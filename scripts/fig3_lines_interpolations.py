# Snakemake adapter: rule fig3_lines_interpolations (acai_repro.reporting.figures.lines_interpolation_figure).
from acai_repro.report_rule import ReportRule
from acai_repro.reporting.figures import lines_interpolation_figure
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    lines_interpolation_figure(
        list(snakemake.input),
        snakemake.output[0],
        snakemake.params.endpoints,
        ReportRule(**snakemake.params.report_rule),
    )
