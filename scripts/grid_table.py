# Snakemake adapter: Table 2 (in-tandem classifier or post-hoc probe) or Table 3 (K-Means).
from acai_repro.snakemake_io import logged
from acai_repro.tables import write_grid_table

with logged(snakemake) as log:
    p = snakemake.params
    write_grid_table(
        list(snakemake.input.cells), list(snakemake.input.pixels), p.cells, p.models, p.seeds,
        p.key, p.table, p.title, snakemake.output.tex, snakemake.output.csv,
    )  # fmt: skip
    log(f"wrote {snakemake.output.tex}")
