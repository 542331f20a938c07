"""The peer benchmark's jobs (bench/peer_jobs.py, bench/run_peers.py) on small files.

The aggregates of the plain GROUP BY, by polars (Parquet and CSV), pandas and DuckDB, against
values computed by hand on a planted file; the seed-style features by hand; on a small generated
file, every peer job's customer count against the DuckDB GROUP BY's, and the report's ratios.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from threadpoolctl import threadpool_limits

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
import generate  # noqa: E402
import peer_jobs  # noqa: E402
import run_peers  # noqa: E402

D = dt.datetime
# (Invoice, Quantity, InvoiceDate, Price, Customer ID)
LINES = [
    ("100", 2, D(2011, 1, 1, 10), 3.0, 1.0),
    ("100", 1, D(2011, 1, 1, 10), 4.5, 1.0),
    ("C101", -1, D(2011, 1, 5), 3.0, 1.0),      # cancelled: out
    ("105", 3, D(2011, 1, 11, 10), 2.0, 1.0),
    ("102", 10, D(2011, 1, 3, 12), 1.25, 2.0),
    ("102", 5, D(2011, 1, 3, 12), 0.0, 2.0),     # price 0: out
    ("106", -2, D(2011, 1, 21), 1.0, 2.0),       # a negative quantity on an invoice: summed as is
    ("103", 1, D(2011, 1, 25), 9.0, None),       # no customer: out (and not the last date)
    ("104", 1, D(2011, 1, 21), 100.0, 3.0),
    ("C107", -4, D(2011, 1, 22), 5.0, 4.0),      # customer 4 only cancelled: no row
]
# Customer: (distinct invoices, revenue, first purchase, last purchase), by hand.
EXPECTED = {
    1.0: (2, 2 * 3.0 + 4.5 + 3 * 2.0, D(2011, 1, 1, 10), D(2011, 1, 11, 10)),
    2.0: (2, 12.5 - 2.0, D(2011, 1, 3, 12), D(2011, 1, 21)),
    3.0: (1, 100.0, D(2011, 1, 21), D(2011, 1, 21)),
}
SCHEMA = pa.schema([("Invoice", pa.string()), ("Quantity", pa.int64()), ("InvoiceDate", pa.timestamp("us")),
                    ("Price", pa.float64()), ("Customer ID", pa.float64())])


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict[str, str]:
    table = pa.Table.from_pylist([dict(zip(SCHEMA.names, line)) for line in LINES], schema=SCHEMA)
    folder = tmp_path_factory.mktemp("planted")
    pq.write_table(table, folder / "t.parquet")
    with pacsv.CSVWriter(folder / "t.csv", SCHEMA) as w:  # as bench/generate.py writes its CSV
        w.write_table(table)
    return {"parquet": str(folder / "t.parquet"), "csv": str(folder / "t.csv")}


def _rows(records) -> dict[float, tuple]:
    return {r["Customer ID"]: (r["frequency"], r["monetary"], r["first_purchase"], r["last_purchase"])
            for r in records}


def _assert_expected(got: dict[float, tuple]) -> None:
    assert set(got) == set(EXPECTED)
    for cid, (freq, monetary, first, last) in EXPECTED.items():
        g = got[cid]
        assert g[0] == freq and g[2] == first and g[3] == last, cid
        assert math.isclose(g[1], monetary, rel_tol=1e-12), cid


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_polars_streaming_query_matches_hand_computed(planted, kind):
    pytest.importorskip("polars", reason="polars is the bench extra (pip install -e '.[bench]')")
    _assert_expected(_rows(peer_jobs.polars_query(planted[kind]).collect(engine="streaming").to_dicts()))


def test_pandas_groupby_matches_hand_computed(planted):
    g = peer_jobs.rfm_groupby(peer_jobs.filtered_frame(planted["parquet"])).reset_index()
    g["Customer ID"] = g["Customer ID"].astype("float64")
    _assert_expected(_rows(g.to_dict("records")))


def test_duckdb_plain_groupby_matches_hand_computed(planted):
    import duckdb

    sql = (BENCH / "sql" / "plain_groupby.sql").read_text().format(path=f"'{planted['parquet']}'")
    rows = duckdb.sql(sql).fetch_arrow_table().rename_columns(
        ["Customer ID", "frequency", "monetary", "first_purchase", "last_purchase"]).to_pylist()
    _assert_expected(_rows(rows))


def test_seed_features_by_hand(planted):
    f = peer_jobs.seed_features(peer_jobs.rfm_groupby(peer_jobs.filtered_frame(planted["parquet"])))
    f.index = f.index.astype("float64")
    # The data's last purchase (kept rows): 2011-01-21 00:00. Customer 1: last 2011-01-11 10:00,
    # first 2011-01-01 10:00; customer 2: first 2011-01-03 12:00.
    want = {1.0: (9 + 14 / 24, 2, 16.5, 19 + 14 / 24, 8.25), 2.0: (0.0, 2, 10.5, 17.5, 5.25),
            3.0: (0.0, 1, 100.0, 0.0, 100.0)}
    assert list(f.columns) == ["recency", "frequency", "monetary", "tenure", "avg_order_value"]
    for cid, values in want.items():
        for col, v in zip(f.columns, values):
            assert math.isclose(f.loc[cid, col], v, rel_tol=1e-12, abs_tol=1e-12), (cid, col)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("gen") / "g.parquet"
    generate.generate(20_000, 2_600, seed=5, out=out, mean_lines=generate.SHAPES["issue5"][0])
    return str(out)


def test_every_peer_job_finds_the_group_by_customers(generated):
    """polars, pandas, lifetimes and the seed pipeline apply the GROUP BY's filter: the same
    customers; the seed pipeline's k and anomaly count are within their ranges."""
    jobs = ["polars", "pandas", "lifetimes", "seed_pipeline"]
    for module in ("polars", "lifetimes"):
        pytest.importorskip(module, reason=f"{module} is a dev/bench extra")
    base = peer_jobs.run("duckdb_groupby", generated)
    assert base["customers"] > 1_000
    with threadpool_limits(1):
        runs = {job: peer_jobs.run(job, generated) for job in jobs}
    for job, res in runs.items():
        assert res["customers"] == base["customers"], job
        assert res["seconds"] > 0 and res["imported_at"] is not None, job
    seed = runs["seed_pipeline"]
    assert 2 <= seed["best_k"] <= 10 and 0 < seed["anomalies"] < seed["customers"]
    assert set(seed["stages"]) == {"read + filter", "features", "log + scale", "KMeans k=2..10", "silhouettes",
                                   "IsolationForest fit + predict"}
    assert sum(seed["stages"].values()) <= seed["seconds"] + 1e-6
    lt = runs["lifetimes"]
    assert set(lt["stages"]) == {"read + filter", "summary_data_from_transaction_data", "BG/NBD fit"}
    assert set(lt["params"]) == {"r", "alpha", "a", "b"} and all(v > 0 for v in lt["params"].values())


def test_report_ratios_against_the_group_by(tmp_path):
    path = tmp_path / "f.parquet"
    path.write_bytes(b"x" * 2**20)

    def res(s, rss, **extra):
        return {"seconds": s, "peak_rss_mib": rss, "process_seconds": s + 1, "customers": 10, **extra}

    results = {"duckdb_groupby": [res(2.0, 100), res(4.0, 120), res(3.0, 110)],
               "polars": [res(1.0, 90), res(1.5, 60), res(2.0, 70)],
               "seed_pipeline": [res(30.0, 600, stages={"k": 20.0}, note="Picks k = 3.")] * 3}
    text = run_peers.report(results, path, 1000, (0.5, 1.0), {})
    polars_row = next(line for line in text.splitlines() if line.startswith("| polars"))
    # median 1.5 / 3.0 = 0.50x; max RSS 90 / 120 = 0.75x
    assert "| 1.50 | 1.00 | 2.00 | 2.50 | 90 | 0.50x | 0.75x | 10 |" in polars_row
    assert "(30.0 s): k 20.0. Picks k = 3." in text
