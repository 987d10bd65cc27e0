"""Batched K-Means (acai_repro.metrics.clustering.kmeans) vs scikit-learn, same data, one run.

Data: MNIST-size whitened features, 60,000 × 32 and 60,000 × 256. Without trained latents
at hand this uses the real MNIST training images (../shared/data/mnist) projected on their
top principal directions, then whitened exactly as the clustering rule does.
Reference: KMeans(n_clusters=10, init="random", n_init=R, max_iter=1000).
Target (issue): >= 10x faster on 2 CPU cores, best inertia no worse (relative 1e-4).

    python benchmarks/kmeans.py --restarts 1000     # the protocol (sklearn: tens of minutes)
    python benchmarks/kmeans.py --restarts 20       # a quicker look at the same ratio
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

from acai_repro.metrics.clustering import kmeans, whiten

MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist" / "train-images-idx3-ubyte.gz"


def mnist_features(dims: int) -> np.ndarray:
    with gzip.open(MNIST, "rb") as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60_000, 784)
    x = pixels.astype(np.float64) * (2 / 255) - 1
    x -= x.mean(0)
    _, _, vt = np.linalg.svd(x[::6], full_matrices=False)
    projected = x @ vt[:dims].T
    return whiten(projected, projected[:10])[0].astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restarts", type=int, default=1000)
    parser.add_argument("--dims", type=int, nargs="+", default=[32, 256])
    args = parser.parse_args()
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}; K=10, init random, "
          f"{args.restarts} restarts, max_iter 1000")  # fmt: skip
    header = f"{'data':<14} {'ours (s)':>9} {'sklearn (s)':>12} {'speed-up':>9} {'ours inertia':>14} {'sklearn inertia':>16} {'rel. diff':>10}"
    print(header)
    for dims in args.dims:
        x = mnist_features(dims)
        start = time.perf_counter()
        ours = kmeans(x, k=10, restarts=args.restarts, seed=0)
        t_ours = time.perf_counter() - start
        start = time.perf_counter()
        ref = KMeans(n_clusters=10, init="random", n_init=args.restarts, max_iter=1000, random_state=0).fit(x)
        t_ref = time.perf_counter() - start
        rel = (ours.inertia - ref.inertia_) / ref.inertia_
        print(f"{f'60000 x {dims}':<14} {t_ours:>9.1f} {t_ref:>12.1f} {t_ref / t_ours:>8.2f}x "
              f"{ours.inertia:>14.6g} {ref.inertia_:>16.6g} {rel:>10.2e}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
