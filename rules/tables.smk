# Stage 3: tables, aggregated over seeds from explicitly expanded cells. Every table is an entry
# of acai_repro.table_registry (its cells, record, key, pixel baseline, title and script): a rule
# per entry, each this one definition, then the scorecard that judges Tables 1-3.


for table_entry in TABLES.values():

    rule:
        name:
            table_entry.name
        input:
            **table_inputs(table_entry),
        output:
            tex=f"{RESULTS}/{table_entry.name}.tex",
            csv=report(
                f"{RESULTS}/{table_entry.name}.csv",
                caption=f"../report/{table_entry.name}.rst",
                category="Tables",
            ),
        log:
            f"{RESULTS}/logs/tables/{table_entry.name}.log",
        localrule: True
        params:
            **table_params(table_entry),
            # the script by name: a rule built in a loop runs its script: path when the job runs,
            # by then an f-string would read the loop's last entry; params are bound here
            script=table_entry.script,
        script:
            "../scripts/{params.script}"


rule reproduction:
    input:
        # each judged table's records; the images each Table 3 cell trained on
        **scorecard_inputs(),
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
    localrule: True
    params:
        std_ddof=config["tables"]["std_ddof"],
        report_rule=config["tables"]["report_rule"],
        sources=scorecard_sources(),
    script:
        "../scripts/reproduction.py"
