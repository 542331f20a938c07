"""Learned segments: planted-truth recovery, metric agreement with scikit-learn, estimator contract."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn import metrics as skm
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.evaluation import calinski_harabasz, davies_bouldin, knee_point, silhouette
from customersense.models.segmenter import OUTLIER_CLUSTER, CustomerSegmenter
from customersense.pipeline import analyse, session

FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tx, truth = planted_transactions(n_customers=2000, seed=0)
    path = tmp_path_factory.mktemp("planted") / "planted.parquet"
    pq.write_table(tx, path)
    config = load_config(None, {"input": {"source": str(path)}})
    with session(config) as (engine, workdir):
        result = analyse(config, engine, workdir)
    return result, result.customers.merge(truth, on="customer_id", suffixes=("", "_true"))


def test_planted_groups_are_recovered_with_default_settings(planted):
    result, c = planted
    assert result.learned.model.n_clusters_ == 4
    normal = ~c["is_anomaly_true"]
    assert adjusted_rand_score(c.loc[normal, "group"], c.loc[normal, "cluster"]) >= 0.9
    recall = (c["is_anomaly"] & c["is_anomaly_true"]).sum() / c["is_anomaly_true"].sum()
    assert recall >= 0.8
    assert c["is_anomaly"].mean() == pytest.approx(0.05, abs=0.005)


def test_planted_groups_get_fitting_unique_names(planted):
    result, c = planted
    names = result.learned.names
    assert len(set(names.values())) == len(names)
    by_group = c[~c["is_anomaly_true"]].groupby("group")["segment"].agg(lambda s: s.mode().iloc[0])
    assert by_group["best"] == "High-Value Regulars"
    assert by_group["new"] in {"Newcomers", "Big-Basket Newcomers"}
    assert by_group["lapsed"] in {"Lapsed Occasionals", "Dormant One-Timers"}


def test_anomaly_reasons_name_the_planted_spend(planted):
    _, c = planted
    planted_hits = c[c["is_anomaly"] & c["is_anomaly_true"]]
    assert len(planted_hits) > 0
    assert planted_hits["anomaly_reason"].str.contains("x segment median").all()
    assert planted_hits["anomaly_reason"].str.contains("monetary|avg_order_value").mean() >= 0.8
    assert (c.loc[~c["is_anomaly"], "anomaly_reason"] == "").all()


def test_profiles_crosstab_and_pricing_signals(planted):
    result, c = planted
    learned = result.profiles[result.profiles["segmentation"] == "learned"]
    assert learned["customers"].sum() == len(c)
    assert learned["anomalies"].sum() == c["is_anomaly"].sum()
    assert learned["strategy"].str.len().gt(0).all() and learned["campaigns"].str.len().gt(0).all()
    assert (learned["avg_unit_price_paid"] > 0).all() and (learned["return_order_share"] == 0).all()
    assert result.crosstab.to_numpy().sum() == len(c)
    assert set(result.profiles["segmentation"]) == {"rfm", "learned"}


def test_metrics_agree_with_scikit_learn():
    X, y = make_blobs(n_samples=600, centers=4, random_state=1)
    est = silhouette(X, y, sample_size=5000)
    assert est.method == "exact" and est.value == pytest.approx(skm.silhouette_score(X, y))
    assert davies_bouldin(X, y) == pytest.approx(skm.davies_bouldin_score(X, y))
    assert calinski_harabasz(X, y) == pytest.approx(skm.calinski_harabasz_score(X, y))


def test_sampled_silhouette_is_within_its_spread_of_the_exact_value():
    X, y = make_blobs(n_samples=4000, centers=3, cluster_std=3.0, random_state=2)
    exact = skm.silhouette_score(X, y)
    est = silhouette(X, y, sample_size=800, n_samples=5, random_state=0)
    assert est.method == "sampled" and est.n_samples == 5 and est.sample_size == 800
    assert est.std > 0
    assert abs(est.value - exact) <= 2 * est.std


def test_knee_point():
    k = np.arange(2, 11)
    inertia = np.array([1000, 400, 150, 130, 115, 105, 98, 92, 88])
    assert k[knee_point(k, inertia)] == 4
    assert knee_point(k[:2], inertia[:2]) == 0


def _frame(n=400, seed=0):
    X, y = make_blobs(n_samples=n, centers=3, n_features=5, random_state=seed)
    frame = pd.DataFrame(np.exp(X / 4), columns=FEATURES)
    return frame, y


def test_estimator_contract():
    frame, y = _frame()
    seg = CustomerSegmenter(random_state=0, contamination=0.02)
    assert clone(seg).get_params() == seg.get_params()
    assert not hasattr(seg, "labels_")
    assert seg.fit(frame) is seg
    for attr in ("labels_", "cluster_centers_", "n_clusters_", "selection_", "is_anomaly_", "anomaly_score_",
                 "preprocessor_", "inertia_", "k_reason_"):
        assert hasattr(seg, attr)
    assert seg.n_clusters_ == 3
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)
    assert seg.transform(frame).shape == (len(frame), 3)
    np.testing.assert_array_equal(seg.transform(frame).argmin(axis=1), seg.labels_)
    again = CustomerSegmenter(random_state=0, contamination=0.02).fit_predict(frame)
    np.testing.assert_array_equal(again, seg.labels_)


def test_fixed_k_and_separate_outliers():
    frame, _ = _frame()
    seg = CustomerSegmenter(n_clusters=5, outliers="separate", contamination=0.05, random_state=0).fit(frame)
    assert seg.n_clusters_ == 5 and "fixed by the user" in seg.k_reason_
    assert set(np.unique(seg.labels_)) == {OUTLIER_CLUSTER, 0, 1, 2, 3, 4}
    assert (seg.labels_ == OUTLIER_CLUSTER).sum() == seg.is_anomaly_.sum()
    assert seg.selection_["chosen"].sum() == 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({"contamination": 0.7}, "contamination=0.7: use 'auto' or a number in \\[0, 0.5\\]"),
        ({"scaler": "minmax"}, "scaler='minmax': use 'standard' or 'robust'"),
        ({"k_range": (1, 5)}, "k_range=\\(1, 5\\)"),
        ({"n_clusters": 0}, "n_clusters=0"),
        ({"outliers": "drop"}, "outliers='drop': use 'assign' or 'separate'"),
    ],
)
def test_bad_parameters_name_the_argument(params, message):
    frame, _ = _frame(60)
    with pytest.raises(ValueError, match=message):
        CustomerSegmenter(**params).fit(frame)


@pytest.mark.parametrize("contamination", [0.05, "auto"])
def test_chunked_anomaly_scores_equal_scikit_learn_whatever_the_chunking(contamination):
    from sklearn.ensemble import IsolationForest

    from customersense.models.anomaly import AnomalyDetector

    # Exact equality: a row's score is computed from that row alone (trees in order), so the
    # chunking and the threads only decide which rows go together, never the operations
    # (tests/models/test_iforest_kernel.py says why the compiled path is bit for bit too).
    Z = np.random.default_rng(3).standard_t(3, size=(7_001, 5))
    reference = IsolationForest(n_estimators=200, contamination=contamination, random_state=7).fit(Z)
    for chunk_rows, workers in ((50_000, None), (1_000, 2), (333, 3)):
        det = AnomalyDetector(contamination, random_state=7, chunk_rows=chunk_rows, n_jobs=workers).fit(Z)
        np.testing.assert_array_equal(det.train_scores_, reference.score_samples(Z))
        assert det.offset_ == reference.offset_
        np.testing.assert_array_equal(det.predict(Z), reference.predict(Z))


@pytest.mark.parametrize("max_samples_rows", [7_001, 150])
def test_compiled_anomaly_scores_are_bit_identical_to_scikit_learn(max_samples_rows):
    from sklearn.ensemble import IsolationForest

    from customersense.models.anomaly import AnomalyDetector

    # 150 rows: trees shallower than 8 levels, with leaves at many depths
    Z = np.random.default_rng(4).standard_t(3, size=(max_samples_rows, 5))
    Z[::50] = Z[1]  # repeated rows: leaves holding several training samples
    reference = IsolationForest(n_estimators=200, contamination=0.05, random_state=11).fit(Z)
    for chunk_rows, workers in ((50_000, None), (997, 2)):
        det = AnomalyDetector(0.05, random_state=11, chunk_rows=chunk_rows, n_jobs=workers,
                              method="compiled").fit(Z)
        np.testing.assert_array_equal(det.train_scores_, reference.score_samples(Z))
        assert det.offset_ == reference.offset_
    wide = np.random.default_rng(5).normal(0, 10, size=(3_000, 5))  # far outside the training range
    compiled = det.score_samples(wide, method="compiled")
    np.testing.assert_array_equal(compiled, reference.score_samples(wide))
    np.testing.assert_array_equal(compiled, det.score_samples(wide, method="sklearn"))
