"""Lines renderer throughput and the time of one full lines evaluation, each beside the
straightforward reference it replaces, in one run.

- Renderer: `render_lines` (vectorised) vs `render_line_scalar` (one image at a time).
  Target: >= 20,000 images/s on 2 cores.
- Evaluation: `line_metrics` on 256 interpolations x 16 decoded images against 10,000
  references vs a dense scipy `cdist(..., "cosine")` nearest-line search (what the
  authors' code does). Target: <= 1 s on 2 cores.

    python benchmarks/lines_eval.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import scipy.spatial.distance
import torch

from acai_repro.data.lines import reference_angles, render_line_scalar, render_lines
from acai_repro.metrics import lines as metrics


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_renderer() -> None:
    angles = torch.rand(65_536, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 * np.pi
    render_lines(angles[:4096])  # warm-up
    batched = timed(lambda: [render_lines(chunk) for chunk in angles.split(4096)], 3)
    few = angles[:2000].tolist()
    scalar = timed(lambda: [render_line_scalar(t) for t in few], 1)
    ours, ref = 65_536 / batched, 2000 / scalar
    print(f"{'renderer (images/s)':<40} {ours:>12,.0f} {ref:>12,.0f} {ours / ref:>8.1f}x  target >= 20,000")


def bench_evaluation() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 4096)
    decoded = render_lines(torch.from_numpy(angles)).numpy() + rng.normal(0, 0.05, (4096, 1, 32, 32))
    interpolations = decoded.reshape(256, 16, 1, 32, 32).astype(np.float32)

    metrics._reference_set.cache_clear()
    cold = timed(lambda: metrics.line_metrics(interpolations), 1)
    warm = timed(lambda: metrics.line_metrics(interpolations), 5)

    refs = render_lines(reference_angles(10_000)).reshape(10_000, -1).numpy().astype(np.float64)
    flat = interpolations.reshape(4096, -1).astype(np.float64)

    def dense_reference():
        distances = scipy.spatial.distance.cdist(flat, refs, "cosine")
        return distances.min(axis=1), distances.argmin(axis=1)

    ref = timed(dense_reference, 1)
    ours_d, _ = metrics.nearest_lines(interpolations.reshape(4096, -1))
    ref_d, _ = dense_reference()
    agree = np.abs(ours_d - ref_d).max()
    print(f"{'lines evaluation, warm (s)':<40} {warm:>12.3f} {ref:>12.3f} {ref / warm:>8.1f}x  target <= 1 s")
    print(f"{'lines evaluation, incl. reference set (s)':<40} {cold:>12.3f} {'':>12} {'':>9}")
    print(f"max |distance difference| vs cdist: {agree:.2e}")


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, numpy {np.__version__}")
    print(f"{'measure':<40} {'ours':>12} {'reference':>12} {'speed-up':>9}")
    bench_renderer()
    bench_evaluation()


if __name__ == "__main__":
    main()
