"""Issue 5 fast paths: chosen by data size behind the same API, equal to the exact path on small data."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from customersense.evaluation import silhouette, silhouettes
from customersense.models.segmenter import CustomerSegmenter
from customersense.progress import reporting

FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "tenure_days")


def _customers(n, centers, seed, std=1.0):
    X, y = make_blobs(n_samples=n, centers=centers, n_features=5, cluster_std=std, random_state=seed)
    return pd.DataFrame(np.exp(X / 4), columns=FEATURES), y


def _same_partition(a, b):
    """Equal up to a renaming of the clusters."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_silhouettes_of_several_labelings_equal_scikit_learn():
    X, y = make_blobs(n_samples=900, centers=4, n_features=5, random_state=0)
    rng = np.random.default_rng(1)
    odd = rng.integers(0, 6, len(X))
    odd[7] = 6  # a singleton cluster scores 0, as in scikit-learn
    labelings = [y, y % 2, odd]
    # Tolerance: the shared-distance path sums each point's distances to a cluster by a matrix
    # product (BLAS: blocking and summation order depend on the machine and on how many labelings
    # share the product), scikit-learn by its own reductions. Each mean distance is then off by at
    # most about n * eps (900 * 2.2e-16 = 2e-13) relative, and so is each point's silhouette; 1e-10
    # absolute leaves room for that and is far below any real error (the values are 0.006 to 0.7).
    for lab, est in zip(labelings, silhouettes(X, labelings, sample_size=5000)):
        assert est.method == "exact"
        assert est.value == pytest.approx(skm.silhouette_score(X, lab), rel=1e-9, abs=1e-10)
    # sampled: the same seeded samples for every labeling, each scored exactly
    ests = silhouettes(X, labelings, sample_size=300, n_samples=4, random_state=5)
    for lab, est in zip(labelings, ests):
        draw = np.random.default_rng(5)
        values = []
        for _ in range(4):
            idx = np.sort(draw.choice(len(X), 300, replace=False))
            values.append(skm.silhouette_score(X[idx], lab[idx]))
        assert est.method == "sampled" and est.value == pytest.approx(np.mean(values), rel=1e-9, abs=1e-10)
        # One labeling alone draws the same samples, but its distance sums come from a matrix
        # product with fewer columns, which BLAS may sum in another order: equal to the same
        # tolerance, not bit for bit (a fresh machine gave 0.006309577089879964 vs ...994).
        alone = silhouette(X, lab, sample_size=300, n_samples=4, random_state=5)
        assert (alone.method, alone.sample_size, alone.n_samples) == (est.method, est.sample_size, est.n_samples)
        for field in ("value", "std", "ci_low", "ci_high"):
            assert getattr(alone, field) == pytest.approx(getattr(est, field), rel=1e-9, abs=1e-10), field


def test_below_the_sweep_threshold_the_exact_path_is_taken():
    frame, _ = _customers(3000, 4, seed=2, std=1.5)
    auto = CustomerSegmenter(contamination=0.03, random_state=0).fit(frame)
    exact = CustomerSegmenter(contamination=0.03, random_state=0, sweep_sample_size=None,
                              max_fit_samples=None).fit(frame)
    assert not auto.sweep_sampled_ and not exact.sweep_sampled_
    np.testing.assert_array_equal(auto.labels_, exact.labels_)
    pd.testing.assert_frame_equal(auto.selection_, exact.selection_)
    # and the exact path is plain K-Means on all inliers, every k scored by scikit-learn's silhouette
    Z = auto.preprocessor_.transform(frame.to_numpy())
    inliers = Z[~auto.is_anomaly_]
    for row in auto.selection_.itertuples():
        ref = KMeans(row.k, n_init=4, random_state=0).fit(inliers)
        assert row.inertia == pytest.approx(ref.inertia_)
        assert row.silhouette == pytest.approx(skm.silhouette_score(inliers, ref.labels_), rel=1e-9)
        if row.k == auto.n_clusters_:
            assert _same_partition(auto.labels_[~auto.is_anomaly_], ref.labels_)


def test_sampled_sweep_recovers_planted_segments_with_full_fit_inertia():
    frame, truth = _customers(40_000, 4, seed=3, std=1.8)
    seg = CustomerSegmenter(contamination=0, random_state=0, sweep_sample_size=2000, max_fit_samples=10_000,
                            silhouette_sample_size=1000).fit(frame)
    assert seg.sweep_sampled_
    assert seg.n_clusters_ == 4
    assert adjusted_rand_score(truth, seg.labels_) >= 0.95
    Z = seg.preprocessor_.transform(frame.to_numpy())
    full = KMeans(4, n_init=4, random_state=0).fit(Z)
    assert seg.inertia_ == pytest.approx(((Z - seg.cluster_centers_[seg.labels_]) ** 2).sum())
    assert seg.inertia_ <= 1.02 * full.inertia_
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)


def test_sample_sizes_are_validated():
    frame, _ = _customers(200, 3, seed=0)
    with pytest.raises(ValueError, match="sweep_sample_size=10"):
        CustomerSegmenter(sweep_sample_size=10).fit(frame)


def test_progress_counts_every_customer_scored_and_assigned():
    frame, _ = _customers(2500, 3, seed=1)
    calls = []
    with reporting(lambda *a: calls.append(a)):
        CustomerSegmenter(contamination=0.05, random_state=0).fit(frame)
    for what in ("customers scored", "customers assigned"):
        done = [c for c, total, w in calls if w == what]
        assert done == sorted(done) and done[-1] == len(frame)
        assert {total for _, total, w in calls if w == what} == {len(frame)}
    calls.clear()  # outside the block nobody is told
    CustomerSegmenter(contamination=0.05, random_state=0).fit(frame)
    assert calls == []


def test_rich_reporter_shows_counts_and_rate():
    from customersense.cli.display import CountColumn, RichReporter

    reporter = RichReporter()
    reporter.start("segments", "Anomalies and learned segments")
    reporter.update("segments", 1_000, 5_000, "customers scored")
    task = reporter.progress.tasks[0]
    assert str(CountColumn().render(task)).startswith("1,000/5,000 customers scored")
    reporter.finish("segments", 0.1)
    reporter.close()


def test_stage_clock_passes_counts_to_the_reporter_and_tolerates_reporters_without_counts():
    from customersense.progress import StageClock

    class Recording:
        def __init__(self):
            self.seen = []

        def start(self, stage, description):
            pass

        def update(self, stage, completed, total, what):
            self.seen.append((stage, completed, total, what))

        def finish(self, stage, seconds):
            pass

    class Old:  # a reporter written before counts existed
        def start(self, stage, description):
            pass

        def finish(self, stage, seconds):
            pass

    rec = Recording()
    with StageClock(rec).stage("segments", "Segments") as progress:
        progress(5, 10, "customers scored")
    assert rec.seen == [("segments", 5, 10, "customers scored")]
    clock = StageClock(Old())
    with clock.stage("segments", "Segments") as progress:
        progress(5, 10, "customers scored")
    assert "segments" in clock.stages


def test_engine_progress_reports_the_running_duckdb_query_and_only_to_listeners(monkeypatch):
    import ibis

    from customersense.engine import connect, watch
    from customersense.progress import StageClock

    monkeypatch.setattr(watch, "POLL_SECONDS", 0.005)
    engine = connect()
    engine.backend.raw_sql("CREATE TABLE t AS SELECT range AS i FROM range(4000000)")
    query = "SELECT count(*) FROM (SELECT i % 1999993 AS k, count(*) FROM t GROUP BY k)"
    heard = []
    with engine.watch(lambda done, total, what: heard.append((done, total, what))):
        assert engine.backend.raw_sql(query).fetchall() == [(1_999_993,)]
    assert heard, "no progress heard while a 4M-row GROUP BY ran"
    assert all(0 <= done <= 100 and total == 100 and what == "% of query 1" for done, total, what in heard)
    assert [d for d, _, _ in heard] == sorted(d for d, _, _ in heard)

    calls = []
    watching = lambda progress: calls.append(progress) or engine.watch(progress)  # noqa: E731
    with StageClock(None, watch=watching).stage("clean", "Cleaning"):  # nobody listens: no polling
        pass
    assert calls == []


def test_vectorised_anomaly_reasons_equal_the_row_by_row_wording():
    from customersense.models.anomaly import _describe, anomaly_reasons

    rng = np.random.default_rng(0)
    n = 3000
    raw = np.abs(rng.standard_t(3, (n, 5))) * 100
    raw[:40] *= -1  # negative values get the other wording
    Z, labels = rng.standard_normal((n, 5)), rng.integers(0, 4, n)
    centers, is_anomaly = rng.standard_normal((4, 5)), rng.random(n) < 0.05
    got = anomaly_reasons(raw, Z, labels, centers, is_anomaly, FEATURES)
    for i in range(n):
        if not is_anomaly[i]:
            assert got[i] == ""
            continue
        c = labels[i]
        median = np.median(raw[(labels == c) & ~is_anomaly], axis=0)
        order = np.argsort(-np.abs(Z[i] - centers[c]), kind="stable")[:2]
        assert got[i] == "; ".join(_describe(FEATURES[j], raw[i, j], median[j]) for j in order)


def test_engagement_in_numpy_equals_the_engine_bit_for_bit():
    """customer_frame computes the engagement score after the fetch; the engine's window query
    (customer_features, used on Spark at scale) gives the same doubles, ties included."""
    import datetime as dt

    import ibis

    from customersense.cleaning import IS_RETURN, LINE_AMOUNT, ORDER_KEY, PURCHASE_DATE
    from customersense.features import customer_features, customer_frame, engagement_scores

    rng = np.random.default_rng(3)
    n = 3000
    day = pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
    amount = np.round(rng.lognormal(2, 1, n), 2) * np.where(rng.random(n) < 0.1, -1, 1)
    lines = pd.DataFrame({
        "customer_id": [f"c{i}" for i in rng.integers(0, 400, n)],  # many ties in every feature
        "timestamp": day,
        IS_RETURN: amount < 0,
        LINE_AMOUNT: amount,
        PURCHASE_DATE: day.date,
        ORDER_KEY: [f"o{i}" for i in rng.integers(0, 1500, n)],
        "amount": amount,
    })
    con = ibis.duckdb.connect()
    t = con.create_table("lines", lines)
    as_of = dt.date(2021, 3, 1)
    engine = customer_features(t, as_of).to_pandas()
    frame = customer_frame(t, as_of)
    assert list(frame.columns) == list(engine.columns)
    assert frame["engagement_score"].nunique() > 50
    # Bit for bit on any machine, by construction: both compute PERCENT_RANK as the double
    # (rank - 1) / (n - 1), then 100 * ((0.4 a + 0.3 b) + 0.3 c) and floor(x * 1e6 + 0.5) / 1e6,
    # the same IEEE operations in the same order on the same inputs (each operator a separate
    # vector operation on both sides, so no fused multiply-add and no reassociation).
    np.testing.assert_array_equal(frame["engagement_score"].to_numpy(), engine["engagement_score"].to_numpy())
    pd.testing.assert_frame_equal(frame, engine)
    # hand-checked: ranks (1, 2, 2, 4) -> (0, 1/3, 1/3, 1); one customer scores 0
    assert engagement_scores([5], [1], [2.0]).tolist() == [0.0]
    got = engagement_scores([4, 3, 3, 1], [1, 2, 2, 3], [1.0, 2.0, 2.0, 9.0])
    assert got.tolist() == [0.0, 33.333333, 33.333333, 100.0]
