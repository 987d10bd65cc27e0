"""K-Means of the clustering rule (acai_repro.metrics.clustering.kmeans) vs scikit-learn, one run.

Data: MNIST-size whitened features, 60,000 × 32 and 60,000 × 256. Without trained latents
at hand this uses the real MNIST training images (a folder of the official .gz files: --mnist
or $ACAI_MNIST_DIR) projected on their
top principal directions, then whitened exactly as the clustering rule does.

Rows, each the best of R restarts of up to 1,000 Lloyd iterations, K = 10:
- ours: `kmeans(backend="auto")`: Elkan's bounds on the CPU cores, dense batched on a GPU;
- sklearn random: the issue's reference, KMeans(n_clusters=10, init="random", n_init=R,
  max_iter=1000), with scikit-learn's own random starts;
- sklearn same starts: scikit-learn's Lloyd from exactly our R initial centres (one
  KMeans(init=centres, n_init=1) per restart), so the best inertias compare like for like.
  On whitened MNIST features nearly every restart ends in its own local optimum, so the
  best of R differs between two different draws of starts by more than 1e-4.

    python benchmarks/kmeans.py --restarts 1000     # the protocol (scikit-learn: about an hour)
    python benchmarks/kmeans.py --restarts 100      # the same ratios, quicker
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

from acai_repro.metrics.clustering import kmeans, whiten

# A folder of the official MNIST .gz files, as the tests find it ($ACAI_MNIST_DIR) unless --mnist names one.
DEFAULT_MNIST = os.environ.get("ACAI_MNIST_DIR")


def mnist_features(dims: int, folder) -> np.ndarray:
    folder = Path(folder)
    with gzip.open(folder / "train-images-idx3-ubyte.gz", "rb") as f:
        pixels = np.frombuffer(f.read(), np.uint8, offset=16).reshape(60_000, 784)
    x = pixels.astype(np.float64) * (2 / 255) - 1
    x -= x.mean(0)
    _, _, vt = np.linalg.svd(x[::6], full_matrices=False)
    projected = x @ vt[:dims].T
    return whiten(projected, projected[:10])[0].astype(np.float32)


def timed(fit):
    start = time.perf_counter()
    inertia = fit()
    return time.perf_counter() - start, inertia


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restarts", type=int, default=1000)
    parser.add_argument("--dims", type=int, nargs="+", default=[32, 256])
    parser.add_argument("--device", default="cpu", help="where ours runs (cuda: the dense batched backend)")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--no-same-starts", action="store_true", help="skip the same-starts scikit-learn row")
    args = parser.parse_args()
    if not args.mnist:
        parser.error("name a folder of the four official MNIST .gz files: --mnist DIR or ACAI_MNIST_DIR=DIR")
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(
        f"torch {torch.__version__}, {len(os.sched_getaffinity(0))} CPU cores, ours on {args.device} ({device_name}); "
        f"K=10, {args.restarts} restarts, max_iter 1000"
    )
    print(f"{'data':<12} {'run':<20} {'seconds':>9} {'speed-up':>9} {'best inertia':>14} {'vs ours':>10}")
    for dims in args.dims:
        x = mnist_features(dims, args.mnist)
        kmeans(x[:2000], k=10, restarts=2, seed=1, device=args.device)  # compile / warm up outside the timing
        ours = {}
        rows = [
            ("ours", lambda: ours.setdefault("r", kmeans(x, 10, args.restarts, seed=0, device=args.device)).inertia)
        ]
        rows.append(
            (
                "sklearn random",
                lambda: KMeans(10, init="random", n_init=args.restarts, max_iter=1000, random_state=0).fit(x).inertia_,
            )
        )
        if not args.no_same_starts:
            rows.append(
                ("sklearn same starts", lambda: kmeans(x, 10, args.restarts, seed=0, backend="sklearn").inertia)
            )
        t_ours = None
        for name, fit in rows:
            seconds, inertia = timed(fit)
            t_ours = t_ours or seconds
            best = ours["r"].inertia
            print(
                f"{f'60000 x {dims}':<12} {name:<20} {seconds:>9.1f} {seconds / t_ours:>8.2f}x {inertia:>14.7g} "
                f"{(inertia - best) / best:>+10.1e}",
                flush=True,
            )
        print(f"{'':<12} ours: backend {ours['r'].backend}, mean iterations {ours['r'].iterations.mean():.1f}")


if __name__ == "__main__":
    main()
