import math

import numpy as np
import pytest
import torch

from acai_repro.data.lines import render_lines
from acai_repro.metrics.lines import (
    line_metrics,
    mean_smoothness,
    nearest_lines,
    perfect_interpolation,
    pixel_crossfade,
    smoothness_scores,
)
from tests.conftest import LINES_REFERENCE

CASES = ("perfect", "crossfade", "abrupt", "longway", "noisy", "blurred")


def test_perfect_interpolation_scores_zero():
    m = line_metrics(perfect_interpolation(0.3, 2.0)[None])
    assert m["mean_distance"] < 1e-6
    assert m["smoothness"] < 1e-3


def test_pixel_crossfade_scores_badly():
    a, b = render_lines(torch.tensor([5 * math.pi / 7, 3 * math.pi / 2], dtype=torch.float64))
    m = line_metrics(pixel_crossfade(a.numpy(), b.numpy())[None])
    assert m["mean_distance"] == pytest.approx(7.2e-3, rel=0.02)
    # The match switches abruptly near the middle; where exactly depends on the last bit
    # of the endpoint angles (0.92 with float64 angles, 0.94 with float32 ones).
    assert m["smoothness"] == pytest.approx(0.94, abs=0.03)


def test_abrupt_switch_smoothness():
    a, b = 0.5, 2.5
    images = np.concatenate([perfect_interpolation(a, a, 8), perfect_interpolation(b, b, 8)])
    m = line_metrics(images[None])
    assert m["smoothness"] == pytest.approx(1 - 1 / 15, abs=1e-9)


def test_constant_angle_is_nan_counted_as_zero_in_denominator():
    constant = perfect_interpolation(1.0, 1.0)
    scores = smoothness_scores(np.full((1, 16), 1.0))
    assert np.isnan(scores[0])
    abrupt = np.r_[np.zeros(8), np.ones(8)][None]
    both = np.concatenate([scores, smoothness_scores(abrupt)])
    assert mean_smoothness(both) == pytest.approx((1 - 1 / 15) / 2)
    m = line_metrics(np.concatenate([constant[None], perfect_interpolation(0.5, 2.0)[None]]))
    assert m["smoothness_undefined"] == 1 and 0.0 <= m["smoothness"] < 0.05


def test_collapsed_model_is_undefined_not_perfect():
    # Every interpolation's endpoints decode to one line: the official code returns NaN.
    collapsed = np.stack([perfect_interpolation(1.0, 1.0), perfect_interpolation(2.0, 2.0)])
    m = line_metrics(collapsed)
    assert np.isnan(m["smoothness"]) and m["smoothness_undefined"] == 2
    assert np.isnan(mean_smoothness(np.full(5, np.nan)))


@pytest.mark.parametrize("case", CASES)
def test_reproduces_the_official_metric_values(case):
    ref = np.load(LINES_REFERENCE)
    m = line_metrics(ref[f"case_{case}"])
    assert m["mean_distance"] == pytest.approx(float(ref[f"case_{case}_mean_distance"]), rel=1e-5, abs=1e-9)
    assert m["smoothness"] == pytest.approx(float(ref[f"case_{case}_smoothness"]), rel=1e-5, abs=1e-7)


def test_nearest_line_finds_the_rendered_angle():
    angles = torch.tensor([0.0, 1.0, 4.0], dtype=torch.float64)
    distances, found = nearest_lines(render_lines(angles).numpy())
    assert np.all(distances < 1e-5)
    np.testing.assert_allclose(found, angles.numpy(), atol=2 * math.pi / 10_000)
