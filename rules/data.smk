# Stage 0: the real datasets, verified and converted to one HDF5 file each. Downloads run
# on the submitting host (local rule): compute nodes often have no internet.


localrules:
    prepare_dataset,


rule prepare_dataset:
    output:
        f"{DATA_DIR}/{{dataset}}.h5",
    log:
        "results/logs/data/{dataset}.log",
    conda:
        "../envs/acai.yaml"
    params:
        source=lambda w: data_source(w.dataset),
        download_dir=f"{DATA_DIR}/downloads",
    script:
        "../scripts/prepare_data.py"
