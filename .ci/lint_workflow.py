"""Snakemake's own linter over the workflow, accepting exactly one lint: the missing software
environment.

Run from the repository root with the virtual environment's python (CI does, in .ci/run):

    .venv/bin/python .ci/lint_workflow.py [more snakemake options, e.g. --configfile FILE]

It runs `snakemake --lint json`, prints every lint with the rule or file it is for, and exits
- 0 when there is no lint but the accepted one;
- 1 when Snakemake reports any other lint (each is printed marked REJECTED, with its advice);
- 2 when Snakemake fails (an error instead of a lint report) or its output is not the lint report
  (not JSON, JSON of another shape, or an exit status that disagrees with the lints).

The accepted lint, "Specify a conda environment or container for each rule.", asks each rule for a
`conda:` or `container:` directive. The workflow offers neither, on purpose: conda-forge and every
other conda channel are out of reach of the machines this project is built and tested on (PyPI is
not), so a conda environment could never be tested here, and an environment never built once is
not offered. Every rule runs in the virtual environment that the README's set-up creates, from the
pins of requirements.txt. Nothing else is accepted: not the variant of that lint for rules that
name environment modules only, and no other lint.

Snakemake 9.27.1's command line accepts `--lint json` but calls the linter without the JSON flag,
so the report comes out as text. The checker runs that same command line (`snakemake.cli.main`,
every option and the workflow profile read as usual) with the linter's JSON flag set, so that
Snakemake itself writes the report (snakemake/workflow.py, `Workflow.lint`):
    {"snakefiles": [{"for": {"snakefile": PATH}, "lints": [LINT, ...]}, ...],
     "rules": [{"for": {"rule": NAME, "line": N, "snakefile": PATH}, "lints": [LINT, ...]}, ...]}
where each LINT is {"title": ..., "body": ..., "links": [...]} (snakemake/linting/__init__.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ACCEPTED = "Specify a conda environment or container for each rule."
WHY = "accepted: no conda environment is offered, it could not be tested"
OK, REJECTED, FAILED = 0, 1, 2

# Snakemake's command line with the linter's JSON flag set (see the docstring).
SNAKEMAKE_LINT_JSON = """
import snakemake.api
from snakemake.cli import main

lint = snakemake.api.WorkflowApi.lint
snakemake.api.WorkflowApi.lint = lambda self, json=False: lint(self, json=True)
main()
"""


class Unreadable(Exception):
    """Snakemake failed, or what it wrote is not its lint report."""


def run_snakemake(args=(), cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SNAKEMAKE_LINT_JSON, "--lint", "json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def _where(target: dict) -> str:
    path = target.get("snakefile")
    if isinstance(path, str):
        try:
            path = str(Path(path).resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            pass
    if "rule" in target:
        line = target.get("line")
        return f"rule {target['rule']} ({path}{'' if line is None else f':{line}'})"
    return f"snakefile {path}"


def lints(report) -> list[tuple[str, dict]]:
    """(what it is for, the lint) for every lint of Snakemake's JSON report."""
    if not isinstance(report, dict) or set(report) != {"snakefiles", "rules"}:
        raise Unreadable(f"not Snakemake's lint report (keys 'snakefiles' and 'rules'): {str(report)[:300]}")
    found = []
    for kind in ("snakefiles", "rules"):
        if not isinstance(report[kind], list):
            raise Unreadable(f"'{kind}' of the lint report is not a list: {str(report[kind])[:300]}")
        for entry in report[kind]:
            try:
                where = _where(entry["for"])
                items = list(entry["lints"])
                if not items or not all(isinstance(item, dict) and isinstance(item["title"], str) for item in items):
                    raise TypeError("a lint without a title")
            except (TypeError, KeyError, AttributeError) as error:
                raise Unreadable(f"an entry of '{kind}' is not a lint entry ({error!r}): {str(entry)[:300]}") from None
            found += [(where, item) for item in items]
    return found


def judge(returncode: int, stdout: str, stderr: str) -> tuple[int, list[str]]:
    """The exit status (OK, REJECTED or FAILED) and the lines to print, from Snakemake's run."""
    try:
        try:
            report = json.loads(stdout)
        except json.JSONDecodeError as error:
            if returncode != 0:
                raise Unreadable(f"Snakemake failed (exit status {returncode}) without a lint report") from None
            raise Unreadable(f"Snakemake's output is not JSON ({error}): {stdout[:300]!r}") from None
        found = lints(report)
        if returncode != (1 if found else 0):  # Snakemake exits 1 when it reports lints, else 0
            raise Unreadable(f"Snakemake exited with status {returncode} after reporting {len(found)} lints")
    except Unreadable as error:
        tail = stderr.strip().splitlines()[-30:]
        return FAILED, [f"FAILED: {error}", *(["Snakemake's last messages:"] + tail if tail else [])]
    lines, rejected = [], 0
    for where, lint in found:
        if lint["title"] == ACCEPTED:
            lines.append(f"{where}: {lint['title']} [{WHY}]")
        else:
            rejected += 1
            lines.append(f"{where}: {lint['title']} [REJECTED]")
            lines += [f"    {lint.get('body', '')}", *(f"    {link}" for link in lint.get("links") or [])]
    if rejected:
        lines.append(f"{rejected} of {len(found)} lints rejected: fix them (only '{ACCEPTED}' is accepted)")
        return REJECTED, lines
    lines.append(f"{len(found)} lints, all '{ACCEPTED}' ({WHY})" if found else "no lints")
    return OK, lines


def main(args) -> int:
    result = run_snakemake(args)
    status, lines = judge(result.returncode, result.stdout, result.stderr)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
