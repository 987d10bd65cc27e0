# Stage 3: tables, aggregated over seeds from explicitly expanded cells.


localrules:
    table1,
    table2,
    table2_probe,
    table3,
    reproduction,


rule table1:
    input:
        table1_metrics,
    output:
        tex=f"{RESULTS}/table1.tex",
        csv=report(
            f"{RESULTS}/table1.csv", caption="../report/table1.rst", category="Tables"
        ),
    log:
        f"{RESULTS}/logs/tables/table1.log",
    params:
        models=config["table1"]["models"],
        seeds=config["seeds"],
        sources=table1_metrics,
        std_ddof=config["tables"]["std_ddof"],
        report_rule=config["tables"]["report_rule"],
    script:
        "../scripts/table1.py"


rule table2:
    input:
        cells=grid_inputs("table2", "metrics.json"),
        pixels=pixel_inputs("table2", "probe.json"),
    output:
        tex=f"{RESULTS}/table2.tex",
        csv=report(
            f"{RESULTS}/table2.csv", caption="../report/table2.rst", category="Tables"
        ),
    log:
        f"{RESULTS}/logs/tables/table2.log",
    params:
        **grid_params("table2"),
        std_ddof=config["tables"]["std_ddof"],
        report_rule=config["tables"]["report_rule"],
    script:
        "../scripts/grid_table.py"


rule table2_probe:
    input:
        cells=grid_inputs("table2", "probe.json"),
        pixels=pixel_inputs("table2", "probe.json"),
    output:
        tex=f"{RESULTS}/table2_probe.tex",
        csv=report(
            f"{RESULTS}/table2_probe.csv",
            caption="../report/table2_probe.rst",
            category="Tables",
        ),
    log:
        f"{RESULTS}/logs/tables/table2_probe.log",
    params:
        **grid_params("table2_probe"),
        std_ddof=config["tables"]["std_ddof"],
    script:
        "../scripts/grid_table.py"


rule table3:
    input:
        cells=grid_inputs("table3", "kmeans.json"),
        pixels=pixel_inputs("table3", "kmeans.json"),
    output:
        tex=f"{RESULTS}/table3.tex",
        csv=report(
            f"{RESULTS}/table3.csv", caption="../report/table3.rst", category="Tables"
        ),
    log:
        f"{RESULTS}/logs/tables/table3.log",
    params:
        **grid_params("table3"),
        std_ddof=config["tables"]["std_ddof"],
    script:
        "../scripts/grid_table.py"


rule reproduction:
    input:
        table1=table1_metrics,
        table2=grid_inputs("table2", "metrics.json"),
        table2_pixels=pixel_inputs("table2", "probe.json"),
        table3=grid_inputs("table3", "kmeans.json"),
        table3_pixels=pixel_inputs("table3", "kmeans.json"),
        # the images each Table 3 cell trained on
        table3_training=grid_inputs("table3", "metrics.json"),
    output:
        csv=report(
            f"{RESULTS}/reproduction.csv",
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
        md=report(
            f"{RESULTS}/reproduction.md",
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
        tex=f"{RESULTS}/reproduction.tex",
    log:
        f"{RESULTS}/logs/tables/reproduction.log",
    params:
        std_ddof=config["tables"]["std_ddof"],
        report_rule=config["tables"]["report_rule"],
        sources=scorecard_sources,
    script:
        "../scripts/reproduction.py"
