"""Corpus cases on formats (issue 14, item 5 and the reading half of item 6): what the bytes
say decides the reader; every file a user can fix gets one line naming it and the fix."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from customersense.errors import EXIT_CONFIG, EXIT_DATA, EXIT_INPUT

from .conftest import GOOD_CSV

# GOOD_CSV's customers: c1 has 4 + 20 = 24, c2 has 7 + 5 = 12 (amounts 3i + 1, plus one more order each).
GOOD_MONETARY = {"c1": 24.0, "c2": 12.0}


def _monetary(out) -> dict[str, float]:
    frame = pd.read_parquet(out / "customer_segments.parquet")
    return dict(zip(frame["customer_id"], frame["monetary"]))


def _input(out) -> dict:
    return json.loads((out / "run.json").read_text())["input"]


def _semicolons(amounts: list[str]) -> str:
    return "customer_id;order_id;timestamp;amount\n" + "".join(
        f"c{i % 4};{100 + i};2021-01-0{1 + i % 8} 09:00;{a}\n" for i, a in enumerate(amounts))


# --- read from the bytes, shown ---------------------------------------------------------------

@pytest.mark.parametrize("name, content, shown", [
    ("gz.csv", gzip.compress(GOOD_CSV.encode()), ("compression", "gzip (from the file's first bytes)")),
    ("good.csv.gz", gzip.compress(GOOD_CSV.encode()), ("compression", "gzip (from the file's first bytes)")),
    ("le.csv", GOOD_CSV.encode("utf-16-le"), ("encoding", "utf-16-le")),
    ("be.csv", GOOD_CSV.encode("utf-16-be"), ("encoding", "utf-16-be")),
    ("bom.csv", GOOD_CSV.encode("utf-16"), ("encoding", "utf-16")),
    ("tabs.txt", GOOD_CSV.replace(",", "\t").encode(), ("delimiter", "\t")),
    ("pipes.csv", GOOD_CSV.replace(",", "|").encode(), ("delimiter", "|")),
])
def test_text_read_from_its_bytes(run_ok, name, content, shown):
    out = run_ok({name: content}, [name])
    key, value = shown
    assert _input(out)["csv"][key] == value
    assert {c: _monetary(out)[c] for c in GOOD_MONETARY} == GOOD_MONETARY


def test_csv_named_parquet_is_read_as_text_and_says_so(run_ok):
    out = run_ok({"x.parquet": GOOD_CSV}, ["x.parquet"])
    assert _input(out)["format"] == "csv"
    assert _input(out)["content"] == "named .parquet but holds text: read as delimited text"
    assert {c: _monetary(out)[c] for c in GOOD_MONETARY} == GOOD_MONETARY


def test_parquet_named_csv_is_read_as_parquet(run_ok, tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(GOOD_CSV), dtype=str)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "p.csv")
    out = run_ok({}, ["p.csv"])
    assert _input(out)["format"] == "parquet"
    assert "its first bytes are Parquet" in _input(out)["content"]
    assert {c: _monetary(out)[c] for c in GOOD_MONETARY} == GOOD_MONETARY


def test_quoted_delimiters_in_ids(run_ok):
    text = "customer_id,order_id,timestamp,amount\n" + "".join(
        f'"Smith, J{i % 3}","A,{i}",2021-01-0{1 + i % 8},{i + 1}\n' for i in range(12))
    out = run_ok({"q.csv": text}, ["q.csv"])
    # Smith, J0 bought rows 0, 3, 6, 9: amounts 1 + 4 + 7 + 10
    assert _monetary(out)["Smith, J0"] == 22.0
    assert _input(out)["csv"]["delimiter"] == ","


def test_a_field_longer_than_two_megabytes(run_ok):
    lines = GOOD_CSV.splitlines()
    text = lines[0] + ",note\n" + "".join(
        f"{ln},{'x' * (2_300_000 if i == 3 else 5)}\n" for i, ln in enumerate(lines[1:]))
    out = run_ok({"long.csv": text}, ["long.csv"])
    assert {c: _monetary(out)[c] for c in GOOD_MONETARY} == GOOD_MONETARY


def test_latin1_when_windows_1252_leaves_a_byte_undefined(run_ok):
    text = GOOD_CSV.replace("c1,", "caf\xe9 \x81,")
    out = run_ok({"l1.csv": text.encode("latin-1")}, ["l1.csv"])
    assert _input(out)["csv"]["encoding"] == "latin-1"
    assert _monetary(out)["caf\xe9 \x81"] == 24.0


# --- numbers: decimal marks and thousands from the values --------------------------------------

def test_decimal_commas_and_point_thousands(run_ok):
    # c1 gets rows 1, 5, 9: 1,50 + 1.050,25 + 3,00
    amounts = ["0,50", "1,50", "2,50", "3,50", "4,50", "1.050,25", "6,50", "7,50", "8,50", "3,00"]
    out = run_ok({"eu.csv": _semicolons(amounts)}, ["eu.csv"])
    assert _monetary(out)["c1"] == pytest.approx(1.50 + 1050.25 + 3.00, abs=1e-9)
    numbers = _input(out)["parsing"]["numbers"]["amount"]
    assert numbers["decimal"] == "," and "decimal comma" in numbers["evidence"]


def test_currency_symbols_and_comma_thousands(run_ok):
    text = "customer_id,order_id,timestamp,amount\n" + "".join(
        f'c{i % 2},{i},2021-01-0{1 + i},"${1 + i},{i:03d}.25"\n' for i in range(4))
    out = run_ok({"us.csv": text}, ["us.csv"])
    # c1: rows 1 and 3 -> 2,001.25 + 4,003.25
    assert _monetary(out)["c1"] == pytest.approx(6004.5, abs=1e-9)
    assert _input(out)["parsing"]["numbers"]["amount"]["decimal"] == "."


def test_three_decimals_after_a_zero_are_decimals_not_thousands(run_ok):
    # 0.250 can never be a group of thousands (a group does not start with a lone 0)
    out = run_ok({"t.csv": _semicolons(["0.250", "1.500", "2.000", "3", "0.125", "5"])}, ["t.csv"])
    # c0: rows 0 and 4 (0.250 + 0.125); c1: rows 1 and 5 (1.500 + 5)
    assert _monetary(out)["c0"] == pytest.approx(0.375, abs=1e-9)
    assert _monetary(out)["c1"] == pytest.approx(6.5, abs=1e-9)
    assert _input(out)["parsing"]["numbers"]["amount"]["decimal"] == "."
    out = run_ok({"u.csv": _semicolons(["0,250", "1,500", "2", "3", "4", "5"])}, ["u.csv"])
    assert _monetary(out)["c0"] == pytest.approx(0.25 + 4, abs=1e-9)
    assert _monetary(out)["c1"] == pytest.approx(1.5 + 5, abs=1e-9)


def test_forced_decimal_and_delimiter(run_ok):
    # "1,050" alone is ambiguous: read with a point (1050) unless --decimal , says otherwise
    text = _semicolons(["1,050", "2", "3", "4", "5", "6"])
    out = run_ok({"f.csv": text}, ["f.csv", "--decimal", ",", "--delimiter", ";"])
    assert _monetary(out)["c0"] == pytest.approx(1.05 + 5, abs=1e-9)
    assert _input(out)["csv"]["delimiter_evidence"] == "semicolon (--delimiter)"
    assert _input(out)["parsing"]["numbers"]["amount"]["evidence"] == "--decimal"


# --- one line, a named exit code, the earlier output untouched --------------------------------

@pytest.mark.parametrize(
    "files, args, code, fragment",
    [
        ({"m.csv": _semicolons(["1,5", "2,5", "1.5", "3,5"])}, ["m.csv"], EXIT_DATA,
         "column 'amount' (amount) has no clear decimal mark: 3 values read only with a decimal comma and 1 only "
         "with a decimal point; pass --decimal , or --decimal ."),
        ({"k.csv": _semicolons(["1.050", "2.000", "3", "4"])}, ["k.csv"], EXIT_DATA,
         "column 'amount' (amount) has no clear decimal mark: 2 sampled values such as 1.050 or 1,050 read as "
         "thousands or as three decimals, and no value decides; pass --decimal , or --decimal ."),
        ({"p.csv": _semicolons(["1,5", "2,5", "12 EUR"])}, ["p.csv"], EXIT_DATA,
         "has 1 values that are not numbers (data row 3: '12 EUR')"),
        ({"h.csv": "customer_id,order_id,timestamp,amount\n"}, ["h.csv"], EXIT_DATA,
         "h.csv: no data rows (a header alone?)"),
        ({"e.csv": ""}, ["e.csv"], EXIT_INPUT, "e.csv: the file is empty"),
        ({"x.parquet": b"PAR1" + b"\x00" * 64 + b"PAR1"}, ["x.parquet"], EXIT_INPUT,
         "x.parquet: cannot read as Parquet (corrupt or truncated?)"),
        ({"t.csv.gz": gzip.compress(GOOD_CSV.encode())[:40]}, ["t.csv.gz"], EXIT_INPUT,
         "t.csv.gz: cannot decompress (gzip)"),
        ({"bin.csv": bytes(range(256)) * 8}, ["bin.csv"], EXIT_INPUT, "bin.csv: not a text file"),
        ({"x.csv": GOOD_CSV}, ["x.csv", "--encoding", "klingon"], EXIT_CONFIG,
         "unknown encoding 'klingon'; use a Python codec name"),
        ({"x.csv": GOOD_CSV}, ["x.csv", "--delimiter", "x"], EXIT_CONFIG, "use ',', ';', 'tab' or '|'"),
        ({"x.csv": GOOD_CSV.encode("utf-16-le")}, ["x.csv", "--encoding", "utf-8"], EXIT_INPUT,
         "x.csv: not a text file (NUL bytes after decoding as utf-8); pass the right --encoding"),
        ({"x.csv": "caf\xe9,b\n".encode("cp1252") * 3}, ["x.csv", "--encoding", "utf-8"], EXIT_INPUT,
         "x.csv: byte 3 is not valid utf-8; pass the right --encoding"),
        ({"one.csv": "just one column\na\nb\n"}, ["one.csv"], EXIT_INPUT,
         "one.csv: cannot find the column delimiter (tried , ; tab |)"),
        ({"x.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500}, ["x.xls"], EXIT_INPUT,
         "x.xls: cannot open as a legacy Excel (.xls) workbook"),
        ({"x.xlsx": b"PK\x03\x04" + b"\x00" * 100}, ["x.xlsx"], EXIT_INPUT,
         "x.xlsx: cannot open as an Excel workbook"),
        ({"x.duckdb": GOOD_CSV}, ["x.duckdb", "--table", "t"], EXIT_INPUT, "but this file is not a DuckDB database"),
    ],
)
def test_refused_in_one_line(fails, files, args, code, fragment):
    fails(files, args, code, fragment)


def test_identical_customers_explain_what_is_possible(fails):
    text = "customer_id,order_id,timestamp,amount\n" + "".join(f"c{i},{i},2021-01-01,10\n" for i in range(300))
    result = fails({"same.csv": text}, ["same.csv"], EXIT_DATA, "1 distinct feature rows", fast=False)
    assert "--no-segments" in result.output and "calibration_end" not in result.output


# --- workbooks ---------------------------------------------------------------------------------

def _legacy_workbook(path) -> None:
    """A legacy .xls (BIFF8) written by xlwt, the Online Retail columns, a float customer id."""
    import datetime as dt

    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Year 2009-2010")
    when = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm")
    for j, name in enumerate(["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"]):
        sheet.write(0, j, name)
    rows = [("489434", "85048", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085.0),
            ("489435", "22350", 2, dt.datetime(2009, 12, 2, 8, 0), 2.55, 13085.0),
            ("489436", "22351", 1, dt.datetime(2009, 12, 3, 9, 30), 10.0, 13086.0),
            ("489437", "22352", 3, dt.datetime(2009, 12, 4, 10, 0), 1.25, 13087.0)]
    for i, row in enumerate(rows, start=1):
        for j, value in enumerate(row):
            sheet.write(i, j, value, when) if j == 3 else sheet.write(i, j, value)
    book.save(str(path))


def test_legacy_xls(run_ok, tmp_path):
    _legacy_workbook(tmp_path / "retail.xls")
    out = run_ok({}, ["retail.xls"])
    assert _input(out)["format"] == "xls" and _input(out)["sheets"] == ["Year 2009-2010"]
    # 13085: 12 x 6.95 + 2 x 2.55; ids typed as numbers come back without '.0'
    assert _monetary(out)["13085"] == pytest.approx(12 * 6.95 + 2 * 2.55, abs=1e-9)


def test_xlsx_named_xls_is_read_as_xlsx(run_ok, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for line in GOOD_CSV.splitlines():
        sheet.append(line.split(","))
    book.save(tmp_path / "really.xls")
    out = run_ok({}, ["really.xls"])
    assert _input(out)["format"] == "excel"
    assert "its first bytes are an .xlsx workbook" in _input(out)["content"]
    assert {c: _monetary(out)[c] for c in GOOD_MONETARY} == GOOD_MONETARY


def test_a_full_disk_while_staging_the_input_is_a_resource_error(fails, monkeypatch):
    import errno

    from customersense.errors import EXIT_RESOURCE
    from customersense.io import text

    def full(path, encoding, workdir):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(text, "_stage_utf8", full)
    fails({"w.csv": GOOD_CSV.replace("c1,", "caf\xe9,").encode("cp1252")}, ["w.csv"], EXIT_RESOURCE,
          "the disk is full (the engine's scratch folder")


def test_workbook_number_cells_stay_numbers_and_repeated_headers_stay_apart(run_ok, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_id", "timestamp", "amount", "note", "note"])
    for i, amount in enumerate([0.125, 1.375, 2.625, 0.875, 3.0, 1.5]):
        sheet.append([f"c{i % 2}", f"2021-01-0{1 + i}", amount, "first", f"second {i}"])
    book.save(tmp_path / "typed.xlsx")
    out = run_ok({}, ["typed.xlsx"])
    # c1: 1.375 + 0.875 + 1.5, read as numbers (no decimal mark guessed from 3-decimal text)
    assert _monetary(out)["c1"] == pytest.approx(3.75, abs=1e-9)
    tx = pd.read_parquet(out / "transactions_with_segments.parquet")
    assert set(tx["note"]) == {"first"} and tx["note_2"].str.startswith("second").all()
