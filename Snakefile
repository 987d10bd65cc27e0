# Reproduction of "Understanding and Improving Interpolation in Autoencoders via an
# Adversarial Regularizer" (ACAI, ICLR 2019). config/config.yaml is the paper's protocol;
# reduced scales: --configfile config/quick.yaml (laptop CPU) or config/smoke.yaml (CI).
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the acai_repro package beside this Snakefile

from acai_repro.config import ConfigError, read_yaml

PAPER_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")
try:
    read_yaml(PAPER_CONFIG)  # Snakemake's own message would name neither file nor line
except ConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None


configfile: PAPER_CONFIG


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/downstream.smk"
include: "rules/figures.smk"
include: "rules/tables.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/table1.tex",
        f"{RESULTS}/table1.csv",
        f"{RESULTS}/figures/fig3_lines_interpolations.png",
        f"{RESULTS}/figures/fig5_vae_samples.png",
        f"{RESULTS}/figures/training_curves_lines_dz64.png",
