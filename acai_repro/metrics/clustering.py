"""Clustering accuracy (docs/protocol.md §6, Table 3) as pure functions over arrays.

- `whiten`: centre with the train mean, z <- z·V / (s + 1e-5) from the SVD of the centred
  train latents (full rank), applied to train and test.
- `kmeans`: Lloyd's algorithm with random initialisation (K distinct training points),
  many restarts. On the CPU: Elkan's exact bounds, compiled, restarts in parallel
  (`elkan.py`). On a GPU: a group of restarts is one [N, G·K] distance matrix (a single
  matrix product) and one one-hot matrix product for the centre update; restarts leave the
  group as they converge. scikit-learn's Lloyd from the same starts is the reference.
- `cluster_accuracy`: best one-to-one mapping of clusters to classes (Hungarian algorithm).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numba
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from acai_repro.metrics.elkan import elkan_restarts  # numba compiles it on its first call


def whiten(train, test, eps: float = 1e-5):
    """(train, test) whitened with the train statistics: train columns become orthonormal."""
    train = torch.as_tensor(train, dtype=torch.float64)
    test = torch.as_tensor(test, dtype=torch.float64)
    mean = train.mean(dim=0)
    _, s, vt = torch.linalg.svd(train - mean, full_matrices=False)
    project = vt.T / (s + eps)
    return ((train - mean) @ project).numpy(), ((test - mean) @ project).numpy()


@dataclass
class KMeansResult:
    centers: np.ndarray  # [K, d] of the best restart
    inertia: float  # its training inertia
    n_iter: int  # its Lloyd iterations
    inertias: np.ndarray  # final inertia of every restart
    iterations: np.ndarray  # iterations of every restart
    backend: str  # which implementation ran


def _assign(x, x_sq, centers):
    """Nearest centre and squared distance for every point and restart: [G, N] each."""
    g, k, d = centers.shape
    flat = centers.reshape(g * k, d)
    # |c|² - 2 x·c in one fused matrix product: [N, G·K]
    dist = torch.addmm(flat.square().sum(-1)[None, :], x, flat.T, alpha=-2.0).view(-1, g, k)
    best = dist.min(dim=2)
    return best.indices.T, (best.values.T + x_sq[None, :]).clamp_(min=0.0)


def _update(x, labels, centers):
    """Mean of each cluster (one matrix product); an empty cluster keeps its centre."""
    g, k, d = centers.shape
    onehot = torch.zeros(x.shape[0], g * k, device=x.device, dtype=x.dtype)
    offsets = torch.arange(g, device=x.device)[:, None] * k
    onehot.scatter_(1, (labels + offsets).T, 1.0)
    sums = (onehot.T @ x).view(g, k, d)
    counts = onehot.sum(dim=0).view(g, k, 1)
    return torch.where(counts > 0, sums / counts.clamp(min=1.0), centers)


BACKENDS = ("auto", "elkan", "torch", "sklearn")


def kmeans(
    x,
    k: int = 10,
    restarts: int = 1000,
    max_iter: int = 1000,
    tol: float = 1e-4,
    seed: int = 0,
    group: int | None = None,
    device=None,
    backend: str = "auto",
    threads: int | None = None,
) -> KMeansResult:
    """Best of `restarts` Lloyd runs (lowest training inertia), random initialisation.

    Convergence and iteration count as scikit-learn's Lloyd: labels unchanged, or total
    squared centre shift <= tol · mean per-feature variance of x. The initial centres depend
    only on `seed`, so every backend starts each restart from the same K points:
    - "elkan": Lloyd with Elkan's bounds, compiled, one restart per core on `threads` cores
      (default: all this process may run on);
    - "torch": dense batched Lloyd on `device`; `group` bounds how many restarts share one
      distance matrix (memory N·group·k floats), by default about 256 MB of it (1 GiB on a GPU);
    - "sklearn": scikit-learn's Lloyd, one restart at a time (the reference);
    - "auto": "torch" on a CUDA device, else "elkan".
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown K-Means backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and the number of points ({n})")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.multinomial(torch.ones(restarts, n), k, replacement=False, generator=generator).numpy()
    threshold = tol * float(x.var(axis=0, dtype=np.float64).mean())
    if backend == "auto":
        backend = "torch" if torch.device(device or "cpu").type == "cuda" else "elkan"
    if backend == "elkan":
        inertias, iterations, centers = _lloyd_elkan(x, starts, max_iter, threshold, threads)
    elif backend == "sklearn":
        inertias, iterations, centers = _lloyd_sklearn(x, starts, max_iter, tol)
    else:
        inertias, iterations, centers = _lloyd_torch(x, starts, max_iter, threshold, group, device)
    best = int(np.argmin(inertias))
    return KMeansResult(centers[best], float(inertias[best]), int(iterations[best]), inertias, iterations, backend)


def _lloyd_elkan(x, starts, max_iter, threshold, threads):
    allowed = min(numba.config.NUMBA_NUM_THREADS, len(os.sched_getaffinity(0)))
    numba.set_num_threads(max(1, min(threads or allowed, allowed)))
    inertias, iterations, centers = elkan_restarts(x, starts, max_iter, threshold)
    return inertias, iterations, centers.astype(np.float32)


def _lloyd_sklearn(x, starts, max_iter, tol):
    from sklearn.cluster import KMeans

    fits = [KMeans(len(start), init=x[start], n_init=1, max_iter=max_iter, tol=tol).fit(x) for start in starts]
    inertias = np.array([fit.inertia_ for fit in fits])
    iterations = np.array([fit.n_iter_ for fit in fits])
    return inertias, iterations, np.stack([fit.cluster_centers_ for fit in fits])


def _lloyd_torch(x, starts, max_iter, threshold, group, device):
    x = torch.as_tensor(x, device=device)
    n, k = x.shape[0], starts.shape[1]
    x_sq = x.square().sum(dim=1)
    floats = (256 if x.device.type == "cuda" else 64) << 20  # per [N, G·K] matrix: 1 GiB / 256 MB
    group = group or max(1, floats // (n * k))
    starts = torch.as_tensor(starts)
    restarts = len(starts)
    inertias = torch.empty(restarts, dtype=torch.float64)
    iterations = torch.zeros(restarts, dtype=torch.long)
    final_centers = torch.empty(restarts, k, x.shape[1])
    for first in range(0, restarts, group):
        ids = torch.arange(first, min(first + group, restarts))
        centers = x[starts[ids].to(x.device)]  # [G, K, d]
        labels, _ = _assign(x, x_sq, centers)
        active = torch.ones(len(ids), dtype=torch.bool)
        for step in range(1, max_iter + 1):
            live = active.nonzero().squeeze(1)
            on_device = live.to(x.device)
            old = centers[on_device]
            new_centers = _update(x, labels[on_device], old)
            new_labels, _ = _assign(x, x_sq, new_centers)
            shift = (new_centers - old).square().sum(dim=(1, 2))
            stable = (new_labels == labels[on_device]).all(dim=1).cpu()
            done = stable | (shift <= threshold).cpu()
            centers[on_device], labels[on_device] = new_centers, new_labels
            # counted as scikit-learn does: assignment passes, the first one included
            iterations[ids[live[done]]] = (step + stable[done].long()).clamp(max=max_iter)
            active[live[done]] = False
            if not active.any():
                break
        iterations[ids[active]] = max_iter
        _, dist = _assign(x, x_sq, centers)
        inertias[ids] = dist.sum(dim=1, dtype=torch.float64).cpu()
        final_centers[ids] = centers.cpu()
    return inertias.numpy(), iterations.numpy(), final_centers.numpy()


def predict(centers, x) -> np.ndarray:
    """Index of the nearest centre of each row of x."""
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    c = torch.as_tensor(np.asarray(centers), dtype=torch.float32)
    return torch.cdist(x, c).argmin(dim=1).numpy()


def cluster_accuracy(labels, clusters, n_classes: int | None = None) -> float:
    """Accuracy under the best one-to-one cluster -> class mapping (Hungarian algorithm)."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    size = int(max(labels.max(), clusters.max()) + 1) if n_classes is None else n_classes
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-confusion)
    return float(confusion[rows, cols].sum() / len(labels))
