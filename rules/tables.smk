# Stage 3: tables, aggregated over seeds from explicitly expanded cells.


localrules:
    table1,


rule table1:
    input:
        table1_metrics,
    output:
        tex="results/table1.tex",
        csv="results/table1.csv",
    log:
        "results/logs/tables/table1.log",
    conda:
        "../envs/acai.yaml"
    params:
        models=config["table1"]["models"],
        seeds=config["seeds"],
    script:
        "../scripts/table1.py"
