# Stage 2: figures from trained cells (paper Fig. 3 and Fig. 5).


rule interpolation_strip:
    input:
        f"{CELL}/model.pt",
    output:
        f"{CELL}/interpolation.png",
    log:
        "results/logs/figures/{dataset}/{model}/dz{dz}/seed{seed}.log",
    conda:
        "../envs/acai.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    params:
        endpoints=config["figures"]["lines_endpoints"],
    script:
        "../scripts/figures.py"


rule fig3_lines_interpolations:
    input:
        figure_models,
    output:
        report(
            "results/figures/fig3_lines_interpolations.png",
            caption="../report/fig3.rst",
            category="Figures",
        ),
    log:
        "results/logs/figures/fig3.log",
    conda:
        "../envs/acai.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    params:
        endpoints=config["figures"]["lines_endpoints"],
    script:
        "../scripts/figures.py"


rule fig5_vae_samples:
    input:
        expand(
            f"{CELL}/model.pt",
            dataset=config["table1"]["dataset"],
            model="vae",
            dz=config["table1"]["dz"],
            seed=config["figures"]["seed"],
        ),
    output:
        report(
            "results/figures/fig5_vae_samples.png",
            caption="../report/fig5.rst",
            category="Figures",
        ),
    log:
        "results/logs/figures/fig5.log",
    conda:
        "../envs/acai.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    params:
        samples=config["figures"]["vae_samples"],
        seed=config["figures"]["seed"],
    script:
        "../scripts/figures.py"


rule image_interpolations:
    input:
        lambda w: expand(
            f"{CELL}/model.pt",
            dataset=w.dataset,
            model=config["table2"]["models"],
            dz=w.dz,
            seed=config["figures"]["seed"],
        ),
    output:
        report(
            "results/figures/interpolations_{dataset}_dz{dz}.png",
            caption="../report/interpolations.rst",
            category="Figures",
        ),
    log:
        "results/logs/figures/interpolations_{dataset}_dz{dz}.log",
    conda:
        "../envs/acai.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    params:
        pairs=config["figures"]["image_pairs"],
    script:
        "../scripts/figures.py"


rule training_curves:
    input:
        curve_inputs,
    output:
        report(
            "results/figures/training_curves_{dataset}_dz{dz}.png",
            caption="../report/curves.rst",
            category="Training curves",
        ),
    log:
        "results/logs/figures/training_curves_{dataset}_dz{dz}.log",
    conda:
        "../envs/acai.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    script:
        "../scripts/figures.py"
