# Snakemake adapter: latents.h5 of one trained cell.
from acai_repro.downstream import export_latents
from acai_repro.snakemake_io import logged
from acai_repro.train import resolve_device

with logged(snakemake) as log:
    device = str(resolve_device(snakemake.params.device))
    export_latents(snakemake.input.model, snakemake.params.splits, snakemake.output[0], device=device)
    log(f"wrote {snakemake.output[0]} on {device}")
