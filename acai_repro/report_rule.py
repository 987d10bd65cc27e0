"""The paper's reporting rule, and the evaluations it reads, at every scale.

The paper evaluates every 64 kimg, 256 times over its 2^24 images, and reports each run's median
of the last 20: the evaluations over the final 20/256 of training, one every 1/256 of it. Here
every scale does the same (`tables.report_rule`, {last: 20, of: 256}):

- a cell makes, beside its regular evaluations every `training.eval_every` images (its curves),
  one evaluation every 1/`of` of its training over the last `last`/`of` of it (`report_steps`):
  20 evaluations over the last 10 kimg at the quick scale, the regular ones themselves at the
  protocol's scale (so its cells train and evaluate exactly as before);
- a seed's value is the median of every evaluation it made over that last `last`/`of` of its
  training (`ReportRule.count`), read from the evaluation history its metrics.json holds.

The rule is a reporting setting: it is no part of a cell's spec (changing it retrains nothing;
the cell's weights do not depend on when it is evaluated). A cell trained under another rule, or
before this schedule existed, is read again from the evaluations it made in the window (one, at
the quick scale, for cells trained before: the tables say how many each value is the median of).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_LAST, PAPER_OF = 20, 256  # the protocol: the median of the last 20 of its 256 evaluations
# What an evaluation measures that a cell's metrics.json reports under the rule.
REPORTED = ("mean_distance", "smoothness", "classifier_accuracy", "test_recon_mse")


@dataclass(frozen=True)
class ReportRule:
    """Each seed's value: the median of its evaluations over the last `last`/`of` of its training
    (the paper: its last 20 of 256 evaluations). With `of` None: of its last `last` evaluations,
    whatever the schedule (a sensitivity reading, not the paper's)."""

    last: int = PAPER_LAST
    of: int | None = PAPER_OF

    @classmethod
    def from_config(cls, config: dict) -> ReportRule:
        return cls.from_setting(config["tables"]["report_rule"])

    @classmethod
    def from_setting(cls, setting: dict | None) -> ReportRule:
        """The rule a job carries (a spec's `report_rule`); the paper's where it carries none."""
        return cls(setting["last"], setting["of"]) if setting else cls()

    def setting(self) -> dict:
        return {"last": self.last, "of": self.of}

    def count(self, evals: list) -> int:
        """N: how many of a finished cell's last evaluations its value is the median of. Its last
        evaluation is at the end of its training (every cell evaluates there), so the window is the
        evaluations after images_total × (of − last)/of, compared in integers."""
        if self.of is None:
            return self.last
        if all(isinstance(e.get("images"), int) for e in evals):
            images = [e["images"] for e in evals]
        else:  # a history without images (written by hand): evenly spaced, the last at the end
            images = list(range(1, len(evals) + 1))
        return sum(1 for i in images if i * self.of > images[-1] * (self.of - self.last))

    def report_steps(self, total_steps: int) -> set[int]:
        """The steps after which a cell of `total_steps` steps evaluates for this rule: one every
        1/`of` of its training over the last `last`/`of` (whole steps, rounded down; fewer than `last`
        where the window holds fewer steps; at least the last step)."""
        if self.of is None:
            return {total_steps}
        steps = {total_steps - (k * total_steps) // self.of for k in range(self.last)}
        return {s for s in steps if s >= 1}

    def describe(self) -> str:
        if self.of is None:
            return f"rule: a fixed last {self.last} evaluations, not the paper's"
        paper = ", the paper's" if (self.last, self.of) == (PAPER_LAST, PAPER_OF) else ""
        return f"rule: the evaluations over the last {self.last}/{self.of} of training{paper}"

    def record_text(self, evals: list) -> str:
        """What a record's value is, in words: 'median of the 20 evaluations over the last 20/256
        of training (118.5-128.0 kimg)'."""
        n = self.count(evals)
        if self.of is None:
            return f"median of the last {n} evaluations"
        window = evals[-n:]
        span = f"{window[0]['kimg']:.1f}-{window[-1]['kimg']:.1f} kimg" if n > 1 else f"{window[-1]['kimg']:.1f} kimg"
        return f"median of the {n} evaluation{'s' * (n != 1)} over the last {self.last}/{self.of} of training ({span})"


PAPER_RULE = ReportRule()


def median_of_last(evals: list, n: int) -> dict:
    """The median of the last `n` evaluations of each key they all hold (null read as undefined, NaN)."""
    tail = evals[-n:]
    keys = [k for k in tail[0] if all(k in e for e in tail)]
    return {
        k: float(np.median([np.nan if e[k] is None else e[k] for e in tail]))
        for k in keys
        if all(e[k] is None or isinstance(e[k], (int, float)) for e in tail)
    }


def reported_values(evals: list, rule: ReportRule) -> dict:
    """A finished cell's REPORTED values under `rule` (those every evaluation in its window holds)."""
    medians = median_of_last(evals, rule.count(evals)) if evals else {}
    return {k: medians[k] for k in REPORTED if k in medians}
