"""Finished cells read again under the reporting rule, without retraining.

A cell's metrics.json stores `reported` (its values) and `report_rule` (what they are, in words),
computed as it ended under the rule its job carried (acai_repro.report_rule). A record written
under another rule, or before the rule was one (a training key, report_last, chose its values then),
says another thing than the tables, which read every history under the config's rule. This
rewrites those two fields of each finished record under a results root from the evaluation
history the record holds, and nothing else (its weights, history and spec stay as they are):

    python -m acai_repro.reread --configfile config/gpu-quick.yaml --results docs/gpu-quick-results

It prints each record it rewrote, with its old and new values; records that already agree are
left untouched (their bytes and times), so a second call rewrites nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from acai_repro.config import DEFAULT_CONFIG, load_config
from acai_repro.files import write_json
from acai_repro.report_rule import ReportRule, reported_values
from acai_repro.results import DamagedRecordError, read_record


def reread_record(path: Path, rule: ReportRule) -> tuple[dict, dict] | None:
    """Rewrite one finished metrics.json's `reported` and `report_rule` under `rule`; (old, new)
    values where it changed, None where it already agreed or the cell did not finish."""
    record = read_record(path)
    if record.get("status") != "ok":
        return None  # a diverged cell reports nothing under any rule
    evals = record.get("evals")
    if not isinstance(evals, list) or not evals or not all(isinstance(e, dict) for e in evals):
        raise DamagedRecordError(f"{path}: damaged record: no evaluation history ('evals') to read again")
    reported, text = reported_values(evals, rule), rule.record_text(evals)
    # compared as JSON text: a NaN (an undefined Smoothness) equals itself there, not as a float
    if json.dumps(record.get("reported")) == json.dumps(reported) and record.get("report_rule") == text:
        return None
    old = record.get("reported")
    write_json(path, {**record, "reported": reported, "report_rule": text})
    return old, reported


def reread(results: Path, rule: ReportRule, log=print) -> int:
    """Every metrics.json under `results` (cells at <dataset>/<model>/dz<dz>/seed<seed>/) read again;
    returns how many were rewritten."""
    rewritten = 0
    for path in sorted(Path(results).glob("*/*/dz*/seed*/metrics.json")):
        change = reread_record(path, rule)
        if change is not None:
            rewritten += 1
            old, new = change
            log(f"{path}: {_values(old)} -> {_values(new)}")
    log(f"{rewritten} record(s) rewritten under the {rule.describe()}")
    return rewritten


def _values(values) -> str:
    if not isinstance(values, dict):
        return repr(values)
    return " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v!r}" for k, v in values.items()) or "{}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m acai_repro.reread",
        description="Rewrite each finished cell's `reported` values and `report_rule` under the config's "
        "reporting rule (tables.report_rule), from the evaluation history its metrics.json holds; nothing retrains.",
    )
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays on config/config.yaml")
    parser.add_argument(
        "--results", required=True, help="the results root holding <dataset>/<model>/dz<dz>/seed<seed>/"
    )
    args = parser.parse_args(argv)
    config = load_config(DEFAULT_CONFIG, *args.configfile)
    try:
        reread(Path(args.results), ReportRule.from_config(config))
    except DamagedRecordError as error:
        parser.exit(2, f"error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
