# Snakemake adapter: rules table2, table2_probe and table3 (acai_repro.tables.write_grid_table);
# the rule's params say which table, which record key and which paper values.
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged
from acai_repro.tables import MissingCellError
from acai_repro.tables import write_grid_table

with logged(snakemake, expected=(DamagedRecordError, MissingCellError)) as log:
    p = snakemake.params
    write_grid_table(
        list(snakemake.input.cells), list(snakemake.input.pixels), p.cells, p.models, p.seeds,
        p.key, p.table, p.title, snakemake.output.tex, snakemake.output.csv, p.std_ddof,
    )  # fmt: skip
