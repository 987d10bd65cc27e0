# Stage 1: train one cell (dataset x model x dz x seed). The training state file beside
# the outputs is not declared, so a killed job resumes from it when rerun.


rule train_cell:
    input:
        data=train_data,
    output:
        metrics=f"{CELL}/metrics.json",
        model=f"{CELL}/model.pt",
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{model}}/dz{{dz}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{dataset}}/{{model}}/dz{{dz}}/seed{{seed}}.tsv"
    conda:
        "../envs/acai.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        gpu=config["resources"]["train"]["gpu"],
        # a local run's GPU in percent (profiles/default): resources.train.gpu_share jobs fit
        gpu_percent=100
        * config["resources"]["train"]["gpu"]
        // config["resources"]["train"]["gpu_share"],
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
    params:
        spec=train_spec,
    script:
        "../scripts/train_cell.py"


# resources.train.pack > 1: the cells of the tables in packs, one process (and one GPU job)
# per pack, each cell with its usual outputs. A rule without wildcards wins over train_cell
# for the same file, so the tables' cells train in packs.
for pack_name, pack_cells in PACKS.items():

    rule:
        name:
            pack_name
        input:
            data=pack_data(pack_cells),
        output:
            metrics=pack_files(pack_cells, "metrics.json"),
            model=pack_files(pack_cells, "model.pt"),
        log:
            f"{RESULTS}/logs/train/packs/{pack_name}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/packs/{pack_name}.tsv"
        conda:
            "../envs/acai.yaml"
        threads: config["resources"]["train"]["threads"]
        resources:
            gpu=config["resources"]["train"]["gpu"],
            gpu_percent=100
            * config["resources"]["train"]["gpu"]
            // config["resources"]["train"]["gpu_share"],
            mem_mb=config["resources"]["train"]["mem_mb"],
            runtime=config["resources"]["train"]["runtime"],
        params:
            specs=pack_specs(pack_cells),
        script:
            "../scripts/train_pack.py"
