import numpy as np
import pytest
from sklearn.cluster import KMeans

from acai_repro.metrics.clustering import cluster_accuracy, kmeans, predict, whiten


def _blobs(n_per=200, k=10, d=8, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, d)) * 5
    labels = np.repeat(np.arange(k), n_per)
    return (centres[labels] + rng.normal(0, spread, (len(labels), d))).astype(np.float32), labels


def test_permuted_perfect_clustering_scores_one():
    labels = np.random.default_rng(0).integers(0, 10, 500)
    permutation = np.random.default_rng(1).permutation(10)
    assert cluster_accuracy(labels, permutation[labels]) == 1.0


def test_accuracy_of_a_merged_clustering():
    labels = np.repeat(np.arange(4), 25)
    clusters = np.where(labels == 3, 2, labels)  # classes 2 and 3 share a cluster
    assert cluster_accuracy(labels, clusters) == pytest.approx(0.75)


@pytest.mark.parametrize("backend", ["elkan", "torch", "sklearn"])
def test_kmeans_recovers_well_separated_blobs(backend):
    x, labels = _blobs()
    result = kmeans(x, k=10, restarts=50, seed=0, backend=backend)
    assert cluster_accuracy(labels, predict(result.centers, x)) == 1.0
    assert result.inertias.shape == (50,) and result.inertia == pytest.approx(result.inertias.min())
    assert result.backend == backend


def test_backends_agree_restart_by_restart():
    """Same starts, same Lloyd steps: every restart ends at the same local optimum."""
    x, _ = _blobs(n_per=150, d=16, spread=2.5, seed=4)  # overlapping: many distinct optima
    runs = {backend: kmeans(x, k=10, restarts=30, seed=7, backend=backend) for backend in ("elkan", "torch", "sklearn")}
    assert len(np.unique(runs["sklearn"].inertias.round(3))) > 5  # a test that can tell restarts apart
    for backend in ("elkan", "torch"):
        np.testing.assert_allclose(runs[backend].inertias, runs["sklearn"].inertias, rtol=1e-5)
        np.testing.assert_array_equal(runs[backend].iterations, runs["sklearn"].iterations)
    np.testing.assert_allclose(runs["elkan"].centers, runs["sklearn"].centers, atol=1e-4)


def test_elkan_stops_at_max_iter():
    x, _ = _blobs(n_per=150, d=16, spread=2.5, seed=4)
    capped = kmeans(x, k=10, restarts=5, max_iter=2, seed=1, backend="elkan")
    assert (capped.iterations <= 2).all() and (capped.iterations == 2).any()
    full = kmeans(x, k=10, restarts=5, seed=1, backend="elkan")
    assert (full.inertias <= capped.inertias * (1 + 1e-6)).all()  # Lloyd never increases inertia


def test_kmeans_inertia_matches_scikit_learn():
    x, _ = _blobs(n_per=100, spread=1.5, seed=2)
    ours = kmeans(x, k=10, restarts=100, seed=0)
    theirs = KMeans(n_clusters=10, init="random", n_init=100, max_iter=1000, random_state=0).fit(x)
    assert ours.inertia <= theirs.inertia_ * (1 + 1e-4)
    # a local optimum: each centre is the mean of its points
    assigned = predict(ours.centers, x)
    means = np.stack([x[assigned == j].mean(0) for j in range(10)])
    np.testing.assert_allclose(means, ours.centers, atol=1e-4)


def test_restart_groups_do_not_change_the_result():
    x, _ = _blobs(n_per=50, spread=2.0, seed=3)
    a = kmeans(x, k=10, restarts=20, seed=5, group=20, backend="torch")
    b = kmeans(x, k=10, restarts=20, seed=5, group=3, backend="torch")
    np.testing.assert_allclose(a.inertias, b.inertias, rtol=1e-5)


def test_whitening_gives_identity_covariance_on_train():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    train = rng.normal(size=(500, 6)) @ mixing + 3.0
    test = rng.normal(size=(100, 6)) @ mixing + 3.0
    w_train, w_test = whiten(train, test)
    np.testing.assert_allclose(w_train.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(w_train.T @ w_train, np.eye(6), atol=1e-5)  # z·V/(s + 1e-5): orthonormal columns
    assert w_test.shape == (100, 6)
    assert not np.allclose(w_test.T @ w_test, np.eye(6), atol=1e-3)  # test uses train statistics


def test_kmeans_rejects_more_clusters_than_points():
    with pytest.raises(ValueError, match="k=10"):
        kmeans(np.zeros((5, 2)), k=10, restarts=1)


def test_kmeans_rejects_an_unknown_backend():
    with pytest.raises(ValueError, match="'faiss'.*elkan"):
        kmeans(np.zeros((50, 2)), k=3, restarts=1, backend="faiss")
