"""Tableau files of a run: a Hyper extract, a workbook over it and the packaged workbook.

- ``customersense.hyper``: three tables in the ``Extract`` schema (Tableau's convention for
  extracts, ``"Extract"."customers"``): ``customers`` (one row per customer, as
  ``customer_segments.parquet``), ``segments`` (the segment profiles of both segmentations, with
  their text) and ``transactions`` (the cleaned lines with their segments, streamed from the
  Parquet output batch by batch: pantab reads an Arrow C stream (a ``RecordBatchReader``), so the
  lines never sit in pandas; on the embedded data, 408,809 lines, the extract is 8.5 MB).
  Without the transactions (not written above ``output.transactions_max_rows``) the extract holds
  ``customers`` and ``segments`` only, and the workbook has no relationship and no transaction sheet.
  Column types are kept: text, 64-bit integers (8-bit scores as 16-bit, Hyper's smallest),
  doubles, booleans, dates and timestamps.
- ``customersense.twb``: the workbook, pointing at the extract beside it.
- ``customersense.twbx``: the packaged workbook, a zip of the workbook (pointing at
  ``Data/Extracts/customersense.hyper``) and the extract at that path. Members in a fixed order
  with fixed timestamps: the package of the same workbook and extract is byte-identical. The
  extract itself is not: Hyper stamps each file it creates (a few header bytes and checksums), so two
  writes of the same data differ in those bytes, not in their tables.

Nothing here proves that Tableau Desktop opens the files: the workbook validates against
Tableau's published schema, and its tables and columns are checked against the extract.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pantab
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from .twb import Datasource, Field, Relationship, Sheet, Use, stable_id, workbook_xml

SCHEMA = "Extract"
HYPER_FILE = "customersense.hyper"
TWB_FILE = "customersense.twb"
TWBX_FILE = "customersense.twbx"
TWBX_EXTRACT = "Data/Extracts/" + HYPER_FILE
TABLEAU_FILES = (HYPER_FILE, TWB_FILE, TWBX_FILE)
DASHBOARD = "CustomerSense"

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ORDINAL_INTEGERS = {"r_score", "f_score", "m_score", "cluster"}  # codes, not amounts


def tableau_datatype(arrow_type: pa.DataType) -> str:
    """The Tableau datatype of a column of this Arrow type (as Hyper stores it)."""
    if pa.types.is_dictionary(arrow_type):
        return tableau_datatype(arrow_type.value_type)
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "real"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or \
            pa.types.is_string_view(arrow_type):
        return "string"
    raise TypeError(f"no Tableau datatype for Arrow type {arrow_type}")


def _fields(table: str, schema: pa.Schema, taken: set[str] = frozenset()) -> tuple[Field, ...]:
    """The datasource fields of one extract table; a name already ``taken`` by another table of the
    datasource gets Tableau's suffix ("customer_id (transactions)")."""
    out = []
    for col in schema:
        datatype = tableau_datatype(col.type)
        if datatype in ("integer", "real") and col.name not in _ORDINAL_INTEGERS:
            role, kind = "measure", "quantitative"
        else:
            role = "dimension"
            kind = "ordinal" if datatype in ("date", "datetime", "integer", "real") else "nominal"
        local = f"{col.name} ({table})" if col.name in taken else col.name
        out.append(Field(table, col.name, local, datatype, role, kind))
    return tuple(out)


def _plain_mode(path: Path) -> None:
    """Hyper creates its files readable by their owner's group only (0640): give the extract the
    mode of every other output (0666 less the process umask), so a shared folder can read it."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def _frame_table(frame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # a column with no value at all has Arrow's null type, which Hyper has no type for: text
    for i, field in enumerate(table.schema):
        if pa.types.is_null(field.type):
            table = table.set_column(i, field.name, table[field.name].cast(pa.string()))
    return table


def _transactions(path: Path) -> pads.Dataset:
    return pads.dataset(path, format="parquet")


def transaction_batches(path: Path, batch_size: int = 65_536) -> pa.RecordBatchReader:
    """The transactions as a stream of record batches, part after part (a file or a folder of parts).

    Each part is read by its own ``ParquetFile.iter_batches``, so memory holds about one row group
    at a time: a dataset scanner's read-ahead ran ahead of the Hyper inserter and grew with the
    data (3.3 million rows in 8 parts: +490 MB through the scanner, +125 MB this way, as for one part).
    """
    dataset = _transactions(path)
    schema = dataset.schema

    def batches():
        for part in sorted(dataset.files):
            for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size):
                yield batch if batch.schema == schema else batch.cast(schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def write_extract(path: Path, customers: pa.Table, segments: pa.Table, transactions_parquet: Path | None) -> None:
    """Write the tables into a new Hyper file at ``path`` (replacing one there): customers,
    segments and, unless ``transactions_parquet`` is None, the transactions."""
    path.unlink(missing_ok=True)
    tables = {(SCHEMA, "customers"): customers, (SCHEMA, "segments"): segments}
    if transactions_parquet is not None:
        tables[(SCHEMA, "transactions")] = transaction_batches(transactions_parquet)
    pantab.frames_to_hyper(tables, path, atomic=False)


def datasources(customers: pa.Schema, segments: pa.Schema, transactions: pa.Schema | None,
                dbname: str) -> tuple[Datasource, Datasource]:
    """Customers related to their transactions on customer_id (customers alone without
    transactions); the segment profiles on their own (one row per segment of each segmentation:
    no key to the customers table)."""
    cust = _fields("customers", customers)
    name = "federated." + stable_id("datasource", "customers").replace("-", "").lower()[:28]
    if transactions is None:
        people = Datasource(name=name, caption="CustomerSense customers", dbname=dbname, schema=SCHEMA,
                            tables=("customers",), fields=cust)
    else:
        tx = _fields("transactions", transactions, {f.column for f in cust})
        tx_key = next(f.local for f in tx if f.column == "customer_id")
        people = Datasource(
            name=name, caption="CustomerSense customers", dbname=dbname, schema=SCHEMA,
            tables=("customers", "transactions"), fields=cust + tx,
            relationship=Relationship("customers", "transactions", "customer_id", tx_key))
    profiles = Datasource(
        name="federated." + stable_id("datasource", "segments").replace("-", "").lower()[:28],
        caption="CustomerSense segments", dbname=dbname, schema=SCHEMA, tables=("segments",),
        fields=_fields("segments", segments))
    return people, profiles


def sheets(people: Datasource, profiles: Datasource) -> list[Sheet]:
    """The worksheets: segment sizes and values, the classic RFM grid, frequency vs monetary."""
    seg = Use("rfm_segment")
    count = Use("customer_id", "CountD")
    out = [
        Sheet("Customers per segment", "Customers per RFM segment", people, rows=(seg,),
              cols=(count,), color=seg, text=count),
        Sheet("Revenue per segment", "Net revenue per segment (both segmentations)", profiles,
              rows=(Use("segmentation"), Use("segment")), cols=(Use("revenue", "Sum"),),
              color=Use("segmentation")),
        Sheet("RFM grid", "Classic RFM grid: recency score x frequency score", people,
              rows=(Use("r_score"),), cols=(Use("f_score"),), mark="Square", color=seg, text=count),
        Sheet("Frequency vs monetary", "Frequency vs monetary, one mark per customer", people,
              rows=(Use("monetary", "Sum"),), cols=(Use("frequency", "Sum"),), mark="Circle",
              color=seg, detail=(Use("customer_id"),)),
        Sheet("Engagement by segment", "Mean engagement score per RFM segment", people,
              rows=(seg,), cols=(Use("engagement_score", "Avg"),), color=seg),
        Sheet("Recency by segment", "Median recency (days) per RFM segment", people,
              rows=(seg,), cols=(Use("recency_days", "Median"),), color=seg),
    ]
    if any(f.local == "clv" for f in people.fields):
        out.append(Sheet("CLV by segment", "Customer lifetime value per RFM segment", people,
                         rows=(seg,), cols=(Use("clv", "Sum"),), color=seg))
    if any(f.local == "line_amount" for f in people.fields):
        out.append(Sheet("Revenue per month", "Net revenue per month and RFM segment", people,
                         rows=(Use("line_amount", "Sum"),), cols=(Use("purchase_date", "Month-Trunc",
                                                                       "ordinal"),),
                         mark="Line", color=seg))
    return out


def workbook(customers: pa.Schema, segments: pa.Schema, transactions: pa.Schema | None, dbname: str,
             caption: str) -> bytes:
    """The .twb bytes over an extract with these table schemas at ``dbname`` (``transactions``
    None: an extract without them)."""
    people, profiles = datasources(customers, segments, transactions, dbname)
    return workbook_xml((people, profiles), sheets(people, profiles), DASHBOARD,
                        "CustomerSense: customer segments", caption)


def package_twbx(path: Path, twb: bytes, extract: Path) -> None:
    """The packaged workbook: the .twb at the root, then the extract at ``TWBX_EXTRACT``."""
    # The extract deflates at level 1: on the embedded data 0.5 s for 8.5 -> 4.0 MB, where level 6
    # takes 1.5 s for 3.7 MB.
    with zipfile.ZipFile(path, "w") as zf:
        for name, read, level in ((TWB_FILE, lambda: twb, 9), (TWBX_EXTRACT, extract.read_bytes, 1)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, read(), compresslevel=level)


def write_tableau(result, folder: Path, transactions_parquet: Path | None) -> dict:
    """Write ``customersense.hyper``, ``.twb`` and ``.twbx`` into ``folder``.

    ``transactions_parquet``: the transactions with their segments, one Parquet file or a folder of
    parts (``transactions_with_segments.parquet``); None where they were not written (the files
    then hold customers and segments only). Returns ``{"files": [paths], "rows": {table: rows}}``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    customers = _frame_table(result.customers)
    segments = _frame_table(result.profiles)
    tx_path = Path(transactions_parquet) if transactions_parquet is not None else None
    dataset = _transactions(tx_path) if tx_path is not None else None
    hyper = folder / HYPER_FILE
    write_extract(hyper, customers, segments, tx_path)
    _plain_mode(hyper)
    schemas = (customers.schema, segments.schema, dataset.schema if dataset is not None else None)
    twb = folder / TWB_FILE
    twb.write_bytes(workbook(*schemas, HYPER_FILE, result.caption))
    twbx = folder / TWBX_FILE
    package_twbx(twbx, workbook(*schemas, TWBX_EXTRACT, result.caption), hyper)
    rows = {"customers": customers.num_rows, "segments": segments.num_rows}
    if dataset is not None:
        rows["transactions"] = dataset.count_rows()
    return {"files": [hyper, twb, twbx], "rows": rows}
