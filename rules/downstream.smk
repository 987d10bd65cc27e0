# Stage 2: downstream evaluations of trained cells (Tables 2-3) and of raw pixels. Each rule
# runs its own script, a single call into acai_repro.downstream.


rule export_latents:
    input:
        model=f"{CELL}/model.pt",
        data=lambda w: data_file(w.dataset),
    output:
        f"{CELL}/latents.h5",
    log:
        f"{RESULTS}/logs/latents/{CELL_FOLDERS}.log",
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **job_resources("evaluate"),
        # a GPU run: resources.evaluate.gpu 1 counts it with the training jobs (docs/gpu.md)
        gpu=config["resources"]["evaluate"]["gpu"],
    params:
        splits=lambda w: split_names(w.dataset),
    script:
        "../scripts/export_latents.py"


rule probe:
    input:
        latents=f"{CELL}/latents.h5",
        metrics=f"{CELL}/metrics.json",
    output:
        f"{CELL}/probe.json",
    log:
        f"{RESULTS}/logs/probe/{CELL_FOLDERS}.log",
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **evaluation_resources("probe"),
    params:
        **downstream_params(EVALUATIONS["probe"]["options"]),
    script:
        "../scripts/probe.py"


rule kmeans:
    input:
        latents=f"{CELL}/latents.h5",
        metrics=f"{CELL}/metrics.json",
    output:
        f"{CELL}/kmeans.json",
    log:
        f"{RESULTS}/logs/kmeans/{CELL_FOLDERS}.log",
    benchmark:
        f"{RESULTS}/benchmarks/kmeans/{CELL_FOLDERS}.tsv"
    threads: config["resources"]["evaluate"]["threads"]
    resources:
        **evaluation_resources("kmeans"),
    params:
        **downstream_params(EVALUATIONS["kmeans"]["options"]),
    script:
        "../scripts/kmeans.py"


# The raw pixels of a dataset, each evaluation's baseline row in the tables: one rule per
# evaluation (pixels_probe, pixels_kmeans), each this one definition.
for pixels_kind, pixels_evaluation in EVALUATIONS.items():

    rule:
        name:
            f"pixels_{pixels_kind}"
        input:
            data=lambda w: data_file(w.dataset),
        output:
            f"{RESULTS}/{{dataset}}/pixels/{pixels_kind}.json",
        log:
            f"{RESULTS}/logs/{pixels_kind}/{{dataset}}/pixels.log",
        threads: config["resources"]["evaluate"]["threads"]
        resources:
            **evaluation_resources(pixels_kind),
        params:
            **downstream_params(pixels_evaluation["options"]),
            # bound here: a script: f-string would read the loop's last entry when the job runs
            script=f"pixels_{pixels_kind}.py",
        script:
            "../scripts/{params.script}"
