# Snakemake adapter: rules table2, table2_probe and table3 (acai_repro.reporting.tables.write_accuracy_table);
# the rule's params say which table, which record key and which paper values; the reporting rule
# only where a table reads trained cells' histories (the in-tandem classifier): the probe and
# K-Means read the final weights, so changing the rule does not rerun them. The datasets' titles
# are wording, read from the config, never a param (retitling a dataset reruns nothing).
from acai_repro.reporting.tables import PAPER_RULE, MissingCellError, ReportRule, write_accuracy_table
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError, MissingCellError)) as log:
    p = snakemake.params
    rule = ReportRule(**p.report_rule) if hasattr(p, "report_rule") else PAPER_RULE
    write_accuracy_table(
        list(snakemake.input.cells),
        list(snakemake.input.pixels),
        p.cells,
        p.models,
        p.seeds,
        p.key,
        p.table,
        p.title,
        snakemake.output.tex,
        snakemake.output.csv,
        p.std_ddof,
        rule,
        snakemake.config,
    )
