"""The synthetic lines benchmark (docs/protocol.md §2): a vectorised, exact renderer.

A line starts at the canvas centre and is 15 px long; θ = 0 points right and
θ = π/2 points up. It is drawn as a 2 px wide anti-aliased stroke by a scanline
rule: along the line's major axis every row gets a horizontal run of width 2,
with fractional coverage at the run's two ends and a fractional row weight at the
two end caps. The rule is evaluated for all images, rows and columns at once in
float64, so it matches the authors' per-pixel reference to float32 rounding and
renders tens of thousands of images per second (on a GPU too).
"""

from __future__ import annotations

import math

import torch

SIZE = 32
STROKE = 2.0
N_CLASSES = 10


def render_lines(angles: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Render lines at `angles` (radians, any shape [N]) as float32 [N, 1, size, size] in [-1, 1]."""
    theta = angles.to(torch.float64).reshape(-1)
    centre = size * 0.5
    radius = centre - 1.0
    col_end = centre + radius * torch.cos(-theta)
    row_end = centre + radius * torch.sin(-theta)
    centre_t = torch.full_like(theta, centre)
    # Scan along the major axis: "y" is the scan axis, "x" the minor one.
    flip = (centre_t - row_end).abs() < (centre_t - col_end).abs()
    x0, y0 = centre_t, centre_t
    x1 = torch.where(flip, row_end, col_end)
    y1 = torch.where(flip, col_end, row_end)
    # Scan from the smaller to the larger y.
    backwards = y1 < y0
    x0, x1 = torch.where(backwards, x1, x0), torch.where(backwards, x0, x1)
    y0, y1 = torch.where(backwards, y1, y0), torch.where(backwards, y0, y1)
    x0 = x0 - STROKE / 2
    x1 = x1 - STROKE / 2
    dy = y1 - y0
    slope = torch.where(dy != 0, (x1 - x0) / torch.where(dy != 0, dy, 1.0), 0.0)

    col = lambda t: t[:, None, None]  # noqa: E731  [N] -> [N, 1, 1]
    rows = torch.arange(size, dtype=torch.float64, device=theta.device)[None, :, None]
    cols = torch.arange(size, dtype=torch.float64, device=theta.device)[None, None, :]
    y0, y1, x0, slope = col(y0), col(y1), col(x0), col(slope)
    first_full, last_full = torch.ceil(y0), torch.trunc(y1)
    in_scan = (rows >= torch.trunc(y0)) & (rows < torch.ceil(y1))
    row_weight = torch.where(
        rows < first_full,
        first_full - y0,
        torch.where(rows > last_full, y1 - last_full, torch.ones_like(y0)),
    )
    row_ink = torch.where(in_scan, 2.0 * row_weight, 0.0)
    # The run [start, start + 2) covers each pixel column by their overlap length:
    # 1 inside, fractional at both ends (identical to the reference's three cases).
    start = x0 + (rows - y0 - 0.5) * slope
    overlap = torch.minimum(start + STROKE, cols + 1.0) - torch.maximum(start, cols)
    ink = row_ink * overlap.clamp_(min=0.0)
    # A select, not a boolean-mask assignment: no data-dependent shape, so a CUDA graph
    # can capture the renderer (acai_repro.training.cuda_graphs).
    ink = torch.where(col(flip), ink.transpose(1, 2), ink).contiguous()
    image = (ink - 1.0).clamp(-1.0, 1.0)
    return image.to(torch.float32)[:, None]


def angle_labels(angles: torch.Tensor) -> torch.Tensor:
    """Class label for the in-tandem classifier: floor(10·θ / 2π), 10 angle bins."""
    bins = torch.floor(angles.to(torch.float64) * N_CLASSES / (2 * math.pi)).long()
    return bins.clamp(0, N_CLASSES - 1)


def random_angles(n: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """n angles uniform in [0, 2π), drawn from `generator` (float64 for an exact render)."""
    u = torch.rand(n, generator=generator, dtype=torch.float64, device=device)
    return u * (2 * math.pi)


def reference_angles(n: int = 10_000) -> torch.Tensor:
    """The metric's reference angles: linspace(0, 2π, n, endpoint=False)."""
    return torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)


def render_line_scalar(theta: float, size: int = SIZE):
    """The same scanline rule, one image at a time in plain Python (a slow, readable
    reference for tests and benchmarks; `render_lines` is the one to use)."""
    import numpy as np

    image = np.zeros((size, size))
    centre = size * 0.5
    radius = centre - 1.0
    col_end = centre + radius * math.cos(-theta)
    row_end = centre + radius * math.sin(-theta)
    flip = abs(centre - row_end) < abs(centre - col_end)
    (x0, y0), (x1, y1) = (centre, centre), ((row_end, col_end) if flip else (col_end, row_end))
    if y1 < y0:
        (x0, y0), (x1, y1) = (x1, y1), (x0, y0)
    x0, x1 = x0 - STROKE / 2, x1 - STROKE / 2
    slope = (x1 - x0) / (y1 - y0) if y1 != y0 else 0.0
    for row in range(math.floor(y0), math.ceil(y1)):
        if row < math.ceil(y0):
            weight = math.ceil(y0) - y0
        elif row > math.floor(y1):
            weight = y1 - math.floor(y1)
        else:
            weight = 1.0
        start = x0 + (row - y0 - 0.5) * slope
        for col in range(math.floor(start), math.floor(start + STROKE) + 1):
            overlap = min(start + STROKE, col + 1.0) - max(start, col)
            if overlap > 0:
                pixel = (col, row) if flip else (row, col)
                image[pixel] += 2.0 * weight * overlap
    return np.clip(image - 1.0, -1.0, 1.0).astype(np.float32)
