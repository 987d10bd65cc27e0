# Snakemake adapter: rule table1 (acai_repro.reporting.tables.write_table1).
from acai_repro.reporting.tables import MissingCellError, ReportRule, write_table1
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError, MissingCellError)) as log:
    p = snakemake.params
    rule = ReportRule(**p.report_rule)
    write_table1(
        list(snakemake.input.cells), p.models, p.seeds, snakemake.output.tex, snakemake.output.csv, p.std_ddof, rule
    )
