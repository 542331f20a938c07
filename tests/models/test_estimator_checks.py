"""scikit-learn's estimator checks for the segmenter and the anomaly detector.

Checks an estimator fails by design are declared on its class (``expected_failed_checks``,
check name -> reason); everything else must pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from customersense.models.anomaly import AnomalyDetector
from customersense.models.segmenter import CustomerSegmenter

ESTIMATORS = [CustomerSegmenter(random_state=0), AnomalyDetector(random_state=0)]


def _declared(estimator) -> dict[str, str]:
    return type(estimator).expected_failed_checks


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_declared)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_expected_failures_are_few_and_explained(estimator):
    declared = _declared(estimator)
    assert len(declared) <= 3
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in declared.values())


# --- the input contract beyond scikit-learn's checks ------------------------------------------

FEATURES = ["recency_days", "frequency", "monetary", "avg_order_value", "tenure_days"]


def _table(n=300, seed=0) -> pd.DataFrame:
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=n, centers=3, n_features=5, random_state=seed)
    frame = pd.DataFrame(np.exp(X / 4), columns=FEATURES)
    frame.insert(0, "customer_id", [f"c{i}" for i in range(n)])  # a customer table has other columns
    return frame


def test_a_dataframe_is_read_by_name_and_an_array_by_position():
    table = _table()
    on_table = CustomerSegmenter(random_state=0).fit(table)
    assert on_table.n_features_in_ == 5 and list(on_table.feature_names_in_) == FEATURES
    # the same columns as a plain array, in the features' order: the same model, bit for bit
    on_array = CustomerSegmenter(random_state=0).fit(table[FEATURES].to_numpy())
    assert on_array.n_features_in_ == 5 and not hasattr(on_array, "feature_names_in_")
    np.testing.assert_array_equal(on_array.labels_, on_table.labels_)
    np.testing.assert_array_equal(on_array.cluster_centers_, on_table.cluster_centers_)
    np.testing.assert_array_equal(on_array.anomaly_reason_, on_table.anomaly_reason_)
    # columns reordered in the frame: still read by name
    shuffled = table[["tenure_days", "customer_id", *FEATURES[::-1][1:]]]
    np.testing.assert_array_equal(on_table.predict(shuffled), on_table.labels_)
    # an array of another width: its own columns, named x0, x1 in the reasons
    two = CustomerSegmenter(random_state=0).fit(table[["frequency", "monetary"]].to_numpy())
    assert two.n_features_in_ == 2 and two.cluster_centers_.shape[1] == 2
    reasons = [r for r in two.anomaly_reason_ if r]
    assert reasons and all(r.startswith(("x0 ", "x1 ")) for r in reasons)
    with pytest.raises(ValueError, match="X has 5 features, but CustomerSegmenter is expecting 2"):
        two.predict(table[FEATURES].to_numpy())


def test_unfitted_nan_inf_and_sparse_input_are_refused_clearly():
    from scipy import sparse

    table = _table(60)
    for est in (CustomerSegmenter(), AnomalyDetector()):
        with pytest.raises(NotFittedError):
            est.predict(table[FEATURES].to_numpy())
    with pytest.raises(NotFittedError):
        CustomerSegmenter().transform(table)
    bad = table.copy()
    bad.loc[3, "monetary"] = np.nan
    with pytest.raises(ValueError, match=r"features \['monetary'\] have missing or infinite values"):
        CustomerSegmenter().fit(bad)
    arr = table[FEATURES].to_numpy(copy=True)
    arr[5, 1] = np.inf
    for est in (CustomerSegmenter(), AnomalyDetector()):
        with pytest.raises(ValueError, match="Input X contains infinity"):
            est.fit(arr)
        with pytest.raises(TypeError, match="Sparse data was passed"):
            est.fit(sparse.csr_matrix(table[FEATURES].to_numpy()))


def test_one_cluster_is_the_mean_of_the_inliers():
    table = _table()
    seg = CustomerSegmenter(n_clusters=1, random_state=0).fit(table)
    assert seg.n_clusters_ == 1 and set(seg.labels_) == {0}
    Z = seg.preprocessor_.transform(table[FEATURES].to_numpy())
    # K-Means with one centre: the mean of the inliers (to rounding)
    np.testing.assert_allclose(seg.cluster_centers_[0], Z[~seg.is_anomaly_].mean(axis=0), rtol=0, atol=1e-12)
    assert seg.selection_["chosen"].sum() == 0 and seg.selection_["k"].min() == 2  # the sweep is still reported


def test_detector_is_a_scikit_learn_estimator_with_the_same_scores():
    from sklearn.ensemble import IsolationForest

    Z = np.random.default_rng(8).standard_t(3, size=(2_000, 4))
    det = AnomalyDetector(0.05, random_state=3)
    assert clone(det).get_params() == det.get_params() == {
        "contamination": 0.05, "random_state": 3, "n_estimators": 200, "chunk_rows": 50_000, "n_jobs": None,
        "method": "auto",
    }
    reference = IsolationForest(n_estimators=200, contamination=0.05, random_state=3).fit(Z)
    frame = pd.DataFrame(Z, columns=list("abcd"))
    det.fit(frame)
    assert list(det.feature_names_in_) == list("abcd") and det.n_features_in_ == 4
    np.testing.assert_array_equal(det.train_scores_, reference.score_samples(Z))
    np.testing.assert_array_equal(det.decision_function(frame), reference.decision_function(Z))
    np.testing.assert_array_equal(det.fit_predict(Z), reference.predict(Z))
    with pytest.raises(ValueError, match="contamination=0.7"):
        AnomalyDetector(0.7).fit(Z)
