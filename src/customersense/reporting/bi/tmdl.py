"""The Power BI semantic model in TMDL: tables typed from the files a run wrote, read in Power Query M.

Each table is one file of the output folder. Its columns, and their types, are read from the file
itself (the Parquet schema; for a CSV, what Arrow infers from it), so the model matches what is on
disk. Power Query reads the file from ``OutputFolder & "\\<file>"``: ``OutputFolder`` is the
model's one text parameter, the absolute output folder when the project was written.

Types: Arrow integers -> ``int64`` (M ``Int64.Type``), floats and decimals -> ``double``
(``type number``), strings -> ``string`` (``type text``), booleans -> ``boolean`` (``type logical``),
dates -> ``dateTime`` (``type date``), timestamps -> ``dateTime`` (``type datetime``; with a time
zone ``type datetimezone``). A CSV's integer columns are typed ``double``: the house CSV writes an
integral double without a decimal point, so one run's inference cannot promise integers. Money
columns (:data:`customersense.schema.MONEY_COLUMNS`) get a currency format string.

Every ``lineageTag`` and relationship name is a uuid5 of the object's name: the same tables give
byte-identical files.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ...schema import is_money

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/customersense/powerbi")
PARAMETER = "OutputFolder"
MEASURE_TABLE = "customers"
KEY = "customer_id"
COMPATIBILITY_LEVEL = 1600

# Columns shown as a percentage, and the additive ones a visual sums by default (the others: none).
_PERCENT = frozenset({"share", "revenue_share", "return_rate", "p_alive", "churn_probability", "return_order_share"})
_ADDITIVE = frozenset({
    "frequency", "customers", "anomalies", "quantity",  # counts
    "monetary", "gross_revenue", "returns_value", "expected_spend", "clv", "revenue", "clv_total",  # money totals
    "amount", "line_amount",
})
# Tables whose rows stack both segmentations (each customer counted once per segmentation): a
# visual's default sum over them would count every customer twice, so nothing is summed by default.
_STACKED = frozenset({"segments"})
_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥", "CNY": "¥", "INR": "₹"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def guid(*parts: str) -> str:
    """A GUID derived from names: the same names, the same GUID."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str   # TMDL dataType
    m_type: str      # the Power Query type the partition converts the column to
    format: str | None
    summarize_by: str


@dataclass(frozen=True)
class Table:
    name: str
    file: str
    columns: tuple[Column, ...]

    @property
    def is_csv(self) -> bool:
        return self.file.lower().endswith(".csv")

    def has(self, column: str) -> bool:
        return any(c.name == column for c in self.columns)


def read_table(name: str, path: Path, currency: str | None) -> Table:
    """The table ``name`` as the file at ``path`` holds it (Parquet, or CSV by its suffix)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"Power BI table name {name!r}: use letters, digits and _ (it names a file too)")
    if path.is_dir():
        raise ValueError(f"{path} is a folder of Parquet parts (a Spark run): the Power BI project reads single files")
    if not path.is_file():
        raise ValueError(f"{path} does not exist: the Power BI project reads the files the run wrote")
    is_csv = path.suffix.lower() == ".csv"
    schema = pa_csv.read_csv(path).schema if is_csv else pq.read_schema(path)
    seen: set[str] = set()
    columns = []
    for field in schema:
        if field.name.lower() in seen:  # Power BI column names are case-insensitive
            raise ValueError(f"{path.name}: two columns named {field.name!r} (Power BI ignores case)")
        seen.add(field.name.lower())
        columns.append(_column(field.name, field.type, is_csv, currency, additive=name not in _STACKED))
    return Table(name, path.name, tuple(columns))


def _column(name: str, t: pa.DataType, is_csv: bool, currency: str | None, additive: bool = True) -> Column:
    if pa.types.is_boolean(t):
        data_type, m_type = "boolean", "type logical"
    elif pa.types.is_integer(t) and not is_csv:
        data_type, m_type = "int64", "Int64.Type"
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        data_type, m_type = "double", "type number"
    elif pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        data_type, m_type = "string", "type text"
    elif pa.types.is_date(t):
        data_type, m_type = "dateTime", "type date"
    elif pa.types.is_timestamp(t):
        data_type, m_type = "dateTime", "type datetimezone" if t.tz else "type datetime"
    elif pa.types.is_null(t):  # an all-empty CSV column
        data_type, m_type = "string", "type text"
    else:
        raise ValueError(f"column {name!r}: Arrow type {t} has no Power BI column type here")
    fmt = None
    if is_money(name) and data_type == "double":
        fmt = money_format(currency)
    elif name in _PERCENT and data_type == "double":
        fmt = "0.0%"
    elif data_type == "int64":
        fmt = "0"
    elif m_type == "type date":
        fmt = "yyyy-mm-dd"
    elif data_type == "dateTime":
        fmt = "yyyy-mm-dd hh:nn:ss"
    summarize = "sum" if additive and name in _ADDITIVE and data_type in ("int64", "double") else "none"
    return Column(name, data_type, m_type, fmt, summarize)


def money_format(currency: str | None) -> str:
    """A currency format string: ``\\€#,0.00;-\\€#,0.00;\\€#,0.00``; a code without a symbol here
    follows the number (``#,0.00\\ \\C\\H\\F``); without a currency, plain ``#,0.00``."""
    if not currency:
        return "#,0.00"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol is None:
        code = "".join(f"\\{c}" for c in currency.upper())
        return f"#,0.00\\ {code};-#,0.00\\ {code};#,0.00\\ {code}"
    return f"\\{symbol}#,0.00;-\\{symbol}#,0.00;\\{symbol}#,0.00"


def name(text: str) -> str:
    """A TMDL object name: bare when it is a plain identifier, else in single quotes."""
    return text if _NAME.fullmatch(text) else "'" + text.replace("'", "''") + "'"


def dax_column(table: str, column: str) -> str:
    return "'" + table.replace("'", "''") + "'[" + column.replace("]", "]]") + "]"


def m_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def segment_column(customers: Table) -> str:
    """The segment the report shows: the learned one when the run has it, else the classic RFM one."""
    return "segment" if customers.has("segment") else "rfm_segment"


def measures(customers: Table, currency: str | None) -> list[tuple[str, str, str, str]]:
    """(name, DAX, format string, description) of the report's measures, on the customers table."""
    t = customers.name
    money = money_format(currency)
    return [
        ("Customers", f"COUNTROWS('{t}')", "#,0", "Number of customers (rows of the customers table)."),
        ("Net revenue", f"SUM({dax_column(t, 'monetary')})", money,
         "Net revenue: sum of monetary (gross revenue minus returns) over the customers in context."),
        ("Revenue share", f"DIVIDE([Net revenue], CALCULATE([Net revenue], ALL('{t}')))", "0.0%",
         "Net revenue of the customers in context over all customers' (segment_profiles' revenue_share)."),
        ("Customer share", f"DIVIDE([Customers], CALCULATE([Customers], ALL('{t}')))", "0.0%",
         "Customers in context over all customers (segment_profiles' share)."),
    ]


def relationships(tables: dict[str, Table]) -> list[tuple[str, str, str, str]]:
    """(fromTable, fromColumn, toTable, toColumn): many transactions -> one customer, by customer_id.
    The segment profiles get none: a segment name is unique only within one segmentation."""
    customers, tx = tables.get(MEASURE_TABLE), tables.get("transactions")
    if customers is None or tx is None or not (customers.has(KEY) and tx.has(KEY)):
        return []
    return [(tx.name, KEY, customers.name, KEY)]


def model_files(tables: dict[str, Table], output_folder: str, currency: str | None) -> dict[str, str]:
    """The TMDL files of ``definition/``, by path relative to it."""
    if "\n" in output_folder or "\r" in output_folder:
        raise ValueError("the output folder's path holds a line break: Power BI cannot take it as a parameter")
    files = {
        "database.tmdl": f"database\n\tcompatibilityLevel: {COMPATIBILITY_LEVEL}\n",
        "model.tmdl": _model(tables),
        "expressions.tmdl": _expressions(output_folder),
    }
    rels = relationships(tables)
    if rels:
        files["relationships.tmdl"] = "\n".join(
            f"relationship {guid('relationship', ft, fc, tt, tc)}\n"
            f"\tfromColumn: {name(ft)}.{name(fc)}\n\ttoColumn: {name(tt)}.{name(tc)}\n"
            for ft, fc, tt, tc in rels)
    for table in tables.values():
        files[f"tables/{table.name}.tmdl"] = _table(table, currency)
    return files


def _model(tables: dict[str, Table]) -> str:
    order = ", ".join(f'"{n}"' for n in [PARAMETER, *tables])
    refs = "".join(f"ref table {name(n)}\n" for n in tables)
    return ("model Model\n\tculture: en-US\n\tdefaultPowerBIDataSourceVersion: powerBI_V3\n"
            "\tsourceQueryCulture: en-US\n\tdataAccessOptions\n\t\tlegacyRedirects\n\t\treturnErrorValuesAsNull\n\n"
            f"annotation PBI_QueryOrder = [{order}]\n\nannotation __PBI_TimeIntelligenceEnabled = 0\n\n{refs}")


def _expressions(output_folder: str) -> str:
    return (
        "/// The absolute path of the folder that holds the run's outputs (customer_segments.parquet, ...),\n"
        "/// as it was when the project was written. The one thing to change after moving the folder:\n"
        "/// Home > Transform data > Edit parameters, then Refresh.\n"
        f"expression {PARAMETER} = {m_string(output_folder)} "
        'meta [IsParameterQuery=true, Type="Text", IsParameterQueryRequired=true]\n'
        f"\tlineageTag: {guid('expression', PARAMETER)}\n\n\tannotation PBI_ResultType = Text\n")


def _table(table: Table, currency: str | None) -> str:
    lines = [f"/// {table.file} in the output folder ({PARAMETER}).", f"table {name(table.name)}",
             f"\tlineageTag: {guid('table', table.name)}", ""]
    if table.name == MEASURE_TABLE:
        for m_name, dax, fmt, description in measures(table, currency):
            lines += [f"\t/// {description}", f"\tmeasure {name(m_name)} = {dax}", f"\t\tformatString: {fmt}",
                      f"\t\tlineageTag: {guid('measure', table.name, m_name)}", ""]
    for c in table.columns:
        lines += [f"\tcolumn {name(c.name)}", f"\t\tdataType: {c.data_type}"]
        if c.format:
            lines.append(f"\t\tformatString: {c.format}")
        lines += [f"\t\tlineageTag: {guid('column', table.name, c.name)}", f"\t\tsummarizeBy: {c.summarize_by}",
                  f"\t\tsourceColumn: {c.name}", "", "\t\tannotation SummarizationSetBy = Automatic", ""]
    lines += [f"\tpartition {name(table.name)} = m", "\t\tmode: import", "\t\tsource ="]
    lines += [f"\t\t\t\t{line}" for line in partition_m(table)]
    lines += ["", "\tannotation PBI_ResultType = Table", ""]
    return "\n".join(lines)


def partition_m(table: Table) -> list[str]:
    """The Power Query M that reads the table's file, typed column by column."""
    path = f"{PARAMETER} & {m_string(chr(92) + table.file)}"
    if table.is_csv:
        read = [f"Source = Csv.Document(File.Contents({path}), "
                "[Delimiter = \",\", Encoding = 65001, QuoteStyle = QuoteStyle.Csv]),",
                "Headers = Table.PromoteHeaders(Source, [PromoteAllScalars = true]),"]
        step, culture = "Headers", ', "en-US"'
    else:
        read = [f"Source = Parquet.Document(File.Contents({path})),"]
        step, culture = "Source", ""
    types = [f"{{{m_string(c.name)}, {c.m_type}}}" for c in table.columns]
    typed = [f"Typed = Table.TransformColumnTypes({step}, {{"]
    typed += [f"    {t}," for t in types[:-1]] + [f"    {types[-1]}", f"}}{culture})"]
    return ["let", *(f"    {line}" for line in read + typed), "in", "    Typed"]
