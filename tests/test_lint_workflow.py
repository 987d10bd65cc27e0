"""CI's Snakemake lint (.ci/lint_workflow.py): it accepts only the lint for rules without a
software environment (the workflow offers no conda environment), and fails on any other lint,
on a Snakemake error and on output that is not Snakemake's JSON lint report."""

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

CHECKER = ROOT / ".ci" / "lint_workflow.py"
# What a copy of the workflow needs for Snakemake to read it.
TREE = ("acai_repro", "config", "profiles", "report", "rules", "scripts", "Snakefile")
UNLOGGED_RULE = """

rule unlogged:
    output:
        "unlogged.txt"
    shell:
        "touch {output}"
"""


def _checker():
    spec = importlib.util.spec_from_file_location("lint_workflow", CHECKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lint_workflow = _checker()


def _report(*lints, kind="rules"):
    """Snakemake's JSON lint report with one entry per (rule, title)."""
    entries = [
        {
            "for": {"rule": rule, "line": 3, "snakefile": str(ROOT / "rules" / "x.smk")}
            if kind == "rules"
            else {"snakefile": str(ROOT / "Snakefile")},
            "lints": [{"title": title, "body": "why", "links": ["https://example.org"]}],
        }
        for rule, title in lints
    ]
    other = "snakefiles" if kind == "rules" else "rules"
    return json.dumps({kind: entries, other: []})


def test_no_lint_passes():
    assert lint_workflow.judge(0, _report(), "") == (lint_workflow.OK, ["no lints"])


def test_the_missing_software_environment_is_accepted_and_printed():
    status, lines = lint_workflow.judge(1, _report(("a", lint_workflow.ACCEPTED), ("b", lint_workflow.ACCEPTED)), "")
    assert status == lint_workflow.OK, lines
    assert lines[0] == f"rule a (rules/x.smk:3): {lint_workflow.ACCEPTED} [{lint_workflow.WHY}]"
    assert lines[1].startswith("rule b (rules/x.smk:3): ")
    assert lines[-1].startswith("2 lints, all ")


@pytest.mark.parametrize(
    "title",
    [
        "No log directive defined",
        # the variant for rules with environment modules only: not the accepted lint
        "Additionally specify a conda environment or container for each rule, environment modules are not enough",
    ],
)
def test_any_other_rule_lint_fails_naming_it(title):
    status, lines = lint_workflow.judge(1, _report(("a", lint_workflow.ACCEPTED), ("b", title)), "")
    assert status == lint_workflow.REJECTED, lines
    assert f"rule b (rules/x.smk:3): {title} [REJECTED]" in lines
    assert "    why" in lines and "    https://example.org" in lines
    assert lines[-1].startswith("1 of 2 lints rejected")


def test_a_snakefile_lint_fails():
    status, lines = lint_workflow.judge(1, _report((None, "Tab usage in line 4."), kind="snakefiles"), "")
    assert status == lint_workflow.REJECTED
    assert "snakefile Snakefile: Tab usage in line 4. [REJECTED]" in lines


@pytest.mark.parametrize(
    "returncode, stdout, says",
    [
        (1, "", "Snakemake failed (exit status 1) without a lint report"),
        (0, "Congratulations, your workflow is in a good condition!", "Snakemake's output is not JSON"),
        (0, json.dumps({"rules": []}), "not Snakemake's lint report"),
        (0, json.dumps({"rules": {}, "snakefiles": []}), "'rules' of the lint report is not a list"),
        (1, json.dumps({"rules": [{"lints": []}], "snakefiles": []}), "an entry of 'rules' is not a lint entry"),
        (1, json.dumps({"rules": [{"for": {"rule": "a"}, "lints": []}], "snakefiles": []}), "not a lint entry"),
        (1, json.dumps({"rules": [{"for": {"rule": "a"}, "lints": [{}]}], "snakefiles": []}), "not a lint entry"),
        (0, _report(("a", lint_workflow.ACCEPTED)), "exited with status 0 after reporting 1 lints"),
        (1, _report(), "exited with status 1 after reporting 0 lints"),
    ],
)
def test_a_failed_or_unreadable_run_fails(returncode, stdout, says):
    status, lines = lint_workflow.judge(returncode, stdout, "first\nWorkflowError: the reason\n")
    assert status == lint_workflow.FAILED, lines
    assert lines[0].startswith("FAILED: ") and says in lines[0], lines
    assert lines[-1] == "WorkflowError: the reason"


def _check(cwd):
    return subprocess.run([sys.executable, str(CHECKER)], capture_output=True, text=True, cwd=cwd, timeout=300)


def _workflow_copy(tmp_path):
    tree = tmp_path / "tree"
    for name in TREE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, tree / name)
    return tree


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_the_workflow_passes():
    result = _check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "REJECTED" not in result.stdout
    assert "rule train_cell (rules/train.smk:" in result.stdout
    assert result.stdout.splitlines()[-1].endswith(f"({lint_workflow.WHY})"), result.stdout


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_rule_without_log_fails(tmp_path):
    tree = _workflow_copy(tmp_path)
    with open(tree / "rules" / "figures.smk", "a") as rules:
        rules.write(UNLOGGED_RULE)
    result = _check(tree)
    assert result.returncode == lint_workflow.REJECTED, result.stdout + result.stderr
    rejected = [line for line in result.stdout.splitlines() if line.endswith("[REJECTED]")]
    assert len(rejected) == 1 and rejected[0].startswith("rule unlogged (rules/figures.smk:"), result.stdout
    assert rejected[0].endswith(": No log directive defined [REJECTED]"), result.stdout


@pytest.mark.slow  # over 5 s on 2 cores: outside the fast tier
def test_a_snakemake_error_fails(tmp_path):
    tree = _workflow_copy(tmp_path)
    with open(tree / "Snakefile", "a") as snakefile:
        snakefile.write('\n\ninclude: "rules/missing.smk"\n')
    result = _check(tree)
    assert result.returncode == lint_workflow.FAILED, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED: Snakemake failed (exit status 1) without a lint report"), result.stdout
    assert "missing.smk" in result.stdout, result.stdout
