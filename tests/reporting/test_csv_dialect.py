"""One CSV dialect for every CSV a run writes (reporting/writers.py): pandas frames and engine tables alike."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from customersense.cli.main import cli
from customersense.engine import DuckDBEngine
from customersense.reporting.writers import write_csv, write_table_csv
from customersense.schema import MONEY_COLUMNS, ROW_ID

TS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def _fields(path) -> tuple[list[str], list[list[str]]]:
    """Header and rows as the raw text of each field (quotes removed by the csv module)."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    return rows[0], rows[1:]


def _column(path, name) -> list[str]:
    header, rows = _fields(path)
    return [r[header.index(name)] for r in rows]


def _cents(value: float) -> str:
    """The stated rule: the double to 10 decimal places, then to cents half away from zero."""
    ten = Decimal(float(value)).quantize(Decimal("1e-10"))
    return str(ten.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_frame_bytes_follow_the_dialect(tmp_path):
    frame = pd.DataFrame({
        "customer_id": pd.array(["a", "b,c", 'say "hi"', None, "", "naïve €"], dtype="string"),
        "amount": [-35.400000000000006, 0.005, -0.005, np.nan, 0.025, 2.675],
        "monetary": [1.005, 12.0, 0.0, -0.004, 1e15 + 0.25, np.inf],
        "frequency": np.array([12, 3, 0, 5, 6, 7], dtype="int64"),
        "share": [0.5, 12.0, np.nan, 1 / 3, 1e-7, 1e16],
        "is_return": [True, False, True, False, True, False],
        "segment": pd.Categorical(["x", "y", "x", "y", "x", "y"]),
        "timestamp": pd.to_datetime(["2010-12-01 08:26:00"] * 5 + ["2011-01-02 23:59:59"]),
    })
    write_csv(frame, tmp_path / "f.csv")
    raw = (tmp_path / "f.csv").read_bytes()
    assert raw == (
        '"customer_id","amount","monetary","frequency","share","is_return","segment","timestamp"\n'
        '"a",-35.40,1.01,12,0.5,true,"x",2010-12-01 08:26:00\n'
        '"b,c",0.01,12.00,3,12,false,"y",2010-12-01 08:26:00\n'
        '"say ""hi""",-0.01,0.00,0,,true,"x",2010-12-01 08:26:00\n'
        ',,0.00,5,0.3333333333333333,false,"y",2010-12-01 08:26:00\n'
        '"",0.03,1000000000000000.25,6,1e-7,true,"x",2010-12-01 08:26:00\n'
        '"naïve €",2.68,,7,1e+16,false,"y",2011-01-02 23:59:59\n'
    ).encode("utf-8")
    # 0.025 -> 0.03 and 0.005 -> 0.01: half away from zero (half-even would give 0.02 and 0.00);
    # 1.005 -> 1.01 and 2.675 -> 2.68: on the decimal value, not the binary one (round() gives 1.0, 2.67)
    assert round(1.005, 2) == 1.0 and round(2.675, 2) == 2.67 and np.round(0.025, 2) == 0.02


def test_integer_columns_stay_integer(tmp_path):
    frame = pd.DataFrame({
        "quantity": np.array([12, -3, 0], dtype="int64"),
        "r_score": np.array([5, 1, 3], dtype="int8"),
        "orders": pd.array([12, None, 7], dtype="Int64"),  # missing stays empty, the rest integer
        "items": [12.0, 3.5, 0.0],  # a float column: integral values without ".0" too
    })
    write_csv(frame, tmp_path / "i.csv")
    assert (tmp_path / "i.csv").read_text() == (
        '"quantity","r_score","orders","items"\n12,5,12,12\n-3,1,,3.5\n0,3,7,0\n'
    )
    assert pd.read_csv(tmp_path / "i.csv")["quantity"].dtype == np.int64


def test_timestamps_keep_a_sub_second_part_only_where_the_column_has_one(tmp_path):
    frame = pd.DataFrame({
        "whole": pd.to_datetime(["2010-12-01 08:26:00", "2010-12-01 08:27:00"]),
        "part": pd.to_datetime(["2010-12-01 08:26:00", "2010-12-01 08:26:00.5"], format="ISO8601")
        .astype("datetime64[ms]"),
        "day": [dt.date(2010, 12, 1), None],
    })
    frame["day"] = frame["day"].astype("date32[pyarrow]")
    write_csv(frame, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == (
        '"whole","part","day"\n'
        "2010-12-01 08:26:00,2010-12-01 08:26:00.000,2010-12-01\n"
        "2010-12-01 08:27:00,2010-12-01 08:26:00.500,\n"
    )


def test_an_engine_table_is_written_in_the_same_dialect_as_a_frame(tmp_path):
    frame = pd.DataFrame({
        "customer_id": pd.array(["a", "b,c", None], dtype="string"),
        "is_return": [True, False, True],
        "line_amount": [-35.400000000000006, 0.005, np.nan],
        "quantity": [12.0, 3.0, 1.5],
        "timestamp": pd.to_datetime(["2010-12-01 08:26:00", "2010-12-01 09:00:00", "2010-12-02 10:00:00"]),
    })
    engine = DuckDBEngine()
    try:
        table = engine.upload(frame)  # as the run does: in input order, without the row number
        table = table.order_by(ROW_ID).drop(ROW_ID)
        write_table_csv(lambda: engine.record_batches(table, batch_rows=2), tmp_path / "table.csv")
    finally:
        engine.close()
    write_csv(frame, tmp_path / "frame.csv")
    assert (tmp_path / "table.csv").read_bytes() == (tmp_path / "frame.csv").read_bytes() == (
        b'"customer_id","is_return","line_amount","quantity","timestamp"\n'
        b'"a",true,-35.40,12,2010-12-01 08:26:00\n'
        b'"b,c",false,0.01,3,2010-12-01 09:00:00\n'
        b",true,,1.5,2010-12-02 10:00:00\n"
    )


def test_a_sub_second_part_in_a_later_batch_rewrites_the_column_with_fractions(tmp_path):
    stamps = pd.to_datetime(["2010-12-01 08:26:00", "2010-12-01 08:27:00", "2010-12-01 08:28:00.25"],
                            format="ISO8601")
    table = pa.table({"timestamp": pa.array(stamps, pa.timestamp("us")), "day": pa.array([1, 2, 3])})
    streams = []

    def open_stream():
        streams.append(1)
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))

    write_table_csv(open_stream, tmp_path / "t.csv")
    assert len(streams) == 2  # the third batch showed the fraction: written again, fractions kept
    assert (tmp_path / "t.csv").read_text() == (
        '"timestamp","day"\n2010-12-01 08:26:00.000000,1\n2010-12-01 08:27:00.000000,2\n'
        "2010-12-01 08:28:00.250000,3\n"
    )
    streams.clear()
    write_table_csv(lambda: streams.append(1) or pa.RecordBatchReader.from_batches(
        table.schema, table.slice(0, 2).to_batches()), tmp_path / "s.csv")
    assert len(streams) == 1
    assert (tmp_path / "s.csv").read_text() == '"timestamp","day"\n2010-12-01 08:26:00,1\n2010-12-01 08:27:00,2\n'


def test_money_columns_are_money_and_only_money():
    from customersense.schema import is_money

    assert is_money("expected_spend_90d") and is_money("spend_last_30d") and is_money("mean_expected_spend_90d")
    assert not is_money("expected_purchases_90d") and not is_money("churn_probability")
    assert {"amount", "unit_price", "line_amount", "monetary", "clv", "expected_spend", "revenue",
            "mean_monetary", "median_avg_order_value", "avg_unit_price_paid"} <= MONEY_COLUMNS
    assert not {"quantity", "share", "revenue_share", "return_rate", "p_alive", "engagement_score",
                "expected_purchases_12m", "frequency", "anomaly_score", "items_per_order",
                "return_order_share", "mean_frequency", "mean_return_rate"} & MONEY_COLUMNS


# ---- the outputs of a run ------------------------------------------------------------------------

# amount = quantity x unit_price: 3 x 11.8 = 35.400000000000006, the noise the CSV must not show
RUN_INPUT = "customer_id,order_id,timestamp,quantity,unit_price,description\n" + "".join(
    f"c{i % 23},{100 + i // 2},2021-0{1 + i % 6}-{10 + i % 17} {8 + i % 9:02d}:{i % 60:02d}:00,"
    f"{(i % 5) + 1},{[11.8, 0.1, 2.675, 1.005, 0.29, 7.15][i % 6]},\"LIGHTS, \"\"PINK\"\"\"\n"
    for i in range(240)
) + "c1,R9,2021-06-20 10:00:00,-3,11.8,RETURNED\n"


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("dialect")
    (root / "tx.csv").write_text(RUN_INPUT)
    result = CliRunner().invoke(cli, ["run", "--quiet", str(root / "tx.csv"), "--out", str(root / "out"),
                                      "--no-plots", "--no-validate"])
    assert result.exit_code == 0, result.output
    return root / "out"


def test_both_kinds_of_csv_in_a_run_share_the_dialect(run_out):
    customers, tx = run_out / "customer_segments.csv", run_out / "transactions_with_segments.csv"
    for path in (customers, tx, run_out / "segment_profiles.csv"):
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw  # no BOM, LF only
        assert raw.startswith(b'"') and raw.split(b"\n", 1)[0].endswith(b'"')  # the header, quoted
        assert b"True" not in raw and b"False" not in raw
    # booleans: the frame-written customers and the engine-written transactions alike
    assert set(_column(customers, "is_anomaly")) == {"true", "false"}
    assert set(_column(tx, "is_return")) == {"true", "false"}
    assert b',true,' in customers.read_bytes() or b',false,' in customers.read_bytes()
    # timestamps and dates: ISO-8601 with a space, to the second
    stamps = _column(tx, "timestamp")
    assert all(TS.fullmatch(s) for s in stamps) and stamps[0] == "2021-01-10 08:00:00"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in _column(tx, "purchase_date"))
    # text quoted in both, a quote inside doubled
    assert b'"c0",' in customers.read_bytes() and b'"c0",' in tx.read_bytes()
    assert b'"LIGHTS, ""PINK"""' in tx.read_bytes()
    # integers as integers; the transactions' (float) quantity without ".0"
    assert _column(customers, "frequency")[0].isdigit()
    assert _column(tx, "quantity")[:3] == ["1", "2", "3"]


def test_csv_money_is_the_parquet_value_to_cents(run_out):
    checked = 0
    for name in ("customer_segments", "transactions_with_segments"):
        header, rows = _fields(run_out / f"{name}.csv")
        parquet = pd.read_parquet(run_out / f"{name}.parquet")
        money = [c for c in header if c in MONEY_COLUMNS]
        assert money, name
        for col in money:
            written = [r[header.index(col)] for r in rows]
            expected = ["" if pd.isna(v) else _cents(v) for v in parquet[col]]
            assert written == expected, col
            checked += len(written)
        for col in set(header) - MONEY_COLUMNS:  # other columns are not rounded
            if parquet[col].dtype == np.float64:
                values = [r[header.index(col)] for r in rows]
                assert [float(v) if v else np.nan for v in values] == pytest.approx(
                    parquet[col].tolist(), rel=0, abs=0, nan_ok=True), col
    assert checked > 500
    tx_amounts = _column(run_out / "transactions_with_segments.csv", "line_amount")
    assert "35.40" in tx_amounts and "-35.40" in tx_amounts  # 3 x 11.8 = 35.400000000000006 in Parquet
    # 3 x 2.675 is 8.024999999999999 as a double: the float noise goes before the cent is rounded
    assert "8.03" in tx_amounts and "8.02" not in tx_amounts
    assert 35.400000000000006 in pd.read_parquet(run_out / "transactions_with_segments.parquet")["line_amount"].tolist()


@pytest.mark.parametrize("extra, read_back", [("", True), (", 1::HUGEINT AS big", False),
                                              (", '6f1c64f6-54a6-4d1e-9a43-0c3e4b8f2a71'::UUID AS id", False),
                                              (", TIMESTAMPTZ '2010-12-01 08:00:00+00' AS zoned", True)])
def test_the_transactions_csv_reads_the_written_parquet_only_where_it_has_the_engines_types(
        tmp_path, extra, read_back):
    """The CSV is written from the Parquet just written (no second run of the query) when that file
    holds the engine stream's Arrow types (a zoned timestamp too); a type Parquet stores otherwise
    (HUGEINT as a double, UUID as Arrow's uuid type) keeps the engine's stream. Either way: the bytes of the CSV from the engine."""
    from customersense.reporting.outputs import _csv_source

    engine = DuckDBEngine()
    try:
        table = engine.backend.sql("SELECT customer_id, TIMESTAMP '2010-12-01 08:26:00' + to_minutes(i) AS timestamp, "
                                   f"i * 1.25 AS line_amount{extra} FROM (SELECT range AS i, 'c' || (range % 7) AS "
                                   "customer_id FROM range(5000)) ORDER BY i")
        engine.write_parquet(table, tmp_path / "t.parquet")
        source = _csv_source(engine, table, tmp_path / "t.parquet")
        write_table_csv(source, tmp_path / "out.csv")
        write_table_csv(lambda: engine.record_batches(table, batch_rows=999), tmp_path / "engine.csv")
        # which one it reads: the file, cut to its first 10 rows, or the engine's 5,000
        engine.write_parquet(table.limit(10), tmp_path / "t.parquet")
        write_table_csv(source, tmp_path / "which.csv")
    finally:
        engine.close()
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "engine.csv").read_bytes()
    assert (tmp_path / "out.csv").read_text().count("\n") == 5001
    assert (tmp_path / "which.csv").read_text().count("\n") == (11 if read_back else 5001)
