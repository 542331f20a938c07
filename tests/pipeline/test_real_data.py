"""End to end on the real datasets shipped in the package, checked against independent SQL."""

import datetime as dt
import math
import re
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from customersense.cleaning import RULES
from customersense.config import DEFAULT_NON_PRODUCT_CODES, load_config
from customersense.datasets import dataset_path
from customersense.pipeline import analyse, session

OR2 = str(dataset_path("online_retail_ii"))
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _readme(pattern: str) -> tuple:
    """The numbers (thousands separators dropped) that ``pattern``'s groups find in the README."""
    match = re.search(pattern, README)
    assert match, f"the README no longer says: {pattern}"
    return tuple(float(g.replace(",", "")) if "." in g else int(g.replace(",", "")) for g in match.groups())


def _readme_non_product_codes() -> set[str]:
    match = re.search(r"\(postage, fees, discounts, vouchers: `([^`]+)` and codes matching `\^gift_`", README)
    assert match, "the README no longer lists the non-product codes"
    return {c.strip() for c in match.group(1).replace("\n", " ").split(",")}


@pytest.fixture(scope="module")
def by_hand():
    """The README's cleaning policy applied with plain pandas to the raw embedded parquet: each
    row dropped by the first rule it meets, in the README's order (rules that drop nothing on
    this file, such as missing timestamps, checked to drop nothing)."""
    raw = pd.read_parquet(OR2)
    assert raw["InvoiceDate"].notna().all() and raw[["Quantity", "Price"]].notna().all().all()
    last = pd.to_datetime(raw["InvoiceDate"]).max()
    no_customer = raw["Customer ID"].isna()
    rest = raw[~no_customer]
    copy = rest.duplicated(keep="first")  # exact copies of an earlier row: one of each is kept
    rows = rest[~copy]
    code = rows["StockCode"].str.strip().str.upper()
    non_product = code.isin(_readme_non_product_codes()) | code.str.startswith("GIFT_")
    rows = rows[~non_product]
    zero_quantity = rows["Quantity"] == 0
    rows = rows[~zero_quantity]
    non_positive_price = rows["Price"] <= 0
    rows = rows[~non_positive_price]
    is_return = rows["Invoice"].str.startswith("C") | (rows["Quantity"] < 0)
    buyers = set(rows.loc[~is_return, "Customer ID"])
    orphan = ~rows["Customer ID"].isin(buyers)
    return {
        "rows_in": len(raw), "as_of": last.date() + dt.timedelta(days=1),
        "dropped": {**dict.fromkeys(RULES, 0), "missing_customer_id": int(no_customer.sum()),
                    "duplicate_rows": int(copy.sum()), "non_product_code": int(non_product.sum()),
                    "zero_quantity": int(zero_quantity.sum()), "non_positive_price": int(non_positive_price.sum()),
                    "orphan_returns": int(orphan.sum())},
        "rows_kept": int((~orphan).sum()), "customers": len(buyers),
    }


@pytest.fixture(scope="module")
def or2():
    config = load_config(None, {"input": {"source": OR2}})
    with session(config) as (engine, workdir), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analyse(config, engine, workdir)
        # the kept purchases, read while the engine is open (for the independent CLV holdout count)
        result.kept_purchases = result.transactions.filter(~result.transactions.is_return).select(
            "customer_id", "purchase_date").to_pandas()
    result.caught_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    yield result


def test_clv_on_online_retail_has_no_warnings_nans_or_infinities(or2):
    assert or2.clv is not None
    assert not or2.caught_warnings, [str(w.message) for w in or2.caught_warnings]
    c = or2.customers
    values = c[["churn_probability", "expected_purchases_90d", "expected_spend_90d", "clv"]].to_numpy(float)
    assert np.isfinite(values).all()
    assert ((values[:, 0] >= 0) & (values[:, 0] <= 1)).all() and (values[:, 1:] >= 0).all()
    learned = or2.profiles[or2.profiles["segmentation"] == "learned"]
    assert learned["clv_total"].sum() == pytest.approx(c["clv"].sum())
    # every candidate and baseline scored on the last 90 days; the chosen one beats frequency alone
    table = or2.clv.holdout.set_index("candidate")
    assert list(table.index) == ["BG/NBD", "MBG/NBD", "Pareto/NBD", "Gradient boosting (time split)",
                                 "recency only", "frequency only", "last-period spend"]
    chosen = table.index[table["chosen"]].item()
    assert table.loc[chosen, "churn_auc"] > table.loc["frequency only", "churn_auc"]
    assert (c["clv_model"] == chosen).all()
    for row in or2.clv.record["candidates"]:
        if row["kind"] == "btyd":
            assert set(row["fit"]["identifiability"]) == set(row["fit"]["params"])


def test_clv_holdout_outcome_equals_an_independent_count(or2):
    """The holdout's population, churn rate and the frequency-only AUC recomputed in pandas from
    the kept transactions, against clv_models.json."""
    from sklearn.metrics import roc_auc_score

    rec = or2.clv.record["holdout"]
    days = or2.kept_purchases.drop_duplicates()
    days["purchase_date"] = pd.to_datetime(days["purchase_date"]).dt.date
    cal_end, last = dt.date.fromisoformat(rec["calibration_end"]), dt.date.fromisoformat(rec["holdout_end"])
    assert (last - cal_end).days == 90 and last == or2.cleaning.as_of - dt.timedelta(days=1)
    before = days[days["purchase_date"] <= cal_end].groupby("customer_id").size()
    after = days[(days["purchase_date"] > cal_end) & (days["purchase_date"] <= last)].groupby("customer_id").size()
    churned = ~before.index.isin(after.index)
    assert rec["customers"] == len(before)
    assert rec["churn_rate"] == pytest.approx(churned.mean(), abs=1e-6)
    table = or2.clv.holdout.set_index("candidate")
    # frequency alone ranks churners by fewer purchase days (the AUC of -frequency; recorded to 6 decimals)
    assert table.loc["frequency only", "churn_auc"] == pytest.approx(roc_auc_score(churned, -before.to_numpy()),
                                                                     abs=6e-7)


def test_cleaning_report_equals_the_policy_applied_by_hand(or2, by_hand):
    rep = or2.cleaning
    assert rep.rows_in == by_hand["rows_in"] == rep.rows_kept + sum(rep.dropped.values())
    assert rep.dropped == by_hand["dropped"]
    assert rep.rows_kept == by_hand["rows_kept"]
    assert rep.customers == len(or2.customers) == by_hand["customers"]
    assert rep.as_of == by_hand["as_of"]


def test_readme_cleaning_figures_equal_the_policy_applied_by_hand(by_hand):
    """The README's numbers are checked against the independent computation, not the code."""
    said = _readme(
        r"On the embedded Online Retail II data \(([\d,]+) rows\): ([\d,]+) without customer, ([\d,]+) duplicates"
        r"\s+among the rest, ([\d,]+) non-product lines, ([\d,]+) zero-price lines, ([\d,]+) orphan returns;"
        r" ([\d,]+) rows kept\s+for ([\d,]+) customers")
    d = by_hand["dropped"]
    assert said == (by_hand["rows_in"], d["missing_customer_id"], d["duplicate_rows"], d["non_product_code"],
                    d["non_positive_price"], d["orphan_returns"], by_hand["rows_kept"], by_hand["customers"])
    # and the README's list of non-product codes is the code's default list
    assert _readme_non_product_codes() == set(DEFAULT_NON_PRODUCT_CODES)


def test_totals_equal_an_independent_duckdb_query(or2):
    codes = ", ".join(f"'{c}'" for c in DEFAULT_NON_PRODUCT_CODES)
    sql = f"""
    WITH deduped AS (SELECT DISTINCT * FROM read_parquet('{OR2}') WHERE "Customer ID" IS NOT NULL),
    kept AS (
        SELECT *, (Invoice LIKE 'C%' OR Quantity < 0) AS is_return FROM deduped
        WHERE upper(StockCode) NOT IN ({codes}) AND NOT regexp_matches(StockCode, '(?i)^gift_')
          AND Price > 0 AND Quantity <> 0
    ),
    buyers AS (SELECT DISTINCT "Customer ID" AS c FROM kept WHERE NOT is_return),
    final AS (SELECT * FROM kept WHERE "Customer ID" IN (SELECT c FROM buyers))
    SELECT
        count(DISTINCT "Customer ID") AS customers,
        sum(CASE WHEN is_return THEN -abs(Quantity * Price) ELSE abs(Quantity * Price) END) AS net_revenue,
        count(DISTINCT ("Customer ID", Invoice)) FILTER (WHERE NOT is_return) AS orders,
        count(*) AS rows_kept
    FROM final
    """
    customers, net_revenue, orders, rows_kept = duckdb.sql(sql).fetchone()
    c = or2.customers
    assert len(c) == customers
    assert int(c["frequency"].sum()) == orders
    assert c["monetary"].sum() == pytest.approx(net_revenue, rel=1e-9)
    assert or2.cleaning.rows_kept == rows_kept


def test_every_customer_has_a_segment_and_profiles_add_up(or2):
    c = or2.customers
    assert c["rfm_segment"].notna().all()
    assert c[["r_score", "f_score", "m_score"]].isin([1, 2, 3, 4, 5]).all().all()
    p = or2.profiles[or2.profiles["segmentation"] == "rfm"]
    assert p["customers"].sum() == len(c)
    assert p["share"].sum() == pytest.approx(1.0)
    assert p["revenue"].sum() == pytest.approx(c["monetary"].sum())
    champions = p.set_index("segment").loc["Champions"]
    assert champions["mean_monetary"] > p["mean_monetary"].median()


def test_past_as_of_is_a_point_in_time_snapshot():
    as_of = dt.date(2010, 6, 1)
    config = load_config(None, {"input": {"source": OR2}, "cleaning": {"as_of": as_of}})
    with session(config) as (engine, workdir):
        result = analyse(config, engine, workdir)
    first_excluded = duckdb.sql(
        f"""SELECT count(*) FROM read_parquet('{OR2}')
            WHERE "Customer ID" IS NOT NULL AND CAST(InvoiceDate AS TIMESTAMP) >= TIMESTAMP '2010-06-01'"""
    ).fetchone()[0]
    assert result.cleaning.dropped["after_as_of"] == first_excluded
    assert result.customers["recency_days"].min() >= 1
    assert result.cleaning.as_of == as_of


def _analyse(source):
    config = load_config(None, {"input": {"source": source}})
    with session(config) as (engine, workdir):
        return analyse(config, engine, workdir)


def test_or2_learned_segments_follow_independent_computations(or2, by_hand):
    """The README's k, silhouette, elbow and anomaly count, each checked against a computation
    made here with scikit-learn and numpy on the run's features, not against the run's output."""
    c = or2.customers
    assert or2.learned is not None and c["segment"].notna().all()
    model = or2.learned.model
    seed = 42  # the documented default --seed
    raw = c[list(model.feature_names_in_)].to_numpy(dtype="float64")
    # The README's scaling by hand: signed log1p, then z-scores.
    logged = np.sign(raw) * np.log1p(np.abs(raw))
    Z = (logged - logged.mean(axis=0)) / logged.std(axis=0)
    # rtol: the same formula, but the pipeline's mean and variance are summed in another order
    np.testing.assert_allclose(model.preprocessor_.transform(raw), Z, rtol=1e-9, atol=1e-9)

    # Anomalies: scikit-learn's own Isolation Forest (200 trees, the seed) on these features flags
    # the same customers. Its offset_ is the 5th percentile of the training scores (linear
    # interpolation at (n - 1) x 0.05 = 214.2 for n = 4,285), and an anomaly scores below it:
    # ceil((n - 1) x contamination) customers when the two order statistics there differ.
    n, contamination = by_hand["customers"], 0.05
    forest = IsolationForest(n_estimators=200, contamination=contamination, random_state=seed).fit(Z)
    scores = np.sort(forest.score_samples(Z))
    at = (n - 1) * contamination
    assert scores[math.floor(at)] < scores[math.floor(at) + 1]
    expected_anomalies = math.ceil(at)
    assert int((forest.predict(Z) == -1).sum()) == expected_anomalies
    np.testing.assert_array_equal(model.is_anomaly_, forest.predict(Z) == -1)
    np.testing.assert_array_equal(c["is_anomaly"].to_numpy(), model.is_anomaly_)

    # k: plain K-Means per k on the inliers (one thread, as the run for fewer than 100,000
    # customers), each scored by scikit-learn's silhouette; the documented rule: the highest
    # silhouette wins, ties to the smaller k.
    inliers = Z[~model.is_anomaly_]
    table = model.selection_.set_index("k")
    silhouettes, inertias = {}, {}
    with threadpool_limits(limits=1):
        for k in table.index:
            km = KMeans(k, n_init=4, random_state=seed).fit(inliers)
            silhouettes[k], inertias[k] = silhouette_score(inliers, km.labels_), km.inertia_
    # rtol 1e-6: the run scales the features with the pipeline (last-bit differences from Z
    # here) and sums distances by matrix products; a different clustering would differ by > 1e-4
    assert table["silhouette"].to_dict() == pytest.approx(silhouettes, rel=1e-6)
    assert table["silhouette_method"].eq("exact").all()
    best = max(silhouettes.values())
    chosen = min(k for k, s in silhouettes.items() if s >= best - 1e-12)
    assert model.n_clusters_ == chosen
    # the silhouette of the run's own labels, recomputed
    assert silhouette_score(inliers, model.labels_[~model.is_anomaly_]) == pytest.approx(silhouettes[chosen], rel=1e-6)
    # the inertia elbow by the Kneedle rule (both axes scaled to [0, 1], farthest below the chord)
    ks = np.array(sorted(inertias), dtype=float)
    y = np.array([inertias[k] for k in sorted(inertias)])
    xn, yn = (ks - ks.min()) / np.ptp(ks), (y - y.min()) / np.ptp(y)
    elbow = int(ks[np.argmax((1 - xn) - yn)])
    assert int(table.index[table["is_elbow"]][0]) == elbow

    # the README's figures equal these independent computations
    k_said, sil_said, elbow_said, anomalies_said = _readme(
        r"On the embedded Online Retail II data the rule picks k = (\d+) \(silhouette ([\d.]+); the inertia elbow"
        r"\s+is at k = (\d+)\) and flags (\d+) anomalies")
    assert (k_said, elbow_said, anomalies_said) == (chosen, elbow, expected_anomalies)
    assert sil_said == round(silhouettes[chosen], 3)


def test_or2_validation_and_identical_rerun(or2):
    c = or2.customers
    assert or2.validation.significant and min(or2.validation.jaccard) >= 0.97
    assert c["is_anomaly"].mean() == pytest.approx(0.05, abs=0.005)
    again = _analyse(OR2)
    pd.testing.assert_frame_equal(c, again.customers)
    pd.testing.assert_frame_equal(or2.profiles, again.profiles)
    pd.testing.assert_frame_equal(or2.learned.model.selection_, again.learned.model.selection_)


def test_cdnow_master_runs_without_column_flags():
    result = _analyse(str(dataset_path("cdnow_master")))
    # 80 rows are worth $0.00: purchases under the zero-value policy ("auto": the file has
    # amounts only), so the 68 customers whose only purchases were free are customers too.
    customers, days = duckdb.sql(
        f"""SELECT count(DISTINCT line[1]), count(DISTINCT (line[1], line[2])) FROM (
              SELECT string_split_regex(trim(l), '\\s+') AS line
              FROM read_csv('{dataset_path("cdnow_master")}', columns={{'l': 'VARCHAR'}}, header=true, delim='|')
            ) WHERE CAST(line[4] AS DOUBLE) >= 0"""
    ).fetchone()
    assert result.cleaning.rows_in == 69_659
    assert sum(result.cleaning.dropped.values()) == 0
    assert result.cleaning.plausible["zero_value"]["kept_as_purchases"] == 80
    assert len(result.customers) == customers == 23_570
    assert int(result.customers["frequency"].sum()) == days  # no order ids: purchase days
    assert result.cleaning.as_of == dt.date(1998, 7, 1)
    # learned segments on default settings, and the same on a rerun with the same seed
    assert result.learned.model.n_clusters_ >= 2
    assert result.learned.model.selection_["silhouette_method"].eq("sampled").all()
    pd.testing.assert_frame_equal(result.customers, _analyse(str(dataset_path("cdnow_master"))).customers)
    # churn and CLV on the literature's data set: the last 90 days are the holdout
    rec = result.clv.record
    assert rec["holdout"]["calibration_end"] == "1998-04-01"
    table = result.clv.holdout.set_index("candidate")
    chosen = table.index[table["chosen"]].item()
    assert table.loc[chosen, "churn_auc"] > max(table.loc["frequency only", "churn_auc"],
                                                table.loc["recency only", "churn_auc"])
    pareto = table.loc["Pareto/NBD"]  # measured: 6,331 purchase days predicted for 5,619 (+12.7%)
    assert abs(pareto["purchases_predicted"] / pareto["purchases_actual"] - 1) < 0.15
    assert np.isfinite(result.customers[["churn_probability", "clv"]].to_numpy(float)).all()


@pytest.mark.parametrize(
    "name, shared",
    [("online_retail_ii", "online_retail_ii_2009_2010/online_retail_II_2009_2010.parquet"),
     ("cdnow_master", "cdnow/CDNOW_master.txt"),
     ("cdnow_sample", "cdnow/CDNOW_sample.txt")],
)
def test_embedded_copies_equal_the_shared_datasets(name, shared):
    """An extra check where ../shared exists: the shipped copies are the real files, unchanged."""
    from ..conftest import SHARED

    path = SHARED / shared
    if not path.exists():
        pytest.skip("../shared/datasets is not beside this checkout")
    assert dataset_path(name).read_bytes() == path.read_bytes()
