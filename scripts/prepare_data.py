# Snakemake adapter: get, verify, parse and write one dataset's HDF5 file.
# A DataError (missing file, failed download, wrong checksum) is an expected failure: its
# one-line message goes to the log and stderr, and the job exits 1 without a traceback.
import sys
from pathlib import Path

from acai_repro.data.fetch import DataError, DownloadSettings, source_location
from acai_repro.data.prepare import prepare
from acai_repro.snakemake_io import logged
from acai_repro.training.checkpoints import code_version

WORKFLOW_DIR = Path(__file__).resolve().parent.parent  # relative data paths start here
dataset = snakemake.wildcards.dataset
settings = snakemake.config["datasets"][dataset]
# the labels of the splits the config uses fit its classes, checked before the file is written
labels = {
    "classes": settings["classes"],
    "splits": [*settings["train_splits"], settings["test_split"]],
    "key": f"datasets.{dataset}.classes",
}
failed = False
with logged(snakemake) as log:
    try:
        prepare(
            dataset,
            source_location(snakemake.config, dataset, WORKFLOW_DIR),
            snakemake.output[0],
            snakemake.params.download_dir,
            code_version(),
            DownloadSettings.from_config(snakemake.config["data"]["download"]),
            log,
            labels,
        )
        log(f"wrote {snakemake.output[0]}")
    except DataError as error:
        log(f"ERROR: {error}")
        failed = True
if failed:
    sys.exit(1)
