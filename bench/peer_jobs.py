"""The jobs of bench/run_peers.py: one function per job, each run in its own child process.

A job imports what it needs, calls ``clock.imports_done()``, then ``clock.start()`` where its
timed work begins (and ``clock.stop()`` where it ends, when that is not at its return), and
returns ``(customers, extra)``: the number of customers it produced and anything else to report
(``extra["stages"]``: seconds per stage; ``extra["note"]``: a sentence for the report). The building blocks (``polars_query``,
``filtered_frame``, ``rfm_groupby``, ``seed_features``) are shared with the tests.

Imports only the standard library at the top: the lifetimes environment runs it too.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLUMNS = ["Invoice", "Quantity", "InvoiceDate", "Price", "Customer ID"]
# The seed-style pipeline: the k sweep, its silhouettes and the anomaly detector, as a data
# scientist writes them by hand with scikit-learn on every customer. The features are
# log-transformed (signed log1p) before scaling: on the raw heavy-tailed values k = 2 splits off a
# handful of extreme customers, and a 5,000-customer silhouette sample can then hold one label.
SEED = {"k_range": range(2, 11), "n_init": 4, "silhouette_sample": 5_000, "iforest_trees": 200,
        "random_state": 0}
DAY_S = 86_400.0


class Clock:
    """The marks of one job: imports done, timed work started and ended (perf_counter)."""

    def __init__(self) -> None:
        self.imported = self.started = self.ended = None

    def imports_done(self) -> None:
        self.imported = time.perf_counter()

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self) -> None:
        self.ended = time.perf_counter()


class Laps:
    """Seconds per stage, each stage timed from the end of the previous one."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self._t
        self._t = now


def _read_arrow(path: str):
    """Only the needed columns, with pyarrow (Parquet or CSV)."""
    if path.endswith(".csv"):
        import pyarrow.csv as pacsv

        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=COLUMNS))
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=COLUMNS)


def filtered_frame(path: str):
    """Rows with a customer, not cancelled, price > 0 (the plain GROUP BY's filter), in pandas."""
    import pyarrow.compute as pc

    t = _read_arrow(path)
    keep = pc.and_(pc.and_(pc.is_valid(t["Customer ID"]), pc.invert(pc.starts_with(t["Invoice"], "C"))),
                   pc.greater(t["Price"], 0))
    t = t.filter(keep)
    df = t.to_pandas()
    df["Customer ID"] = df["Customer ID"].astype("category")
    df["Invoice"] = df["Invoice"].astype("category")
    df["amount"] = df["Quantity"] * df["Price"]
    return df


def rfm_groupby(df):
    """The plain GROUP BY's aggregates per customer, with pandas."""
    return df.groupby("Customer ID", observed=True).agg(
        frequency=("Invoice", "nunique"), monetary=("amount", "sum"),
        first_purchase=("InvoiceDate", "min"), last_purchase=("InvoiceDate", "max"))


def polars_query(path: str):
    """The plain GROUP BY as a polars LazyFrame: only the needed columns scanned, same filter."""
    import polars as pl

    if path.endswith(".csv"):
        types = {"Invoice": pl.String, "Quantity": pl.Int64, "InvoiceDate": pl.Datetime("us"),
                 "Price": pl.Float64, "Customer ID": pl.Float64}
        lf = pl.scan_csv(path, schema_overrides=types)
    else:
        lf = pl.scan_parquet(path)
    return (lf.select(COLUMNS)
            .filter(pl.col("Customer ID").is_not_null() & ~pl.col("Invoice").str.starts_with("C")
                    & (pl.col("Price") > 0))
            .group_by("Customer ID")
            .agg(frequency=pl.col("Invoice").n_unique(), monetary=(pl.col("Quantity") * pl.col("Price")).sum(),
                 first_purchase=pl.col("InvoiceDate").min(), last_purchase=pl.col("InvoiceDate").max()))


def seed_features(g):
    """Recency, frequency, monetary, tenure and average order value per customer (days, at the
    last purchase date in the data), from ``rfm_groupby``'s frame."""
    import pandas as pd

    end = g["last_purchase"].max()
    return pd.DataFrame({
        "recency": (end - g["last_purchase"]).dt.total_seconds() / DAY_S,
        "frequency": g["frequency"].astype("float64"),
        "monetary": g["monetary"],
        "tenure": (end - g["first_purchase"]).dt.total_seconds() / DAY_S,
        "avg_order_value": g["monetary"] / g["frequency"],
    }, index=g.index)


def duckdb_groupby(path: str, clock: Clock):
    import duckdb

    sql = (HERE / "sql" / "plain_groupby.sql").read_text()
    if path.endswith(".csv"):
        sql = sql.replace("read_parquet(", "read_csv(")
    clock.imports_done()
    con = duckdb.connect()
    clock.start()
    return con.execute(sql.format(path="'" + path.replace("'", "''") + "'")).fetch_arrow_table().num_rows, {}


def cs_features(path: str, clock: Clock):
    sys.path.insert(0, str(HERE))
    import bench_features

    clock.imports_done()
    clock.start()
    res = bench_features.child("customersense", path)
    clock.stop()
    return res["customers"], {"feature_stage_s": res["stages"]["features (total)"], "stages": res["stages"]}


def cs_run(path: str, clock: Clock):
    from customersense.cli.main import cli

    clock.imports_done()
    with tempfile.TemporaryDirectory() as out:
        clock.start()
        cli.main(["run", path, "--out", out, "--quiet"], prog_name="customersense", standalone_mode=False)
        clock.stop()
        record = json.loads((Path(out) / "run.json").read_text())
    return record.get("customers"), {"stages": {k: v["seconds"] for k, v in record["timings"]["stages"].items()}}


def pandas_groupby(path: str, clock: Clock):
    import pandas  # noqa: F401 (imported before the clock starts)
    import pyarrow  # noqa: F401

    clock.imports_done()
    clock.start()
    return len(rfm_groupby(filtered_frame(path))), {}


def polars_streaming(path: str, clock: Clock):
    import polars  # noqa: F401

    clock.imports_done()
    clock.start()
    return polars_query(path).collect(engine="streaming").height, {}


def lifetimes_bgnbd(path: str, clock: Clock):
    import pyarrow  # noqa: F401
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    clock.imports_done()
    clock.start()
    laps = Laps()
    df = filtered_frame(path)
    df["Customer ID"] = df["Customer ID"].astype("float64")
    laps.lap("read + filter")
    summary = summary_data_from_transaction_data(
        df, "Customer ID", "InvoiceDate", monetary_value_col="amount",
        observation_period_end=df["InvoiceDate"].max())
    laps.lap("summary_data_from_transaction_data")
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(summary["frequency"], summary["recency"], summary["T"])
    laps.lap("BG/NBD fit")
    clock.stop()
    params = {k: float(v) for k, v in bgf.params_.items()}
    note = "BG/NBD parameters: " + ", ".join(f"{k} {v:.4g}" for k, v in params.items()) + "."
    return len(summary), {"stages": laps.stages, "params": params, "note": note}


def seed_pipeline(path: str, clock: Clock):
    import numpy as np
    import pyarrow  # noqa: F401
    from sklearn.cluster import KMeans
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    clock.imports_done()
    clock.start()
    laps = Laps()
    df = filtered_frame(path)
    laps.lap("read + filter")
    feats = seed_features(rfm_groupby(df))
    del df
    laps.lap("features")
    raw = feats.to_numpy(dtype="float64")
    X = StandardScaler().fit_transform(np.sign(raw) * np.log1p(np.abs(raw)))
    laps.lap("log + scale")
    rs = SEED["random_state"]
    silhouettes = {}
    for k in SEED["k_range"]:
        labels = KMeans(k, n_init=SEED["n_init"], random_state=rs).fit(X).labels_
        laps.lap(f"KMeans k={SEED['k_range'].start}..{SEED['k_range'].stop - 1}")
        silhouettes[k] = float(silhouette_score(X, labels, sample_size=SEED["silhouette_sample"], random_state=rs))
        laps.lap("silhouettes")
    flags = IsolationForest(n_estimators=SEED["iforest_trees"], random_state=rs).fit(X).predict(X)
    laps.lap("IsolationForest fit + predict")
    clock.stop()
    best_k, anomalies = max(silhouettes, key=silhouettes.get), int(np.sum(flags == -1))
    note = f"The best silhouette picks k = {best_k}; Isolation Forest flags {anomalies:,} customers."
    return len(X), {"stages": laps.stages, "best_k": best_k, "anomalies": anomalies, "note": note}


JOBS = {  # job name: (its function, its label in the tables)
    "duckdb_groupby": (duckdb_groupby, "DuckDB SQL, plain RFM GROUP BY"),
    "cs_features": (cs_features, "CustomerSense read + clean + features"),
    "cs_run": (cs_run, "CustomerSense whole `customersense run`"),
    "pandas": (pandas_groupby, "pandas groupby (pyarrow read, categorical ids)"),
    "polars": (polars_streaming, "polars streaming engine (scan, same filter and aggregates)"),
    "lifetimes": (lifetimes_bgnbd, "lifetimes summary_data_from_transaction_data + BG/NBD fit"),
    "seed_pipeline": (seed_pipeline, "seed-style pipeline (pandas features, scikit-learn k sweep, "
                                     "silhouettes, Isolation Forest)"),
}


def run(job: str, path: str) -> dict:
    """Run one job in this process: its customers, seconds, import mark and extras."""
    clock = Clock()
    customers, extra = JOBS[job][0](path, clock)
    if clock.ended is None:
        clock.stop()
    return {"job": job, "seconds": clock.ended - clock.started, "imported_at": clock.imported,
            "customers": customers, **extra}
