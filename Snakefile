# Reproduction of "Understanding and Improving Interpolation in Autoencoders via an
# Adversarial Regularizer" (ACAI, ICLR 2019). config/config.yaml is the paper's protocol;
# reduced scales: --configfile config/quick.yaml (laptop CPU) or config/smoke.yaml (CI).
import os
import sys

from snakemake.io import strip_wildcard_constraints
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)  # the acai_repro package beside this Snakefile

from acai_repro.config import ConfigError, read_yaml
from acai_repro.grid.targets import check_targets, command_line_targets

PAPER_CONFIG = os.path.join(workflow.basedir, "config", "config.yaml")
# Snakemake reads the --configfile files itself, before this file, and its loader keeps the
# last of two equal keys without a word: every file is read again here through the project's
# reader (the one of `python -m acai_repro.config`), which refuses a duplicate key, naming the
# file and line, and names the file and line of a syntax error.
for path in [PAPER_CONFIG, *workflow.overwrite_configfiles]:
    try:
        read_yaml(path)
    except ConfigError as error:
        raise WorkflowError(f"invalid configuration: {error}") from None


configfile: PAPER_CONFIG


report: "report/workflow.rst"


include: "rules/common.smk"


# The training packs, before the first rule: Snakemake reads the profile's set-resources then.
PACKS = train_packs()
share_train_cell_resources(PACKS)


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


# Every rule is defined: a target that names no file of the workflow is refused here, saying
# why, instead of Snakemake's "No rule to produce ..." (the command line's targets: Snakemake
# hands them to the workflow only after this file has been read).
BAD_TARGETS = check_targets(
    command_line_targets(),
    {rule.name for rule in workflow.rules},
    [
        strip_wildcard_constraints(str(path))
        for rule in workflow.rules
        for path in rule.output
    ],
    config,
)
if BAD_TARGETS:
    raise WorkflowError("invalid target:\n" + "\n".join(BAD_TARGETS))
