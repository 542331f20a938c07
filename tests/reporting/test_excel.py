"""The Excel workbook: read back with openpyxl and compared with the run's own Parquet output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run
from customersense.schema import is_money
from customersense.reporting.excel import cells, write_workbook
from customersense.reporting.excel import workbook as excel_workbook

# Customer ids that Excel would take for formulas when a user edits the cell, and XML specials.
TRICKY_IDS = {
    "C000000": '=HYPERLINK("http://example.com","click")',
    "C000001": "+1",
    "C000002": "-2 & <b>",
    "C000003": "@SUM(A1)",
}
SHEETS = ["Summary", "Customers", "Segment profiles", "Model selection", "Validation", "Cleaning"]
REL = 1e-9


@pytest.fixture(scope="module")
def run_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("excel")
    table, _ = planted_transactions(n_customers=400, seed=7)
    ids = pc.cast(table["customer_id"], pa.string()).to_pylist()
    table = table.set_column(table.schema.get_field_index("customer_id"), "customer_id",
                             pa.array([TRICKY_IDS.get(i, i) for i in ids]))
    pq.write_table(table, tmp / "tx.parquet")
    config = load_config(None, {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                                "output": {"dir": str(tmp / "out"), "plots": False, "dashboards": False},
                                "validation": {"enabled": True, "n_bootstrap": 4, "n_null": 9,
                                               "gap_references": 3}})
    return run(config)


@pytest.fixture(scope="module")
def written(run_result, tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "run.xlsx"
    info = write_workbook(run_result, path)
    return path, info, load_workbook(path)


@pytest.fixture(scope="module")
def parquet_customers(run_result):
    """The customers as the run wrote them (not the frame the workbook writer was given)."""
    return pq.read_table(Path(run_result.config.output.dir) / "customer_segments.parquet").to_pandas()


def _rows(ws, min_row=1):
    return list(ws.iter_rows(min_row=min_row))


def test_sheets_in_order_and_what_write_workbook_returns(written, run_result):
    path, info, wb = written
    assert wb.sheetnames == SHEETS
    assert info["sheets"] == SHEETS
    assert info["customer_rows"] == len(run_result.customers) == 400
    assert info["customers_left_out"] == 0
    assert info["bytes"] == path.stat().st_size


def test_customers_header_types_and_formats(written, parquet_customers):
    _, _, wb = written
    ws = wb["Customers"]
    rows = _rows(ws)
    assert [c.value for c in rows[0]] == list(parquet_customers.columns)
    assert len(rows) == len(parquet_customers) + 1
    for j, name in enumerate(parquet_customers.columns):
        kind = parquet_customers[name].dtype.kind
        column = [row[j] for row in rows[1:] if row[j].value is not None]
        if name == "p_alive" and (parquet_customers["clv_model"] == "Gradient boosting (time split)").all():
            assert not column  # the supervised model has no P(alive): empty cells, not zeros
            continue
        assert column, name
        if kind == "b":
            assert all(type(c.value) is bool for c in column), name
        elif kind in "iu":
            assert all(type(c.value) is int for c in column), name
        elif kind == "f":
            assert all(type(c.value) is float for c in column), name
        else:
            assert all(type(c.value) is str and c.data_type == "s" for c in column), name
        fmt = column[0].number_format
        if is_money(name):
            assert fmt == '#,##0.00 "EUR"', name
        elif name == "return_rate":
            assert fmt == "0.0%"
        else:
            assert fmt == "General", name


def test_customer_values_equal_the_parquet_output(written, parquet_customers):
    _, _, wb = written
    rows = list(wb["Customers"].iter_rows(min_row=2, values_only=True))
    n_float = n_empty = 0
    for i, (row, expected) in enumerate(zip(rows, parquet_customers.itertuples(index=False))):
        for name, got, want in zip(parquet_customers.columns, row, expected):
            if want is None or want is pd.NA or (isinstance(want, float) and math.isnan(want)):
                assert got is None, (i, name)
                n_empty += 1
            elif isinstance(want, float):
                assert got == pytest.approx(want, rel=REL, abs=1e-300), (i, name)
                n_float += 1
            else:
                assert got == want, (i, name)
    assert len(rows) == len(parquet_customers)
    assert n_float > 400 * 10
    assert n_empty > 0  # anomaly_reason is empty for most customers: written as no cell


def test_freeze_panes_and_autofilters(written, parquet_customers):
    _, _, wb = written
    assert all(wb[name].freeze_panes == "A2" for name in SHEETS)
    last = get_column_letter(parquet_customers.shape[1])
    assert wb["Customers"].auto_filter.ref == f"A1:{last}{len(parquet_customers) + 1}"
    assert wb["Segment profiles"].auto_filter.ref is not None
    assert wb["Summary"].auto_filter.ref is None


def test_formula_like_text_stays_text(written, run_result):
    path, _, wb = written
    ws = wb["Customers"]
    by_value = {row[0].value: row[0] for row in ws.iter_rows(min_row=2)}
    for original in TRICKY_IDS.values():
        cell = by_value[original]
        assert cell.value == original and cell.data_type == "s"
    for text in ('=HYPERLINK("http://example.com","click")', "+1", "@SUM(A1)", "-2 & <b>"):
        assert by_value[text].quotePrefix is True
    assert by_value[sorted(by_value)[-1]].quotePrefix is False  # an ordinary id
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in zf.read(name) and b"<f " not in zf.read(name)


def test_row_cap_keeps_the_first_customers_and_says_so(run_result, tmp_path, monkeypatch, parquet_customers):
    monkeypatch.setattr(excel_workbook, "MAX_DATA_ROWS", 100)
    info = write_workbook(run_result, tmp_path / "capped.xlsx")
    assert info["customer_rows"] == 100 and info["customers_left_out"] == 300
    wb = load_workbook(tmp_path / "capped.xlsx")
    ids = [r[0] for r in wb["Customers"].iter_rows(min_row=2, values_only=True)]
    assert ids == list(parquet_customers["customer_id"][:100])
    assert wb["Customers"].max_row == 101
    summary = [v for row in wb["Summary"].iter_rows(values_only=True) for v in row if isinstance(v, str)]
    note = [s for s in summary if "left out" in s]
    assert note == ["The Customers sheet holds the first 100 customers in customer order: 300 more are left out "
                    "(Excel's row limit); customer_segments.parquet has them all."]



@pytest.mark.parametrize("limit, rows", [(150, 150), (400, 400), (10_000, 400), (-1, 400), (0, 0)])
def test_workbook_max_rows_caps_the_customers_sheet(run_result, tmp_path, parquet_customers, limit, rows):
    """output.workbook_max_rows: the first ``limit`` customers (400 in all; -1: as many as Excel holds),
    and a note naming the setting and the flag whenever some are left out."""
    config = run_result.config.model_copy(update={"output": run_result.config.output.model_copy(
        update={"workbook_max_rows": limit})})
    info = write_workbook(dataclasses.replace(run_result, config=config), tmp_path / "c.xlsx")
    assert (info["customer_rows"], info["customers_left_out"]) == (rows, 400 - rows)
    wb = load_workbook(tmp_path / "c.xlsx")
    ids = [r[0] for r in wb["Customers"].iter_rows(min_row=2, values_only=True)]
    assert ids == list(parquet_customers["customer_id"][:rows])
    summary = [v for row in wb["Summary"].iter_rows(values_only=True) for v in row if isinstance(v, str)]
    note = [s for s in summary if "left out" in s]
    assert note == ([] if rows == 400 else [
        f"The Customers sheet holds the first {rows:,} customers in customer order: {400 - rows:,} more are left "
        "out (output.workbook_max_rows; --workbook-max-rows -1 writes as many as Excel holds); "
        "customer_segments.parquet has them all."])


def test_two_writes_are_byte_identical_and_carry_the_as_of_date(run_result, tmp_path, written):
    path, _, wb = written
    again = tmp_path / "again.xlsx"
    write_workbook(run_result, again)
    assert again.read_bytes() == path.read_bytes()
    stamp = dt.datetime.combine(run_result.as_of, dt.time())
    assert wb.properties.created == stamp and wb.properties.modified == stamp
    with zipfile.ZipFile(path) as zf:
        assert {info.date_time for info in zf.infolist()} == {stamp.timetuple()[:6]}


def test_summary_states_the_run_and_both_segmentations(written, run_result, parquet_customers):
    _, _, wb = written
    ws = wb["Summary"]
    assert ws["A1"].value == f"Customer segments · {run_result.caption}"
    labels = {row[0].value: row[1] for row in ws.iter_rows() if row[0].value is not None}
    assert labels["Customers"].value == 400
    assert labels["Net revenue"].value == pytest.approx(float(parquet_customers["monetary"].sum()), rel=1e-12)
    assert labels["Net revenue"].number_format == '#,##0.00 "EUR"'
    assert labels["Orders"].value == int(parquet_customers["frequency"].sum())
    assert labels["As of"].value == stamp_of(run_result) and labels["As of"].is_date
    profiles = run_result.profiles
    for key, heading in (("rfm", "Classic RFM segments"), ("learned", "Learned segments")):
        start = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == heading) + 1
        header = [c.value for c in ws[start] if c.value is not None]
        assert header == list(excel_workbook.SUMMARY_COLUMNS)
        expected = profiles[profiles["segmentation"] == key]
        got = [[c.value for c in ws[r]][: len(header)] for r in range(start + 1, start + 1 + len(expected))]
        assert [g[0] for g in got] == list(expected["segment"])
        assert [g[1] for g in got] == list(expected["customers"])
        assert [g[3] for g in got] == pytest.approx(list(expected["revenue"]), rel=REL)
        assert [g[6] for g in got] == list(expected["strategy"])
        assert ws.cell(start + 1, 3).number_format == "0.0%"
    assert any("Validation: " in str(row[0]) for row in ws.iter_rows(values_only=True))


def stamp_of(result):
    return dt.datetime.combine(result.as_of, dt.time())


def test_profiles_model_selection_validation_and_cleaning_sheets(written, run_result):
    _, _, wb = written
    profiles = [[c for c in row] for row in wb["Segment profiles"].iter_rows(values_only=True)]
    assert profiles[0] == list(run_result.profiles.columns)
    assert len(profiles) == len(run_result.profiles) + 1
    assert [r[1] for r in profiles[1:]] == list(run_result.profiles["segment"])
    selection = run_result.learned.model.selection_
    rows = list(wb["Model selection"].iter_rows(values_only=True))
    assert list(rows[0]) == list(selection.columns)
    assert [r[0] for r in rows[1:]] == list(selection["k"])
    assert [r[list(selection.columns).index("inertia")] for r in rows[1:]] == pytest.approx(
        list(selection["inertia"]), rel=REL)
    v = run_result.validation
    facts = {r[0]: r[1] for r in wb["Validation"].iter_rows(values_only=True) if r[0] is not None}
    assert facts["Verdict"] == v.verdict() and facts["p-value"] == pytest.approx(v.p_value, rel=REL)
    assert facts["Significant"] is v.significant
    assert facts["Gap statistic's k"] == v.k_gap and facts["Gap statistic"] in v.verdict()
    for name, jaccard, status in zip(v.segment_names, v.jaccard, v.stability):
        row = next(r for r in wb["Validation"].iter_rows(values_only=True) if r[0] == name)
        assert row[1] == pytest.approx(jaccard, rel=REL) and row[3] == status
    c = run_result.cleaning
    rows = list(wb["Cleaning"].iter_rows(values_only=True))
    facts = {r[0]: r[1] for r in rows if r[0] is not None}
    assert facts["Rows in"] == c.rows_in and facts["Rows kept"] == c.rows_kept
    assert facts["As of"] == stamp_of(run_result)
    start = next(i for i, r in enumerate(rows) if r[0] == "rule")
    assert [r[:2] for r in rows[start + 1: start + 1 + len(c.dropped)]] == [
        (rule, c.dropped[rule]) for rule in c.to_dict()["rules_in_order"]]


def test_dates_nan_and_zone_aware_timestamps(run_result, tmp_path):
    customers = run_result.customers.head(3).copy()
    customers["first_purchase"] = [dt.date(2010, 12, 10), None, dt.date(1900, 3, 1)]
    customers["last_seen"] = pd.to_datetime(["2010-12-10 08:26:00", "2011-01-01 23:59:30", None])
    customers["seen_utc"] = pd.to_datetime(["2010-12-10 08:26:00+01:00", None, None], utc=True)
    customers["monetary"] = [np.nan, np.inf, 12.0]
    customers["note"] = pd.array(["\tTAB", "\rCR", " padded "], dtype="string")
    result = dataclasses.replace(run_result, customers=customers)
    write_workbook(result, tmp_path / "dates.xlsx")
    ws = load_workbook(tmp_path / "dates.xlsx")["Customers"]
    header = [c.value for c in ws[1]]
    col = {name: [ws.cell(r, header.index(name) + 1) for r in (2, 3, 4)] for name in header}
    assert [c.value for c in col["first_purchase"]] == [dt.datetime(2010, 12, 10), None, dt.datetime(1900, 3, 1)]
    assert col["first_purchase"][0].number_format == "yyyy-mm-dd" and col["first_purchase"][0].is_date
    assert [c.value for c in col["last_seen"]] == [dt.datetime(2010, 12, 10, 8, 26), dt.datetime(2011, 1, 1, 23, 59, 30), None]
    assert col["last_seen"][0].number_format == "yyyy-mm-dd hh:mm:ss"
    assert col["seen_utc"][0].value == dt.datetime(2010, 12, 10, 7, 26)  # in UTC
    assert [c.value for c in col["monetary"]] == [None, None, 12.0]
    assert type(col["monetary"][2].value) is float
    assert [c.value for c in col["note"]] == ["\tTAB", "\rCR", " padded "]
    assert [c.quotePrefix for c in col["note"]] == [True, True, False]


def test_cells_by_hand():
    assert [cells.column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
    text = cells.clean_text(pa.array(["a&b<c>", "x\x01y", "_x0041_", "plain", None, "a\r\nb"]))
    assert text.to_pylist() == ["a&amp;b&lt;c&gt;", "x_x0001_y", "_x005F_x0041_", "plain", None, "a&#13;\nb"]
    numbers = cells.number_text(pa.array([12.0, 0.1, 1e16, -0.5, float("inf"), None, 2.0 / 3]), as_float=True)
    assert numbers.to_pylist() == ["12.0", "0.1", "1e+16", "-0.5", None, None, "0.6666666666666666"]
    assert cells.number_text(pa.array([3, -7], pa.int64()), as_float=False).to_pylist() == ["3", "-7"]
    # Excel serial days: 2010-12-10 is 40522, 1900-03-01 is 61; 06:00 is a quarter of a day
    dates = cells.serial_text(pa.array([dt.date(2010, 12, 10), dt.date(1900, 3, 1)]))
    assert dates.to_pylist() == ["40522", "61"]
    stamps = cells.serial_text(pa.array([dt.datetime(2010, 12, 10, 6)], pa.timestamp("us")))
    assert stamps.to_pylist() == ["40522.25"]
    assert cells.cell_xml("B3", "=1+1") == ('<c r="B3" s="8" t="inlineStr"><is><t xml:space="preserve">=1+1'
                                            "</t></is></c>")
    assert cells.cell_xml("C4", True) == '<c r="C4" t="b"><v>1</v></c>'
    assert cells.cell_xml("D5", float("nan")) == ""


def _local_extras(path) -> dict[str, bytes]:
    """The extra field of each entry's local header (where Zip64 sizes would be)."""
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as raw:
        for info in zf.infolist():
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            raw.seek(info.header_offset + 30 + name_len)
            out[info.filename] = raw.read(extra_len)
    return out


def test_zip64_only_when_a_sheet_needs_it(run_result, tmp_path, monkeypatch, written):
    path, _, _ = written
    assert set(_local_extras(path).values()) == {b""}  # Excel is strict about Zip64: none when not needed
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 50_000)  # the Customers sheet's XML is larger
    write_workbook(run_result, tmp_path / "zip64.xlsx")
    extras = _local_extras(tmp_path / "zip64.xlsx")
    assert extras["xl/worksheets/sheet2.xml"][:2] == b"\x01\x00"  # the Zip64 extra field's id
    assert extras["xl/styles.xml"] == b""
    wb = load_workbook(tmp_path / "zip64.xlsx")
    assert wb["Customers"].max_row == len(run_result.customers) + 1


def test_categoricals_mixed_objects_and_empty_text(run_result, tmp_path):
    customers = run_result.customers.head(3).copy()
    customers["tier"] = pd.Categorical(["gold", None, "silver"])
    customers["mixed"] = pd.Series([1, "two", None], dtype=object)
    customers["blank"] = pd.array(["", None, "x"], dtype="string")
    write_workbook(dataclasses.replace(run_result, customers=customers), tmp_path / "objects.xlsx")
    ws = load_workbook(tmp_path / "objects.xlsx")["Customers"]
    header = [c.value for c in ws[1]]
    values = {name: [ws.cell(r, header.index(name) + 1).value for r in (2, 3, 4)] for name in ("tier", "mixed", "blank")}
    assert values == {"tier": ["gold", None, "silver"], "mixed": ["1", "two", None], "blank": ["", None, "x"]}
