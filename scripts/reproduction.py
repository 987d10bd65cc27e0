# Snakemake adapter: rule reproduction (acai_repro.reporting.scorecard.write_scorecard). The scale's name
# and the datasets' titles are wording: read from the config, never a param (renaming a scale or
# retitling a dataset reruns nothing).
from acai_repro.reporting.scorecard import write_scorecard
from acai_repro.reporting.tables import MissingCellError, ReportRule
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError, MissingCellError)) as log:
    i, p = snakemake.input, snakemake.params
    records = {
        "table1": list(i.table1),
        "table2": (list(i.table2), list(i.table2_pixels)),
        "table3": (list(i.table3), list(i.table3_pixels)),
    }
    out = snakemake.output
    log(write_scorecard(records, out.csv, out.md, out.tex, p.std_ddof, snakemake.config, ReportRule(**p.report_rule)))
