# Stage 2: figures from trained cells (paper Fig. 3, 5, 6-11) and training curves. Each rule
# runs its own script, a single call into acai_repro.reporting.figures.


rule fig3_lines_interpolations:
    input:
        figure_models,
    output:
        report(
            f"{RESULTS}/figures/fig3_lines_interpolations.png",
            caption="../report/fig3.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/fig3.log",
    threads: 1
    resources:
        **job_resources("evaluate"),
    params:
        report_rule=config["tables"]["report_rule"],
        endpoints=config["figures"]["lines_endpoints"],
        sources=figure_models,
    script:
        "../scripts/fig3_lines_interpolations.py"


rule fig5_vae_samples:
    input:
        samples_model,
    output:
        report(
            f"{RESULTS}/figures/fig5_vae_samples.png",
            caption="../report/fig5.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/fig5.log",
    threads: 1
    resources:
        **job_resources("evaluate"),
    params:
        report_rule=config["tables"]["report_rule"],
        samples=config["figures"]["vae_samples"],
        seed=config["figures"]["seed"],
        sources=samples_model,
    script:
        "../scripts/fig5_vae_samples.py"


rule image_interpolations:
    input:
        interpolation_models,
    output:
        report(
            f"{RESULTS}/figures/interpolations_{{dataset}}_dz{{dz}}.png",
            caption="../report/interpolations.rst",
            category="Figures",
        ),
    log:
        f"{RESULTS}/logs/figures/interpolations_{{dataset}}_dz{{dz}}.log",
    threads: 1
    resources:
        **job_resources("evaluate"),
    params:
        report_rule=config["tables"]["report_rule"],
        pairs=config["figures"]["image_pairs"],
        sources=interpolation_models,
    script:
        "../scripts/image_interpolations.py"


rule training_curves:
    input:
        curve_inputs,
    output:
        report(
            f"{RESULTS}/figures/training_curves_{{dataset}}_dz{{dz}}.png",
            caption="../report/curves.rst",
            category="Training curves",
        ),
    log:
        f"{RESULTS}/logs/figures/training_curves_{{dataset}}_dz{{dz}}.log",
    threads: 1
    resources:
        **job_resources("evaluate"),
    params:
        report_rule=config["tables"]["report_rule"],
        sources=curve_inputs,
    script:
        "../scripts/training_curves.py"
