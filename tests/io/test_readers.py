"""Every reader maps a messy source to the same standard transactions."""

import datetime as dt

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pytest

from customersense.config import InputConfig
from customersense.datasets import dataset_path
from customersense.errors import DataError, InputError, SchemaError
from customersense.io.readers import read_transactions
from customersense.io.sniff import sniff_encoding

HEADER = "Invoice;StockCode;Description;Quantity;InvoiceDate;Price;Customer ID;Country"
LINES = [
    "489434;85048;15CM CHRISTMAS GLASS BALL;12;01/12/2009 07:45;6,95;13085;United Kingdom",
    "489435;22350;CAT BOWL £;12;13/12/2009 07:46;2,55;13085.0;United Kingdom",
]


def _read(engine, tmp_path, **kwargs):
    return read_transactions(engine, InputConfig(**kwargs), tmp_path)


def _rows(tx):
    return tx.table.order_by("timestamp").to_pyarrow().to_pylist()


def test_sniff_encoding():
    assert sniff_encoding("£".encode("utf-8"))[0] == "utf-8"
    assert sniff_encoding(b"\xef\xbb\xbfa,b")[0] == "utf-8-sig"
    assert sniff_encoding("a,b".encode("utf-16"))[0] == "utf-16"
    assert sniff_encoding("caf\xe9 au lait, un peu plus long".encode("cp1252"))[0] == "cp1252"
    # UTF-16 without a byte-order mark: every other byte of ASCII text is NUL
    assert sniff_encoding("customer_id,amount\n".encode("utf-16-le"))[0] == "utf-16-le"
    assert sniff_encoding("customer_id,amount\n".encode("utf-16-be"))[0] == "utf-16-be"
    # 0x81 is undefined in Windows-1252: Latin-1, which maps every byte
    assert sniff_encoding(b"caf\xe9 \x81 au lait, un peu plus long")[0] == "latin-1"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "utf-16"])
def test_csv_with_semicolons_bom_and_legacy_encodings(engine, tmp_path, encoding):
    # decimal commas are not numbers in a CSV: use dots, but keep the semicolon delimiter
    lines = [ln.replace(",", ".") for ln in LINES]
    path = tmp_path / "retail.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding=encoding)
    tx = _read(engine, tmp_path, source=str(path))
    assert tx.info.details["csv"]["delimiter"] == ";"
    rows = _rows(tx)
    assert [r["customer_id"] for r in rows] == ["13085", "13085"]
    assert rows[1]["description"] == "CAT BOWL £"
    assert rows[0]["timestamp"] == dt.datetime(2009, 12, 1, 7, 45)
    assert rows[1]["timestamp"] == dt.datetime(2009, 12, 13, 7, 46)
    assert tx.info.details["parsing"]["timestamp_format"] == "%d/%m/%Y %H:%M"
    assert rows[0]["amount"] == pytest.approx(12 * 6.95)


def test_tab_separated_generic_schema(engine, tmp_path):
    path = tmp_path / "orders.tsv"
    path.write_text("customer_id\torder_id\ttimestamp\tamount\nA\t1\t2021-03-01T10:00:00\t9.5\nB\t2\t2021-03-02\t3\n")
    tx = _read(engine, tmp_path, source=str(path))
    assert tx.info.mapping == {"customer_id": "customer_id", "order_id": "order_id",
                               "timestamp": "timestamp", "amount": "amount"}
    assert [r["amount"] for r in _rows(tx)] == [9.5, 3.0]


def test_explicit_mapping_from_config(engine, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Kunde,Datum,Umsatz\nk1,2021-01-01,5\nk2,2021-01-02,6\n")
    tx = _read(engine, tmp_path, source=str(path), mapping={"customer_id": "Kunde", "timestamp": "Datum", "amount": "Umsatz"})
    assert [r["customer_id"] for r in _rows(tx)] == ["k1", "k2"]


def test_parquet_online_retail_ii(engine, tmp_path):
    tx = _read(engine, tmp_path)  # the embedded default
    assert tx.info.format == "parquet"
    assert tx.info.fingerprint["sha256"] == "e92bcbbce1b7a1041ad79462879d4774bf050c7b8fee9f4eef89f09fb6330664"
    # every row of the file, counted from the Parquet footer (525,461: the 2009-2010 sheet)
    assert tx.table.count().to_pyarrow().as_py() == pq.ParquetFile(dataset_path("online_retail_ii")).metadata.num_rows
    first = tx.table.filter(tx.table.order_id == "489434").limit(1).to_pyarrow().to_pylist()[0]
    assert first["customer_id"] == "13085"
    assert first["timestamp"] == dt.datetime(2009, 12, 1, 7, 45)


def test_excel(engine, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Year 2009-2010"
    sheet.append(["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"])
    sheet.append(["489434", "85048", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085])
    sheet.append(["C489449", "22087", -12, dt.datetime(2009, 12, 1, 10, 33), 2.95, 16321.0])
    path = tmp_path / "retail.xlsx"
    book.save(path)
    rows = _rows(_read(engine, tmp_path, source=str(path)))
    assert [(r["order_id"], r["customer_id"], r["quantity"]) for r in rows] == [
        ("489434", "13085", 12.0), ("C489449", "16321", -12.0)]
    assert rows[1]["timestamp"] == dt.datetime(2009, 12, 1, 10, 33)
    with pytest.raises(InputError, match="no sheet 'nope'; sheets: Year 2009-2010"):
        _read(engine, tmp_path, source=str(path), sheet="nope")


def test_cdnow_master_with_header(engine, tmp_path):
    tx = _read(engine, tmp_path, source=str(dataset_path("cdnow_master")))
    assert tx.info.format == "cdnow"
    assert tx.table.count().to_pyarrow().as_py() == 69_659
    assert tx.table.customer_id.nunique().to_pyarrow().as_py() == 23_570
    first = _rows(tx)[0]
    assert first["timestamp"] == dt.datetime(1997, 1, 1)
    assert "order_id" not in tx.table.columns


def test_cdnow_sample_without_header(engine, tmp_path):
    tx = _read(engine, tmp_path, source=str(dataset_path("cdnow_sample")))
    assert tx.table.count().to_pyarrow().as_py() == 6_919
    assert tx.table.customer_id.nunique().to_pyarrow().as_py() == 2_357
    row = tx.table.filter(tx.table.customer_id == "00004").order_by("timestamp").to_pyarrow().to_pylist()[0]
    assert (row["timestamp"], row["quantity"], row["amount"]) == (dt.datetime(1997, 1, 1), 2.0, 29.33)


def test_duckdb_table(engine, tmp_path):
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as c:
        c.execute("CREATE TABLE sales (client VARCHAR, sold_at TIMESTAMP, total DOUBLE)")
        c.execute("INSERT INTO sales VALUES ('a', '2022-01-01 10:00', 10.0), ('b', '2022-01-02', 4.5)")
        c.execute("CREATE TABLE other (x INT)")
    if engine.name == "spark":
        with pytest.raises(InputError, match="a DuckDB database file needs --engine duckdb"):
            _read(engine, tmp_path, source=str(db), table="sales")
        return
    tx = _read(engine, tmp_path, source=str(db), table="sales",
               mapping={"customer_id": "client", "timestamp": "sold_at", "amount": "total"})
    assert [r["amount"] for r in _rows(tx)] == [10.0, 4.5]
    with pytest.raises(InputError, match="name the table with --table; tables: other, sales"):
        _read(engine, tmp_path, source=str(db))


def test_missing_file_and_unknown_format(engine, tmp_path):
    with pytest.raises(InputError, match="file not found: .*nope.csv"):
        _read(engine, tmp_path, source=str(tmp_path / "nope.csv"))
    odd = tmp_path / "data.json"
    odd.write_text("{}")
    with pytest.raises(InputError, match="unsupported format '.json'"):
        _read(engine, tmp_path, source=str(odd))


def test_unparseable_dates_name_the_rows(engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,timestamp,amount\na,2021-01-01,1\nb,yesterday,2\nc,2021-01-03,3\nd,31/02/x,4\n")
    with pytest.raises(DataError) as err:
        _read(engine, tmp_path, source=str(path))
    msg = str(err.value)
    assert "'timestamp' has 2 values that are not dates" in msg
    assert "data row 2: 'yesterday'" in msg and "data row 4: '31/02/x'" in msg


def test_unparseable_amounts_name_the_rows(engine, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,timestamp,amount\na,2021-01-01,1\nb,2021-01-02,12 EUR\n")
    with pytest.raises(DataError, match="'amount' \\(amount\\) has 1 values that are not numbers \\(data row 2: '12 EUR'\\)"):
        _read(engine, tmp_path, source=str(path))


def test_missing_column_lists_columns(engine, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("who,when,much\na,2021-01-01,1\n")
    with pytest.raises(SchemaError, match="no customer_id column .* columns found: 'who', 'when', 'much'"):
        _read(engine, tmp_path, source=str(path))


def test_spark_catalog_table(engine, tmp_path):
    """With the Spark engine, --table without a source reads a table of the Spark catalog."""
    if engine.name != "spark":
        pytest.skip("a Spark catalog table needs the Spark engine")
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    spark.createDataFrame(
        [("a", "2022-01-01 10:00:00", 10.0), ("b", "2022-01-02 00:00:00", 4.5)], "client string, sold_at string, total double"
    ).createOrReplaceTempView("cs_test_sales")
    tx = _read(engine, tmp_path, table="cs_test_sales",
               mapping={"customer_id": "client", "timestamp": "sold_at", "amount": "total"})
    assert tx.info.format == "spark-table"
    assert [(r["customer_id"], r["amount"]) for r in _rows(tx)] == [("a", 10.0), ("b", 4.5)]
    with pytest.raises(InputError, match="Spark catalog has no table 'nope'"):
        _read(engine, tmp_path, table="nope")


def test_strptime_formats_become_spark_patterns():
    from customersense.engine.spark import java_pattern

    assert java_pattern("%d/%m/%Y %H:%M") == "d/M/yyyy H:m"  # one or two digits, as strptime
    assert java_pattern("%Y%m%d") == "yyyyMMdd"  # back to back: fixed widths
    assert java_pattern("%Y-%m-%dT%H:%M:%S") == "yyyy-M-d'T'H:m:s"
    with pytest.raises(Exception, match="%j is not supported"):
        java_pattern("%Y %j")
