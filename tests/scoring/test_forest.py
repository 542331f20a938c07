"""The Isolation Forest frozen as arrays scores bit for bit as the fitted detector does."""

import numpy as np
import pytest

from customersense.models.anomaly import AnomalyDetector
from customersense.scoring.forest import ROWS_PER_CHUNK, forest_arrays, score_samples


@pytest.mark.parametrize("n, contamination, seed", [(300, 0.05, 0), (5000, "auto", 3), (3 * ROWS_PER_CHUNK + 7, 0.1, 9)])
def test_frozen_scores_equal_scikit_learn_exactly(n, contamination, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n, 5))  # heavy tails: isolated points exist
    detector = AnomalyDetector(contamination, random_state=seed, n_estimators=50).fit(X)
    arrays = forest_arrays(detector)
    new = rng.standard_t(3, size=(257, 5)) * 2  # rows the forest never saw, some beyond its range
    for rows in (X, new, new[:1]):
        expected = detector.score_samples(rows, method="sklearn")  # scikit-learn's own tree walks
        assert np.array_equal(score_samples(rows, arrays, compiled_from=10**9), expected)  # the numpy walk
        assert np.array_equal(score_samples(rows, arrays, compiled_from=1), expected)  # the compiled walk
        assert np.array_equal(score_samples(rows, arrays), expected)  # the default choice
    assert arrays["iforest_offset"][0] == detector.offset_
    flags = score_samples(X, arrays) < arrays["iforest_offset"][0]
    assert np.array_equal(flags, detector.predict(X) == -1)


def test_threshold_values_take_the_same_branch():
    """Rows placed exactly on the trees' thresholds (the float32 edge case) still match."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    detector = AnomalyDetector(0.05, random_state=1, n_estimators=20).fit(X)
    arrays = forest_arrays(detector)
    thresholds = arrays["iforest_threshold"][np.isfinite(arrays["iforest_threshold"])]
    on_edges = np.repeat(thresholds[:200, None], 3, axis=1).astype(np.float64)
    for compiled_from in (1, 10**9):
        assert np.array_equal(score_samples(on_edges, arrays, compiled_from=compiled_from),
                              detector.score_samples(on_edges, method="sklearn"))
