"""The compiled Isolation Forest kernel: float32 thresholds that decide exactly as scikit-learn's
float64 ones, and scores bit for bit equal to scikit-learn's ``score_samples``.

Why bit for bit holds on every machine: each row reaches the same leaf (the float32 threshold
decides as the float64 one, tested below), the leaf value is scikit-learn's own expression
(depth + c(n_leaf) - 1.0), the values are added per row in tree order as scikit-learn adds them
(additions only: nothing to fuse, and numba without fastmath does not reassociate), and the final
-2 ** (-depths / denominator) is the same numpy expression. Tree growth is seeded and the same
random draws in the same order. The comparison is against the scikit-learn installed beside it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import IsolationForest

from customersense.models._iforest_kernel import BLOCK, float32_thresholds
from customersense.models.anomaly import AnomalyDetector

EDGES = np.array([0.0, -0.0, 1e-45, -1e-45, 1e-300, 1.0, -1.0, 1 / 3, 3.4028234663852886e38,
                  3.4028235677973366e38, 1e39, -1e39, 1.7976931348623157e308, -1.7976931348623157e308])


@np.errstate(over="ignore")
def _same_decisions(threshold: np.ndarray) -> None:
    """For float32 x around each threshold (a few float32 steps either side, and +-inf, +-0),
    ``x > t32`` is ``x > t64``."""
    t32 = float32_thresholds(threshold)
    assert t32.dtype == np.float32
    near = threshold.astype(np.float32)
    xs = [near, np.full_like(near, np.inf), np.full_like(near, -np.inf), np.zeros_like(near),
          np.full_like(near, -0.0)]
    up, down = near.copy(), near.copy()
    for _ in range(3):  # (stepping from the largest float32 to inf warns)
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        xs += [up, down]
    for x in xs:
        np.testing.assert_array_equal(x > t32, x.astype(np.float64) > threshold)


def test_float32_thresholds_decide_as_the_float64_ones_at_the_edges():
    rng = np.random.default_rng(0)
    _same_decisions(np.concatenate([EDGES, -EDGES, rng.standard_normal(10_000),
                                    rng.standard_normal(10_000) * 1e30, np.float32(rng.standard_normal(1_000))]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50))
def test_float32_thresholds_decide_as_the_float64_ones(thresholds):
    _same_decisions(np.array(thresholds, dtype=np.float64))


def _detector(forest) -> AnomalyDetector:
    det = AnomalyDetector(0.05, random_state=0)
    det.forest_ = forest
    return det


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # 1e40 as float32
@pytest.mark.parametrize("max_samples, n_estimators", [(256, 100), (32, 60), (4, 30), (2, 10)])
def test_kernel_scores_equal_scikit_learn_for_any_depth_and_chunking(max_samples, n_estimators):
    # 4 and 2 samples: trees shallower than the levels the kernel tests node by node
    rng = np.random.default_rng(max_samples)
    Z = rng.standard_t(3, size=(3 * BLOCK + 37, 5))
    Z[::7] = Z[3]  # repeated rows: leaves holding several training samples
    Z[5::11, 2] = Z[5, 2]  # a repeated value within one feature
    forest = IsolationForest(n_estimators=n_estimators, max_samples=max_samples, random_state=1).fit(Z)
    det = _detector(forest)
    outside = np.concatenate([rng.normal(0, 50, size=(500, 5)), np.full((3, 5), 1e40), np.full((3, 5), -1e40),
                              Z[:100] + 1e-9, np.zeros((2, 5)), -np.zeros((2, 5))])
    for data in (Z, outside, Z[:1], Z[:BLOCK], Z[:BLOCK + 1]):
        expected = forest.score_samples(data)
        for chunk_rows, workers in ((50_000, None), (BLOCK - 1, 2), (333, 3), (1, 1)):
            if chunk_rows == 1 and len(data) > BLOCK + 1:
                continue
            got = det.score_samples(data, chunk_rows=chunk_rows, workers=workers, method="compiled")
            np.testing.assert_array_equal(got, expected)


def test_kernel_scores_equal_scikit_learn_when_every_training_row_is_the_same():
    Z = np.ones((300, 5))
    forest = IsolationForest(n_estimators=20, random_state=0).fit(Z)  # every tree a single leaf
    data = np.random.default_rng(0).normal(size=(2_000, 5))
    np.testing.assert_array_equal(_detector(forest).score_samples(data, method="compiled"),
                                  forest.score_samples(data))


@pytest.mark.parametrize("n, max_samples, seed", [(300, 256, 0), (5_000, 256, 1), (40_000, 256, 42), (2_000, 16, 7)])
def test_row_sampled_forest_grows_scikit_learns_trees_node_for_node(n, max_samples, seed):
    from customersense.models.anomaly import RowSampledIsolationForest

    rng = np.random.default_rng(seed)
    Z = np.round(rng.standard_t(3, size=(n, 5)), 1)  # ties within features
    Z[::7] = Z[0]  # repeated rows
    ours = RowSampledIsolationForest(n_estimators=50, max_samples=max_samples, random_state=seed).fit(Z)
    theirs = IsolationForest(n_estimators=50, max_samples=max_samples, random_state=seed).fit(Z)
    assert len(ours.estimators_) == len(theirs.estimators_) == 50
    for a, b in zip(ours.estimators_, theirs.estimators_):
        for field in ("feature", "threshold", "children_left", "children_right", "n_node_samples"):
            np.testing.assert_array_equal(getattr(a.tree_, field), getattr(b.tree_, field))
    np.testing.assert_array_equal(ours.score_samples(Z), theirs.score_samples(Z))
    if max_samples == 256:  # the detector's own forest (max_samples "auto": 256)
        det = AnomalyDetector(0.05, random_state=seed, n_estimators=50).fit(Z)
        np.testing.assert_array_equal(det.train_scores_, theirs.score_samples(Z))
