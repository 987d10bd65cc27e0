# Stage 1: train cells (dataset x model x dz x seed). The training state file beside the
# outputs is not declared, so a killed job resumes from it when rerun.


localrules:
    cell_spec,


# What determines one cell's result, in its spec.json: the only rule whose params hold a
# cell's spec. A changed spec rewrites the file, and the newer spec.json reruns that cell's
# training; anything else (pack size, device, reporting intervals, scale name) reruns nothing.
rule cell_spec:
    output:
        f"{CELL}/{SPEC_FILE}",
    log:
        f"{RESULTS}/logs/specs/{CELL_FOLDERS}.log",
    params:
        spec=train_spec,
    run:
        write_cell_spec(output[0], params.spec)


# Training: one cell alone (train_cell), or with resources.train.pack > 1 the cells of the
# tables in packs, one process (and one GPU job) per pack, each cell with its usual outputs.
# A rule without wildcards wins over train_cell for the same file, so the tables' cells train
# in packs. Every training rule is this one definition: the same script, no params, each cell's
# spec read from its spec.json. So Snakemake records the same code and params for a cell's
# files whichever rule made them, and a cell trained in a pack is up to date for a one-cell
# job, and the other way round (the profiles leave out the input-list rerun trigger).
# Under seed fusion (training.seed_fusion) train_cell's unit is a cell's group of seeds: its
# wildcards are dataset, model and dz, and it trains every configured seed in one job.
for train_rule, train_cells in training_rules(PACKS).items():

    rule:
        name:
            train_rule
        input:
            data=training_data(train_cells),
            specs=training_files(train_cells, SPEC_FILE),
        output:
            metrics=training_files(train_cells, "metrics.json"),
            model=training_files(train_cells, "model.pt"),
        log:
            training_record("logs", train_rule, train_cells, "log"),
        benchmark:
            training_record("benchmarks", train_rule, train_cells, "tsv")
        threads: config["resources"]["train"]["threads"]
        resources:
            gpu=config["resources"]["train"]["gpu"],
            # a local run's GPU in percent (profiles/default): resources.train.gpu_share jobs fit
            gpu_percent=100
            * config["resources"]["train"]["gpu"]
            // config["resources"]["train"]["gpu_share"],
            mem_mb=config["resources"]["train"]["mem_mb"],
            runtime=config["resources"]["train"]["runtime"],
        script:
            "../scripts/train_cells.py"
