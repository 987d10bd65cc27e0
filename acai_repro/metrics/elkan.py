"""Lloyd's K-Means with Elkan's bounds, compiled for the CPU (numba), restarts in parallel.

Elkan (2003, "Using the triangle inequality to accelerate k-means") gives the same
iterations as plain Lloyd: each point keeps an upper bound on the distance to its centre
and a lower bound on the distance to every centre; after the centres move by p_j,
u += p_a and l_j -= p_j. Centre j cannot take the point when u <= l_j or u <= half the
distance between the point's centre and j, so most of the N·K distances are never
computed after the first iterations. This is the CPU path of `clustering.kmeans`; the
dense batched version (one matrix product for many restarts) stays the GPU path.

Centres are float64 running sums, updated only for points that change cluster; distances
are computed in the data's precision (float32: twice the SIMD width). The step order and
the convergence test are those of `clustering.kmeans`: new centres from the labels, labels
from the new centres, stop when no label changes or when the total squared centre shift is
<= the threshold.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _sq_dist(x, i, centers, j):
    """Squared distance between row i of x and row j of centers (reassociated: SIMD)."""
    total = x.dtype.type(0.0)
    for f in range(x.shape[1]):
        diff = x[i, f] - centers[j, f]
        total += diff * diff
    return total


@numba.njit(cache=True, nogil=True)
def _half_distances(centers):
    """Half the distance between every pair of centres [K, K]."""
    k = centers.shape[0]
    half = np.zeros((k, k))
    for a in range(k):
        for b in range(a + 1, k):
            half[a, b] = half[b, a] = 0.5 * np.sqrt(_sq_dist(centers, a, centers, b))
    return half


@numba.njit(cache=True, nogil=True)
def _elkan_one(x, start, max_iter, threshold, centers_out):
    """One restart from the centres x[start]; returns (inertia, iterations)."""
    n, d = x.shape
    k = start.shape[0]
    centers = np.empty((k, d))
    for j in range(k):
        centers[j] = x[start[j]]
    near = centers.astype(x.dtype)
    sums = np.zeros((k, d))
    counts = np.zeros(k, np.int64)
    labels = np.empty(n, np.int64)
    upper = np.empty(n)
    lower = np.empty((n, k))
    for i in range(n):
        best, best_dist = 0, np.inf
        for j in range(k):
            dist = np.sqrt(_sq_dist(x, i, near, j))
            lower[i, j] = dist
            if dist < best_dist:
                best, best_dist = j, dist
        labels[i], upper[i] = best, best_dist
        counts[best] += 1
        for f in range(d):
            sums[best, f] += x[i, f]
    shift = np.empty(k)
    iterations = max_iter
    for step in range(1, max_iter + 1):
        total_shift = 0.0
        for j in range(k):  # an empty cluster keeps its centre
            moved = 0.0
            if counts[j] > 0:
                for f in range(d):
                    new = sums[j, f] / counts[j]
                    moved += (new - centers[j, f]) ** 2
                    centers[j, f] = new
            total_shift += moved
            shift[j] = np.sqrt(moved)
        near = centers.astype(x.dtype)
        half = _half_distances(centers)
        changed = 0
        for i in range(n):
            a = labels[i]
            u = upper[i] + shift[a]
            # one branch per point: can any other centre take it? (branch-free over j)
            candidates = 0
            for j in range(k):
                bound = max(lower[i, j] - shift[j], 0.0)
                lower[i, j] = bound
                candidates += (u > bound) & (u > half[a, j]) & (j != a)
            upper[i] = u
            if candidates == 0:
                continue
            u = np.sqrt(_sq_dist(x, i, near, a))
            lower[i, a] = u
            for j in range(k):
                if j == a or u <= lower[i, j] or u <= half[a, j]:
                    continue
                dist = np.sqrt(_sq_dist(x, i, near, j))
                lower[i, j] = dist
                if dist < u:
                    a, u = j, dist
            upper[i] = u
            old = labels[i]
            if a != old:
                labels[i] = a
                counts[old] -= 1
                counts[a] += 1
                for f in range(d):
                    sums[old, f] -= x[i, f]
                    sums[a, f] += x[i, f]
                changed += 1
        if changed == 0 or total_shift <= threshold:
            # counted as scikit-learn does: assignment passes, the first one included
            iterations = min(step + 1, max_iter) if changed == 0 else step
            break
    inertia = 0.0
    for i in range(n):
        inertia += _sq_dist(x, i, centers, labels[i])
    centers_out[:] = centers
    return inertia, iterations


@numba.njit(cache=True, parallel=True)
def elkan_restarts(x, starts, max_iter, threshold):
    """Every restart (row of `starts`: K point indices) to convergence, in parallel.

    Returns (inertias [R], iterations [R], centres [R, K, d]).
    """
    restarts, k = starts.shape
    inertias = np.empty(restarts)
    iterations = np.empty(restarts, np.int64)
    centers = np.empty((restarts, k, x.shape[1]))
    for r in numba.prange(restarts):
        inertias[r], iterations[r] = _elkan_one(x, starts[r], max_iter, threshold, centers[r])
    return inertias, iterations, centers
