# Snakemake adapter: rule training_curves (acai_repro.reporting.figures.training_curves_figure).
from acai_repro.report_rule import ReportRule
from acai_repro.reporting.figures import training_curves_figure
from acai_repro.snakemake_io import logged

with logged(snakemake) as log:
    training_curves_figure(list(snakemake.input), snakemake.output[0], ReportRule(**snakemake.params.report_rule))
