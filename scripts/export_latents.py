# Snakemake adapter: rule export_latents (acai_repro.downstream.export_latents). The device is
# a run setting from the config, not a param: changing it reruns nothing.
from acai_repro.downstream import export_latents
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged

with logged(snakemake, expected=(DamagedRecordError,)) as log:
    model, splits, out = snakemake.input.model, snakemake.params.splits, snakemake.output[0]
    export_latents(model, splits, out, device=snakemake.config["device"])
    log(f"wrote {snakemake.output[0]}")
