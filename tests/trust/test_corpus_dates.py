"""The reading policy on the user's own file (issue 14 items 1, 2, 6 and 9): dates decided from
the values with their evidence, implausible dates and amounts as counted rules, returns from
evidence, zero-value purchases. Every case runs the CLI on a small file made here and checks the
numbers it produced (as_of, customers, a hand-computed customer's money) or the one-line error.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from customersense.errors import EXIT_DATA

NO_SEG = ("--no-segments",)  # files of a few customers: the reading is under test, not the clusters


def report(out: Path) -> dict:
    return json.loads((out / "cleaning_report.json").read_text())


def reading(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())["input"]["parsing"]["timestamp"]


def customers(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "customer_segments.parquet").set_index("customer_id")


def csv(header: str, rows: list[tuple]) -> str:
    return header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)


def parquet(frame: pd.DataFrame | pa.Table) -> bytes:
    buf = io.BytesIO()
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, buf)
    return buf.getvalue()


# 12 customers over 2019 in Superstore's shape: m/d/yy dates, Canadian order ids CA-2019-...
SUPERSTORE = csv("Order ID,Order Date,Customer ID,Sales", [
    (f"{'CA' if i % 3 else 'US'}-2019-{131800 + i}", f"{1 + i % 12}/{1 + (7 * i) % 28}/19", f"AB-{i % 12:03d}",
     f"{10 + i}.5") for i in range(48)
])


# --- dates from the values ------------------------------------------------------------------------

def test_superstore_two_digit_years_are_2019_and_canadian_orders_are_purchases(run_ok):
    out = run_ok({"s.csv": SUPERSTORE}, ["s.csv"])
    r = reading(out)
    assert (r["format"], r["first"], r["last"]) == ("%m/%d/%y", "2019-01-01 00:00:00", "2019-12-22 00:00:00")
    assert "69-99 -> 1969-1999" in r["evidence"] and "month-first" in r["evidence"]
    rep = report(out)
    assert rep["as_of"] == "2019-12-23" and rep["customers"] == 12
    assert rep["kept"] == {"purchase_lines": 48, "return_lines": 0}
    # customer AB-000: rows 0, 12, 24, 36: sales 10.5 + 22.5 + 34.5 + 46.5
    c = customers(out)
    assert c.loc["AB-000", "monetary"] == pytest.approx(114.0) and c.loc["AB-000", "frequency"] == 4
    assert rep["return_markers"]["cancelled_order_id"]["rows_matched"] == 0


def test_five_row_day_first_two_digit_year_file(run_ok):
    files = {"d.csv": csv("customer_id,timestamp,amount",
                          [("a", "25/02/07", 10), ("b", "03/01/07", 20), ("a", "1/1/07", 5), ("c", "14/2/07", 7),
                           ("b", "13/01/07", 1)])}
    out = run_ok(files, ["d.csv", *NO_SEG])
    r = reading(out)
    assert r["format"] == "%d/%m/%y" and not r["ambiguous"]
    assert "day-first: 3 values with a day above 12 in the first field" in r["evidence"]
    assert report(out)["as_of"] == "2007-02-26"
    c = customers(out)
    assert c.loc["a", "tenure_days"] == (dt.date(2007, 2, 26) - dt.date(2007, 1, 1)).days
    assert c.loc["b", "recency_days"] == (dt.date(2007, 2, 26) - dt.date(2007, 1, 13)).days


def test_no_value_decides_slash_dates_read_month_first_and_say_so(run_ok):
    files = {"a.csv": csv("customer_id,timestamp,amount", [("a", "03/01/2019", 1), ("b", "04/02/2019", 2)])}
    out = run_ok(files, ["a.csv", *NO_SEG])
    r = reading(out)
    assert r["format"] == "%m/%d/%Y" and r["ambiguous"]
    assert "read month-first" in r["evidence"] and "--date-format '%d/%m/%Y'" in r["evidence"]
    assert report(out)["as_of"] == "2019-04-03"


def test_no_value_decides_dotted_dates_read_day_first(run_ok):
    files = {"a.csv": csv("customer_id,timestamp,amount", [("a", "03.01.2019", 1), ("b", "04.02.2019", 2)])}
    out = run_ok(files, ["a.csv", *NO_SEG])
    assert reading(out)["format"] == "%d.%m.%Y" and reading(out)["ambiguous"]
    assert report(out)["as_of"] == "2019-02-05"


def test_date_format_option_wins(run_ok):
    files = {"a.csv": csv("customer_id,timestamp,amount", [("a", "03/01/2019", 1), ("b", "04/02/2019", 2)])}
    out = run_ok(files, ["a.csv", "--date-format", "%d/%m/%Y", *NO_SEG])
    assert reading(out)["format"] == "%d/%m/%Y" and "given by --date-format" in reading(out)["evidence"]
    assert report(out)["as_of"] == "2019-02-05"


def test_two_digit_year_pivot_is_pythons(run_ok):
    rows = [("a", "1/1/69", 1), ("b", "6/15/99", 2), ("c", "2/1/00", 3), ("d", "3/1/68", 4)]
    out = run_ok({"p.csv": csv("customer_id,timestamp,amount", rows)}, ["p.csv", "--date-floor", "1960-01-01", *NO_SEG])
    r = reading(out)
    assert (r["first"], r["last"]) == ("1969-01-01 00:00:00", "2068-03-01 00:00:00")
    rep = report(out)
    # 2068 is after the run's day: implausible; as_of is the day after 2000-02-01
    assert rep["dropped"]["implausible_date"] == 1 and rep["as_of"] == "2000-02-02"
    assert customers(out).loc["a", "tenure_days"] == (dt.date(2000, 2, 2) - dt.date(1969, 1, 1)).days


def test_am_pm_times(run_ok):
    rows = [("a", "3/1/2019 9:05:00 AM", 1), ("b", "3/13/2019 1:05:00 PM", 2)]
    out = run_ok({"t.csv": csv("customer_id,timestamp,amount", rows)}, ["t.csv", *NO_SEG])
    assert reading(out)["last"] == "2019-03-13 13:05:00"


def test_text_that_is_not_a_date_names_the_row(fails):
    fails({"x.csv": csv("customer_id,timestamp,amount", [("a", "2021-01-01", 1), ("b", "soon", 2)])},
          ["x.csv"], EXIT_DATA, "data row 2: 'soon'")


def test_two_digit_years_never_read_as_four_digit_years(fails):
    # a format with %Y is never given two digits: 03/01/19 under --date-format %m/%d/%Y is refused
    fails({"x.csv": csv("customer_id,timestamp,amount", [("a", "03/01/19", 1)])},
          ["x.csv", "--date-format", "%m/%d/%Y"], EXIT_DATA, "data row 1: '03/01/19'")


# --- integers -------------------------------------------------------------------------------------

def test_epoch_seconds_in_text(run_ok):
    rows = [("a", 1609459200, 1), ("b", 1612137600, 2), ("a", 1614556800, 3)]  # 2021-01-01, 02-01, 03-01
    out = run_ok({"e.csv": csv("customer_id,timestamp,amount", rows)}, ["e.csv", *NO_SEG])
    assert reading(out)["format"] == "epoch seconds" and report(out)["dropped"]["missing_timestamp"] == 0
    assert report(out)["as_of"] == "2021-03-02"
    assert customers(out).loc["a", "tenure_days"] == 60


def test_epoch_milliseconds_in_parquet(run_ok):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": [1609459200000, 1612180800000], "amount": [1.0, 2.0]})
    out = run_ok({"e.parquet": parquet(frame)}, ["e.parquet", *NO_SEG])
    assert reading(out)["format"] == "epoch milliseconds"
    assert reading(out)["last"] == "2021-02-01 12:00:00" and report(out)["as_of"] == "2021-02-02"


def test_yyyymmdd_integers_in_parquet(run_ok):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": [20200131, 20200229], "amount": [1.0, 2.0]})
    out = run_ok({"y.parquet": parquet(frame)}, ["y.parquet", *NO_SEG])
    assert reading(out)["format"] == "YYYYMMDD" and report(out)["as_of"] == "2020-03-01"


def test_integer_that_fits_no_reading_is_an_error_not_a_missing_date(fails):
    rows = [("a", 1609459200, 1), ("b", 0, 2), ("c", 1612137600, 3)]
    fails({"e.csv": csv("customer_id,timestamp,amount", rows)}, ["e.csv"], EXIT_DATA,
          "read as epoch seconds (2 values), but 1 value is not (data row 2: '0')")


# --- time zones -----------------------------------------------------------------------------------

def _instants(out: Path) -> list[tuple[str, str]]:
    t = pd.read_parquet(out / "transactions_with_segments.parquet")
    return sorted(zip(t["customer_id"], t["timestamp"].astype(str)))


def test_text_offsets_and_tz_aware_parquet_give_the_same_utc_instants(run_ok):
    texts = ["2021-03-01 01:00+02:00", "2021-03-01T10:00:00Z", "2021-03-01 10:00:00-0530", "2021-03-02 12:00:00+01:00"]
    ids = ["a", "b", "c", "a"]
    utc = [("a", "2021-02-28 23:00:00"), ("a", "2021-03-02 11:00:00"), ("b", "2021-03-01 10:00:00"),
           ("c", "2021-03-01 15:30:00")]
    out = run_ok({"o.csv": csv("customer_id,timestamp,amount", [(i, t, 1) for i, t in zip(ids, texts)])},
                 ["o.csv", *NO_SEG])
    assert _instants(out) == utc
    assert reading(out)["format"] == "ISO-8601 with UTC offsets" and "converted to UTC" in reading(out)["evidence"]
    # 01:00 at +02:00 is the evening before in UTC: customer a's first purchase day is 28 February
    assert customers(out).loc["a", "tenure_days"] == (dt.date(2021, 3, 3) - dt.date(2021, 2, 28)).days
    stamps = pd.to_datetime(texts, format="ISO8601", utc=True).tz_convert("Asia/Tokyo")  # any zone
    frame = pd.DataFrame({"customer_id": ids, "timestamp": stamps, "amount": [1.0] * 4})
    out = run_ok({"o.parquet": parquet(frame)}, ["o.parquet", *NO_SEG])
    assert _instants(out) == utc
    assert "converted to UTC" in reading(out)["evidence"]


def test_duckdb_session_runs_in_utc():
    from customersense.engine import connect

    engine = connect()
    try:
        assert engine.backend.raw_sql("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
    finally:
        engine.close()


# --- plausible dates ------------------------------------------------------------------------------

BASE = [(f"c{i % 20}", 1000 + i, f"2021-{1 + i % 9:02d}-{10 + i % 9} 10:00", i % 7 + 1) for i in range(600)]
LAST_DAY = dt.date(2021, 9, 18)  # i = 8 (mod 9): month 9, day 18


def test_far_future_typo_never_moves_as_of(run_ok):
    rows = [*BASE, ("c3", 9999, "2204-05-02", 5)]
    out = run_ok({"f.csv": csv("customer_id,order_id,timestamp,amount", rows)}, ["f.csv"])
    rep = report(out)
    assert rep["as_of"] == (LAST_DAY + dt.timedelta(days=1)).isoformat()
    assert rep["dropped"]["implausible_date"] == 1
    assert rep["examples"]["implausible_date"] == ["row 601, customer c3, 2204-05-02 00:00:00, amount 5.0"]
    assert customers(out)["recency_days"].max() < 300
    assert reading(out)["last"] == "2204-05-02 00:00:00"  # the reading shows what the file says


def test_years_1900_and_2999_are_dropped_and_counted(run_ok):
    rows = [*BASE, ("c4", 9998, "1900-01-01", 5), ("c5", 9997, "2999-12-31", 5)]
    out = run_ok({"f.csv": csv("customer_id,order_id,timestamp,amount", rows)}, ["f.csv"])
    rep = report(out)
    assert rep["dropped"]["implausible_date"] == 2 and rep["as_of"] == "2021-09-19"
    assert rep["plausible"]["date_floor"] == "1970-01-01"
    # c4's purchases are the base rows only: i = 4, 24, ... (30 rows), amounts (i % 7) + 1
    assert customers(out).loc["c4", "monetary"] == sum(i % 7 + 1 for i in range(4, 600, 20))


@pytest.mark.parametrize("kind", ["text", "parquet"])
def test_years_0001_and_9999_never_crash(run_ok, kind):
    rows = [*BASE[:40], ("c1", 1, "0001-01-01", 5), ("c2", 2, "9999-12-31 23:59:59", 5)]
    if kind == "text":
        files = {"y.csv": csv("customer_id,order_id,timestamp,amount", rows)}
    else:
        stamps = pa.array([dt.datetime.fromisoformat(r[2]) for r in rows], pa.timestamp("us"))
        files = {"y.csv": parquet(pa.table({"customer_id": [r[0] for r in rows], "order_id": [str(r[1]) for r in rows],
                                            "timestamp": stamps, "amount": [float(r[3]) for r in rows]}))}
        files = {"y.parquet": files["y.csv"]}
    out = run_ok(files, [next(iter(files)), *NO_SEG])
    rep = report(out)
    assert rep["dropped"]["implausible_date"] == 2 and rep["customers"] == 20
    assert rep["as_of"] == "2021-09-19"


def test_date_floor_setting(run_ok):
    rows = [("a", "2014-12-31", 1), ("a", "2015-01-01", 2), ("b", "2015-06-01", 4)]
    out = run_ok({"f.csv": csv("customer_id,timestamp,amount", rows)}, ["f.csv", "--date-floor", "2015-01-01", *NO_SEG])
    assert report(out)["dropped"]["implausible_date"] == 1
    assert customers(out).loc["a", "monetary"] == 2


def test_every_date_implausible_is_one_line_naming_the_file(fails):
    fails({"x.csv": csv("customer_id,timestamp,amount", [("a", "2999-01-01", 1), ("b", "1901-01-01", 2)])},
          ["x.csv"], EXIT_DATA, "x.csv: no row has a plausible date (2 rows; dropped: implausible_date 2)")


# --- plausible amounts ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e300"])
def test_implausible_amount_is_a_counted_rule(run_ok, bad):
    rows = [*BASE[:60], ("c3", 9999, "2021-05-02", bad)]
    out = run_ok({"a.csv": csv("customer_id,order_id,timestamp,amount", rows)}, ["a.csv"])
    rep = report(out)
    assert rep["dropped"]["implausible_amount"] == 1 and rep["customers"] == 20
    assert rep["examples"]["implausible_amount"][0].startswith("row 61, customer c3, 2021-05-02 00:00:00, amount ")
    assert customers(out).loc["c3", "monetary"] == sum(i % 7 + 1 for i in (3, 23, 43))


def test_price_times_quantity_overflow_is_implausible(run_ok):
    rows = [(f"c{i % 5}", 100 + i, f"2021-01-{1 + i:02d}", 2, 1.5) for i in range(20)]
    rows.append(("c1", 999, "2021-01-05", "1e200", "1e200"))
    out = run_ok({"q.csv": csv("customer_id,order_id,timestamp,quantity,unit_price", rows)}, ["q.csv", *NO_SEG])
    assert report(out)["dropped"]["implausible_amount"] == 1
    assert customers(out).loc["c1", "monetary"] == pytest.approx(4 * 3.0)


def test_nan_and_inf_in_a_typed_parquet_column(run_ok):
    table = pa.table({"customer_id": ["a", "b", "a", "b"],
                      "timestamp": pa.array([dt.datetime(2021, 1, d) for d in (1, 2, 3, 4)], pa.timestamp("us")),
                      "amount": pa.array([1.0, float("nan"), float("inf"), 4.0])})  # NaN, not a null
    out = run_ok({"n.parquet": parquet(table)}, ["n.parquet", *NO_SEG])
    assert report(out)["dropped"]["implausible_amount"] == 2
    assert customers(out)["monetary"].to_dict() == {"a": 1.0, "b": 4.0}


def test_max_abs_amount_setting(run_ok):
    rows = [("a", "2021-01-01", 10), ("a", "2021-01-02", 5000), ("b", "2021-01-03", 20)]
    out = run_ok({"m.csv": csv("customer_id,timestamp,amount", rows)}, ["m.csv", "--max-abs-amount", "1000", *NO_SEG])
    assert report(out)["dropped"]["implausible_amount"] == 1 and customers(out).loc["a", "monetary"] == 10


# --- returns from evidence ------------------------------------------------------------------------

ONLINE_RETAIL = csv("Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID", [
    *[(536365 + i, "85123A", 2, f"2010-12-{1 + i % 9:02d} 08:26:00", 2.5, 17850 + i % 6) for i in range(30)],
    ("C536379", "85123A", -1, "2010-12-09 09:41:00", 2.5, 17850),
    ("C536380", "85123A", -2, "2010-12-09 09:41:00", 2.5, 17851),
])


def test_online_retail_cancellations_are_returns(run_ok):
    out = run_ok({"or.csv": ONLINE_RETAIL}, ["or.csv", *NO_SEG])
    rep = report(out)
    marker = rep["return_markers"]["cancelled_order_id"]
    assert marker["applied"] and marker["rows_matched"] == 2 and "100.0% of the other 30 values" in marker["evidence"]
    assert rep["return_markers"]["negative_quantity"]["rows_matched"] == 2
    assert rep["kept"]["return_lines"] == 2
    # 17850 bought 5 x (2 x 2.5) and returned 1 x 2.5
    assert customers(out).loc["17850", "monetary"] == pytest.approx(25.0 - 2.5)


def test_c_prefix_with_positive_quantity_is_a_return_only_with_support(run_ok):
    rows = [(536365 + i, 2, f"2010-12-0{1 + i % 9}", 2.5, f"u{i % 4}") for i in range(20)]
    rows.append(("C536400", 1, "2010-12-09", 2.5, "u0"))
    out = run_ok({"c.csv": csv("Invoice,Quantity,InvoiceDate,Price,Customer ID", rows)}, ["c.csv", *NO_SEG])
    assert report(out)["kept"]["return_lines"] == 1
    assert customers(out).loc["u0", "monetary"] == pytest.approx(5 * 5.0 - 2.5)


def test_customer_style_c_codes_are_not_cancellations(run_ok):
    rows = [(f"C{1000 + i}", f"2021-01-{1 + i % 20:02d}", 10, f"k{i % 5}") for i in range(40)]
    out = run_ok({"k.csv": csv("order_id,timestamp,amount,customer_id", rows)}, ["k.csv", *NO_SEG])
    rep = report(out)
    assert not rep["return_markers"]["cancelled_order_id"]["applied"]
    assert rep["kept"] == {"purchase_lines": 40, "return_lines": 0} and customers(out).loc["k0", "monetary"] == 80


def test_explicit_cancel_prefix_is_applied_without_asking_the_data(run_ok):
    out = run_ok({"s.csv": SUPERSTORE}, ["s.csv", "--cancel-prefix", "CA"])
    rep = report(out)
    assert rep["return_markers"]["cancel_prefix"] == {
        "what": "order id starting with 'CA' (cleaning.cancel_prefix)", "applied": True,
        "evidence": "applied: set by cleaning.cancel_prefix", "rows_matched": 32}
    assert rep["kept"]["purchase_lines"] == 16


# --- zero-value purchases -------------------------------------------------------------------------

def test_zero_amounts_are_purchases_in_amount_only_data(run_ok):
    rows = [("a", "2021-01-01", 10), ("a", "2021-01-05", 0), ("b", "2021-01-02", 0), ("c", "2021-01-03", 4)]
    out = run_ok({"z.csv": csv("customer_id,timestamp,amount", rows)}, ["z.csv", *NO_SEG])
    rep = report(out)
    assert rep["customers"] == 3 and rep["plausible"]["zero_value"]["kept_as_purchases"] == 2
    c = customers(out)
    assert (c.loc["a", "frequency"], c.loc["a", "monetary"], c.loc["b", "monetary"]) == (2, 10, 0)
    assert c.loc["b", "return_rate"] == 0


def test_zero_value_drop(run_ok):
    rows = [("a", "2021-01-01", 10), ("a", "2021-01-05", 0), ("b", "2021-01-02", 0), ("c", "2021-01-03", 4)]
    out = run_ok({"z.csv": csv("customer_id,timestamp,amount", rows)}, ["z.csv", "--zero-value", "drop", *NO_SEG])
    rep = report(out)
    assert rep["dropped"]["zero_value"] == 2 and rep["customers"] == 2


def test_zero_unit_price_dropped_by_default_and_kept_on_request(run_ok):
    rows = [("o1", "a", "2021-01-01", 2, 1.5), ("o2", "a", "2021-01-02", 1, 0), ("o3", "b", "2021-01-03", 1, 0),
            ("o4", "c", "2021-01-04", 1, 3.0)]
    files = {"u.csv": csv("order_id,customer_id,timestamp,quantity,unit_price", rows)}
    out = run_ok(files, ["u.csv", *NO_SEG])
    assert report(out)["dropped"]["non_positive_price"] == 2 and report(out)["customers"] == 2
    kept = run_ok(files, ["u.csv", "--zero-value", "purchase", *NO_SEG])
    assert report(kept)["customers"] == 3 and customers(kept).loc["a", "frequency"] == 2


def test_small_integers_are_not_dates(fails):
    # 43831 would be 1970-01-01 12:10 as epoch seconds: refused, not read as a plausible-looking date
    fails({"e.csv": csv("customer_id,timestamp,amount", [("a", 43831, 1), ("b", 43832, 2)])}, ["e.csv"], EXIT_DATA,
          "column 'timestamp' holds integers that are neither YYYYMMDD dates nor epoch times (data row 1: '43831'")


def test_a_fractional_float_epoch_is_named_not_dropped(fails, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from customersense.errors import EXIT_DATA

    table = pa.table({"customer_id": ["a", "b", "c"], "timestamp": [1609459200.5, 1609459300.0, 1609545600.0],
                      "amount": [1.0, 2.0, 3.0]})
    pq.write_table(table, tmp_path / "f.parquet")
    fails({}, ["f.parquet"], EXIT_DATA, "data row 1")
