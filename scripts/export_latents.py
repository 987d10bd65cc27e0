# Snakemake adapter: rule export_latents (acai_repro.downstream.export_latents). The device is
# a run setting from the config, not a param: changing it reruns nothing.
from acai_repro.data import DataError
from acai_repro.downstream import export_latents
from acai_repro.results import DamagedRecordError
from acai_repro.snakemake_io import logged
from acai_repro.training.devices import job_device

# the job's own device of the machine's GPUs, held until it ends (acai_repro.training.devices)
with (
    logged(snakemake, expected=(DamagedRecordError, DataError)) as log,
    job_device(snakemake.config, f"{snakemake.rule}: {snakemake.log[0]}", log),
):
    model, splits, out = snakemake.input.model, snakemake.params.splits, snakemake.output[0]
    export_latents(model, splits, out, device=snakemake.config["device"], data_path=snakemake.input.data)
    log(f"wrote {snakemake.output[0]}")
