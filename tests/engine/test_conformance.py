"""One suite, two engines: DuckDB and Spark (local mode) must give the same answer.

Counts and dates exactly, sums to 1e-9 relative, on the real datasets (../shared when present,
else the copies embedded in the package: the same files) and on edge cases: one purchase,
same-day purchases, returns only, timestamps at midnight and across days. The whole pipeline
(learned segments, anomalies, CLV) is compared too, and Spark must never bring transactions
back to the driver: only customer-level rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from customersense.cleaning import clean
from customersense.config import CleaningPolicy, EngineConfig, InputConfig, load_config
from customersense.datasets import dataset_path
from customersense.engine import connect
from customersense.features import customer_features
from customersense.io.readers import read_transactions
from customersense.pipeline import analyse, session
from customersense.rfm import load_segment_map, score_rfm

from ..conftest import SHARED, SPARK_MISSING

pytestmark = [pytest.mark.spark, pytest.mark.skipif(SPARK_MISSING is not None, reason=str(SPARK_MISSING))]

REAL = {
    "online_retail_ii": ("online_retail_ii_2009_2010/online_retail_II_2009_2010.parquet", "online_retail_ii"),
    "cdnow_master": ("cdnow/CDNOW_master.txt", "cdnow_master"),
    "cdnow_sample": ("cdnow/CDNOW_sample.txt", "cdnow_sample"),
}


def _source(name: str) -> str:
    shared, embedded = REAL[name]
    path = SHARED / shared
    return str(path if path.is_file() else dataset_path(embedded))


@pytest.fixture(scope="module")
def engines(spark_session):
    duck, spark = connect(), connect(EngineConfig(name="spark"))
    yield {"duckdb": duck, "spark": spark}
    duck.close()
    spark.close()


def _transaction_stages(engine, source: str, workdir: Path, policy: CleaningPolicy = CleaningPolicy()):
    tx = read_transactions(engine, InputConfig(source=source), workdir)
    cleaned = clean(engine, tx.table, policy, source=source)
    features = customer_features(cleaned.purchases_and_returns, cleaned.report.as_of).to_pandas()
    features = features.astype({"customer_id": "string"}).reset_index(drop=True)
    rfm = score_rfm(features)
    features = pd.concat([features, rfm.scores], axis=1)
    features["rfm_segment"] = load_segment_map(None).assign(rfm.scores)
    return cleaned.report, features


def assert_same_customers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same rows in the same order; floats to 1e-9 relative, everything else exactly."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            np.testing.assert_allclose(y.to_numpy(float), x.to_numpy(float), rtol=1e-9, atol=0,
                                       equal_nan=True, err_msg=col)
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), col


@pytest.mark.parametrize("name", list(REAL))
def test_real_data_cleaning_features_and_rfm_agree(engines, name, tmp_path):
    source = _source(name)
    duck_report, duck = _transaction_stages(engines["duckdb"], source, tmp_path)
    spark_report, spark = _transaction_stages(engines["spark"], source, tmp_path)
    assert spark_report == duck_report
    assert_same_customers(duck, spark)
    assert len(duck) > 2000  # a real data set, not an empty agreement


EDGE_CSV = """customer,order,date,amount
one,o1,2021-03-01 12:00:00,10.00
sameday,o2,2021-03-02 09:00:00,5.00
sameday,o3,2021-03-02 18:30:00,7.50
midnight,o4,2021-03-03 23:59:59,4.00
midnight,o5,2021-03-04 00:00:00,6.00
midnight,o6,2021-03-04 00:00:01,1.25
returner,o7,2021-03-01 00:00:00,20.00
returner,C8,2021-03-05 23:00:00,-5.00
onlyreturns,C9,2021-03-02 10:00:00,-3.00
late,o10,2021-03-09 23:59:59,2.00
"""


def test_edge_cases_agree_and_are_right(engines, tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text(EDGE_CSV)
    policy = CleaningPolicy(as_of=dt.date(2021, 3, 10))
    duck_report, duck = _transaction_stages(engines["duckdb"], str(path), tmp_path, policy)
    spark_report, spark = _transaction_stages(engines["spark"], str(path), tmp_path, policy)
    assert spark_report == duck_report
    assert duck_report.dropped["orphan_returns"] == 1  # "onlyreturns" never bought
    assert_same_customers(duck, spark)
    got = spark.set_index("customer_id")
    assert got.loc["one", "frequency"] == 1 and got.loc["one", "order_value_std"] == 0
    assert got.loc["sameday", "frequency"] == 2 and np.isnan(got.loc["sameday", "mean_interpurchase_days"])
    # 23:59:59 and 00:00:00 the next day are one calendar day apart; as_of is exclusive
    assert got.loc["midnight", "mean_interpurchase_days"] == 1.0
    assert got.loc["midnight", "recency_days"] == 6 and got.loc["midnight", "tenure_days"] == 7
    assert got.loc["late", "recency_days"] == 1
    assert got.loc["returner", "monetary"] == 15.0 and got.loc["returner", "returns_value"] == 5.0
    assert "onlyreturns" not in got.index


class _CollectMonitor:
    """Records how many rows each Spark action brings back to the driver."""

    def __init__(self, monkeypatch):
        from pyspark.sql import DataFrame

        classes = [DataFrame]
        try:  # PySpark 4: the class a classic (non-Connect) session returns
            from pyspark.sql.classic.dataframe import DataFrame as Classic

            classes.append(Classic)
        except ImportError:
            pass
        self.rows: list[int] = []
        for cls in classes:
            for method in ("toPandas", "collect", "toArrow", "toLocalIterator"):
                if method in vars(cls):
                    monkeypatch.setattr(cls, method, self._wrap(vars(cls)[method]))

    def _wrap(self, original):
        def wrapped(frame, *args, **kwargs):
            out = original(frame, *args, **kwargs)
            self.rows.append(out.num_rows if hasattr(out, "num_rows") else len(out) if hasattr(out, "__len__") else 0)
            return out

        return wrapped


@pytest.mark.parametrize("name", ["online_retail_ii", "cdnow_master"])
def test_whole_run_gives_the_same_customer_segments(spark_session, name, tmp_path, monkeypatch):
    results = {}
    before = set(os.listdir("."))
    for which in ("duckdb", "spark"):
        config = load_config(None, {"input": {"source": _source(name)}, "engine": {"name": which},
                                    "validation": {"enabled": False}})
        monitor = _CollectMonitor(monkeypatch) if which == "spark" else None
        with session(config) as (engine, workdir):
            result = analyse(config, engine, workdir)
        results[which] = result
        if monitor is not None:
            monkeypatch.undo()
            # Customer-level results come back (one row per customer); transactions never do.
            assert monitor.rows and max(monitor.rows) <= len(result.customers) < result.cleaning.rows_kept
    assert set(os.listdir(".")) <= before  # no spark-warehouse, metastore_db or temp tables left here
    duck, spark = results["duckdb"].customers, results["spark"].customers
    assert_same_customers(duck, spark)
    assert results["duckdb"].learned.model.n_clusters_ == results["spark"].learned.model.n_clusters_
    pd.testing.assert_frame_equal(results["duckdb"].profiles, results["spark"].profiles, check_exact=False, rtol=1e-9)


def test_at_scale_models_fit_on_a_sample_and_score_every_customer_in_spark(spark_session, tmp_path):
    """Above engine.max_collect_customers the table stays in Spark; scores equal the driver's."""
    from customersense.reporting import write_outputs
    from customersense.models.learned import learn_segments

    overrides = {"input": {"source": _source("online_retail_ii")}, "validation": {"enabled": False},
                 "clv": {"enabled": False}, "segmentation": {"max_fit_samples": 2000}}
    config = load_config(None, {**overrides, "engine": {"name": "spark", "max_collect_customers": 1000}})
    with session(config) as (engine, workdir):
        result = analyse(config, engine, workdir)
        scored = result.customer_table.order_by("customer_id").to_pandas()
        files = write_outputs(result, tmp_path / "out", engine)
    sample = result.customers
    assert 1700 < len(sample) < 2300  # about the requested sample size
    assert result.sample.to_dict()["representative"], result.sample.to_dict()
    # Scored in Spark == the fitted model applied on the driver, for the sample's own customers...
    mine = scored.set_index("customer_id").loc[sample["customer_id"]]
    assert (mine["segment"].to_numpy() == sample["segment"].to_numpy()).all()
    assert (mine["is_anomaly"].to_numpy() == sample["is_anomaly"].to_numpy()).all()
    assert (mine["rfm_segment"].to_numpy() == sample["rfm_segment"].to_numpy()).all()
    # ... and for every customer: the same model fitted on the same sample by the DuckDB run.
    duck_config = load_config(None, {**overrides, "segmentation": {"enabled": False}})
    with session(duck_config) as (engine, workdir):
        everyone = analyse(duck_config, engine, workdir).customers.set_index("customer_id")
    # every customer scored: the DuckDB run's customers (whose count tests/pipeline/test_real_data.py checks
    # against the cleaning policy applied by hand), not a number pinned from an earlier run
    assert sorted(scored["customer_id"]) == sorted(everyone.index)
    refit = learn_segments(sample, config.segmentation)
    labels = refit.model.predict(everyone.loc[scored["customer_id"]])
    assert (np.asarray([refit.names[c] for c in labels]) == scored["segment"].to_numpy()).all()
    np.testing.assert_allclose(scored["monetary"], everyone.loc[scored["customer_id"], "monetary"], rtol=1e-9)
    learned = result.profiles[result.profiles["segmentation"] == "learned"]
    assert learned["customers"].sum() == len(everyone)
    written = pd.read_parquet(tmp_path / "out" / "customer_segments.parquet")
    assert len(written) == len(everyone) and written["customer_id"].is_monotonic_increasing
    assert (tmp_path / "out" / "customer_segments.parquet").is_dir() and files
    # the report and the Tableau extract would show the driver's sample beside every customer's
    # profiles: not written, and said; the workbook says which of its tables is the sample
    names = {p.name for p in files}
    assert "customersense.xlsx" in names and not names & {"report.html", "tableau", "powerbi"}
    notes = json.loads((tmp_path / "out" / "run.json").read_text())["notes"]
    assert any(n.startswith("report.html and tableau/ not written at this scale: the driver holds the models' "
                            f"sample of {len(sample):,} customers") for n in notes)
    assert any(n.startswith("powerbi/ not written: on Spark") for n in notes)
