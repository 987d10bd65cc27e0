import math

import numpy as np
import pytest
import torch

from acai_repro.data.lines import angle_labels, reference_angles, render_line_scalar, render_lines
from tests.conftest import LINES_REFERENCE


def _render(theta):
    return render_lines(torch.tensor([theta], dtype=torch.float64))[0, 0].numpy()


def _ink_centroid(image):
    ink = image + 1.0
    rows, cols = np.indices(image.shape)
    return (ink * rows).sum() / ink.sum(), (ink * cols).sum() / ink.sum()


def test_values_in_range_with_antialiasing():
    # Off the axes (an axis-aligned line covers whole pixels only).
    images = render_lines(torch.linspace(0.1, 6.2, 50, dtype=torch.float64))
    assert images.dtype == torch.float32 and images.shape == (50, 1, 32, 32)
    assert images.min() == -1.0 and images.max() == 1.0
    partial = (images > -1.0) & (images < 1.0)
    assert partial.any(dim=(1, 2, 3)).all(), "every line has fractional edge pixels"


def test_theta_zero_points_right_and_half_pi_points_up():
    row, col = _ink_centroid(_render(0.0))
    assert col > 20 and abs(row - 16) < 2
    row, col = _ink_centroid(_render(math.pi / 2))
    assert row < 12 and abs(col - 16) < 2
    row, col = _ink_centroid(_render(math.pi))
    assert col < 12
    row, col = _ink_centroid(_render(3 * math.pi / 2))
    assert row > 20


def test_line_is_fifteen_pixels_long():
    image = _render(0.0)
    inked_cols = np.nonzero((image > -1.0).any(axis=0))[0]
    assert 14 <= inked_cols.max() - inked_cols.min() + 1 <= 17
    # Total ink of a 15 x 2 stroke, in units of pixels fully inked.
    assert (image + 1.0).sum() / 2.0 == pytest.approx(30.0, abs=1.5)


def test_reproduces_the_authors_rendering():
    ref = np.load(LINES_REFERENCE)
    ours = render_lines(torch.from_numpy(ref["angles"]))[:, 0].numpy()
    np.testing.assert_allclose(ours, ref["images"], rtol=0, atol=1e-6)


def test_labels_are_ten_angle_bins():
    angles = torch.tensor([0.0, 0.1, math.pi, 2 * math.pi - 1e-9], dtype=torch.float64)
    assert angle_labels(angles).tolist() == [0, 0, 5, 9]


def test_reference_angles():
    angles = reference_angles(10_000)
    assert angles[0] == 0 and angles[-1] < 2 * math.pi
    assert torch.allclose(angles.diff(), torch.full((9999,), 2 * math.pi / 10_000, dtype=torch.float64))


def test_vectorised_renderer_matches_the_scalar_rule():
    angles = torch.rand(300, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 * math.pi
    batch = render_lines(angles)[:, 0].numpy()
    for theta, image in zip(angles.tolist(), batch):
        np.testing.assert_allclose(image, render_line_scalar(theta), atol=1e-6)
