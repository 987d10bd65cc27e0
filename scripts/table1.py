# Snakemake adapter: Table 1 from the metrics of every cell.
from acai_repro.snakemake_io import logged
from acai_repro.tables import write_table1

with logged(snakemake) as log:
    write_table1(
        list(snakemake.input),
        snakemake.params.models,
        snakemake.params.seeds,
        snakemake.output.tex,
        snakemake.output.csv,
    )
    log(f"wrote {snakemake.output.tex} and {snakemake.output.csv}")
