# Snakemake adapter: verify, parse and write one dataset's HDF5 file.
from acai_repro.data.prepare import prepare
from acai_repro.snakemake_io import logged
from acai_repro.train import code_version

with logged(snakemake) as log:
    prepare(
        snakemake.wildcards.dataset,
        snakemake.params.source,
        snakemake.output[0],
        snakemake.params.download_dir,
        code_version(),
    )
    log(f"wrote {snakemake.output[0]}")
