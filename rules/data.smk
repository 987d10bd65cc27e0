# Stage 0: the real datasets, verified and converted to one HDF5 file each. Downloads run
# on the submitting host (local rule): compute nodes often have no internet. Only what the
# file's content depends on (format, accepted md5s) is a param: a new mirror, local path or
# download setting does not rerun it, nor every cell trained on it (docs/data.md).
from acai_repro.data.fetch import content_spec


localrules:
    prepare_dataset,


rule prepare_dataset:
    output:
        f"{DATA_DIR}/{{dataset}}.h5",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    params:
        # data_file: a clear error for the lines or an unknown dataset
        content=lambda w: content_spec(config, data_file(w.dataset) and w.dataset),
        download_dir=f"{DATA_DIR}/downloads",
    script:
        "../scripts/prepare_data.py"
