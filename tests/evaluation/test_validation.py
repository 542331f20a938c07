"""Statistical validation: stable and significant on planted groups, not significant on one blob,
the gap rule survives a dip at k = 2, a diffuse cluster is flagged, silhouette intervals hold."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from customersense.evaluation import silhouette
from customersense.evaluation.validation import (
    ValidationSettings, reference_sample, validate_clustering,
)
from customersense.reporting.validation_plot import VALIDATION_TITLES, validation_figure

FAST = dict(n_bootstrap=20, gap_references=8)


def _fit(X, k):
    return KMeans(k, n_init=4, random_state=0).fit_predict(X)


def test_planted_well_separated_groups_are_stable_and_significant():
    X, _ = make_blobs(n_samples=1500, centers=4, n_features=5, random_state=3)
    report = validate_clustering(X, _fit(X, 4), ValidationSettings(k_max=8, **FAST))
    assert all(j >= 0.75 for j in report.jaccard) and set(report.stability) == {"stable"}
    assert report.p_value < 0.05 and report.significant
    assert report.k_gap == 4
    assert report.verdict().startswith("4 segments, all stable")
    assert report.verdict().endswith("gap statistic picks k = 4")


def test_a_gap_still_rising_at_the_edge_is_no_optimum():
    # 9 planted groups searched only up to k = 5: the gap keeps rising to the last k tried, which
    # is not a pick (issue 18: "gap statistic picks k = 10" at the edge of 2..10 was unexplained)
    X, _ = make_blobs(n_samples=1800, centers=9, n_features=5, cluster_std=0.5, random_state=1)
    report = validate_clustering(X, _fit(X, 5), ValidationSettings(k_max=5, **FAST))
    assert report.k_gap == 5 == max(report.gap_k)
    assert report.verdict().endswith("gap statistic: no optimum within k = 1..5 (still rising at the edge)")


def test_one_unimodal_blob_is_not_significant():
    # 5,000 customers from a single Gaussian blob in the (log) feature space
    Z = np.random.default_rng(0).normal(size=(5000, 5))
    report = validate_clustering(Z, _fit(Z, 3), ValidationSettings(k_max=6, **FAST))
    assert not report.significant and report.p_value > 0.5
    assert report.k_gap == 1  # no k > 1 better than a single group
    assert report.verdict().startswith("no segment structure beyond chance")
    assert "classic RFM segments" in report.verdict()


def test_gap_rule_finds_clusters_where_the_textbook_rule_stops_at_one():
    rng = np.random.default_rng(1)
    centers = np.array([[i * 5, j * 5] for i in range(3) for j in range(3)])  # a 3 x 3 grid
    X = np.vstack([rng.normal(c, 0.4, size=(150, 2)) for c in centers])
    report = validate_clustering(X, _fit(X, 9), ValidationSettings(k_max=10, n_null=39, **FAST))
    gap, se = np.array(report.gap), np.array(report.gap_se)
    textbook = next(k for k in range(1, len(gap)) if gap[k - 1] >= gap[k] - se[k])
    assert textbook == 1  # the dip: gap(1) >= gap(2) - s(2)
    assert report.k_gap == 9
    assert report.significant


def test_a_diffuse_half_cluster_is_flagged():
    rng = np.random.default_rng(2)
    tight_a = rng.normal([0, 0, 0], 0.5, size=(600, 3))
    tight_b = rng.normal([8, 0, 0], 0.5, size=(600, 3))
    diffuse = rng.normal([4, 0, 0], 4.0, size=(300, 3))  # half as many, spread over both
    X = np.vstack([tight_a, tight_b, diffuse])
    labels = _fit(X, 3)
    report = validate_clustering(X, labels, ValidationSettings(k_max=4, n_null=39, n_bootstrap=30, gap_references=4))
    # K-Means keeps the two tight groups (absorbing nearby diffuse points) and makes a third,
    # small cluster out of the rest of the cloud
    diffuse_cluster = np.bincount(labels).argmin()
    assert report.stability[diffuse_cluster] in ("weak", "unstable")
    tight = [c for c in range(3) if c != diffuse_cluster]
    assert all(report.stability[c] == "stable" for c in tight)
    assert "weak" in report.verdict() or "unstable" in report.verdict()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_silhouette_is_inside_the_reported_interval(seed):
    X, y = make_blobs(n_samples=3000, centers=3, cluster_std=2.5, random_state=seed)
    exact = skm.silhouette_score(X, y)
    est = silhouette(X, y, sample_size=1000, n_samples=8, random_state=seed)
    # the interval of the mean and the spread of single samples both contain the exact value
    assert est.ci_low - 2 * est.std / np.sqrt(8) <= exact <= est.ci_high + 2 * est.std / np.sqrt(8)
    assert abs(est.value - exact) <= 2 * est.std


def test_reference_data_keeps_the_principal_component_box():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(2000, 3)) @ np.array([[3, 0, 0], [1, 1, 0], [0, 0, 0.2]]) + 10
    R = reference_sample(Z, rng)
    assert R.shape == Z.shape
    # uniform over the PC box: inside the data's range on each PC, spread = box width / sqrt(12)
    _, _, vt = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
    pz, pr = (Z - Z.mean(axis=0)) @ vt.T, (R - Z.mean(axis=0)) @ vt.T
    assert (pr.min(axis=0) >= pz.min(axis=0)).all() and (pr.max(axis=0) <= pz.max(axis=0)).all()
    np.testing.assert_allclose(pr.std(axis=0), np.ptp(pz, axis=0) / np.sqrt(12), rtol=0.1)


def test_validation_samples_large_inputs_and_says_so():
    X, _ = make_blobs(n_samples=3000, centers=3, n_features=4, random_state=5)
    report = validate_clustering(X, _fit(X, 3), ValidationSettings(max_customers=1000, k_max=4, n_null=19, **FAST))
    assert report.sampled and report.n_used == 1000 and report.n_customers == 3000
    d = report.to_dict()
    assert d["verdict"] == report.verdict() and d["settings"]["max_customers"] == 1000
    assert "Hennig" in d["methods"]["stability"]


def test_validation_figure_panels():
    X, _ = make_blobs(n_samples=600, centers=3, n_features=3, random_state=5)
    report = validate_clustering(X, _fit(X, 3), ValidationSettings(k_max=5, n_null=19, **FAST),
                                 segment_names=["Champions", "At Risk", "Lost"])
    fig = validation_figure(report, caption="blobs · as of 2024-01-01 · currency not set")
    assert "blobs · as of 2024-01-01 · currency not set" in fig.get_suptitle()
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == list(VALIDATION_TITLES)
    bars = [p.get_width() for p in axes[1].patches]
    assert bars == pytest.approx(report.jaccard)
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["Champions", "At Risk", "Lost"]
    assert axes[2].lines[0].get_xdata()[0] == pytest.approx(report.observed_statistic)


def test_parallel_fits_give_the_serial_report_and_count_every_fit():
    X, _ = make_blobs(n_samples=1200, centers=3, n_features=4, random_state=5)
    settings = ValidationSettings(k_max=4, n_null=9, n_bootstrap=6, gap_references=3)
    heard = []
    serial = validate_clustering(X, _fit(X, 3), settings, workers=1)
    parallel = validate_clustering(X, _fit(X, 3), settings, workers=2,
                                   progress=lambda done, total, what: heard.append((done, total, what)))
    # Exact: every fit runs with one BLAS/OpenMP thread (threadpool_limits) and its own seed,
    # so each is the same operations on the same inputs whichever worker runs it, and the
    # results are gathered in submission order.
    assert parallel.to_dict() == serial.to_dict()
    total = 6 + (1 + 3) * 4 + 2 + 2 * 9
    assert [d for d, _, _ in heard] == list(range(1, total + 1))
    assert {(t, w) for _, t, w in heard} == {(total, "fits")}
