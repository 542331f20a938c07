"""The run as one Excel workbook: Summary, Customers, Segment profiles, Model selection, Validation,
Cleaning (the last three when the run has them). It copies the run's tables; it computes nothing
(the headline totals come from :mod:`customersense.profiles.totals`).

Excel holds at most 1,048,576 rows per sheet, and a sheet near that size is slow to open, filter
and sort (982,139 customers: a 134 MB file): the Customers sheet takes the first
``output.workbook_max_rows`` customers (default 100,000; at most :data:`MAX_DATA_ROWS`) in
customer order, and the Summary says how many are left out (customer_segments.parquet has them
all).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ...profiles.totals import customer_totals
from ...result import RunResult
from ... import schema
from .cells import arrow_kind
from .xlsx import Rows, Sheet, Table, write_xlsx

MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows per sheet, less the header
SUMMARY_COLUMNS = ("segment", "customers", "share", "revenue", "revenue_share", "clv_total",
                   "strategy", "retention", "pricing", "campaigns")
_MONEY_SUFFIXES = ("revenue", "_clv", "clv_total", "expected_spend")
_SEGMENTATIONS = (("rfm", "Classic RFM segments"), ("learned", "Learned segments"))


def is_money(name: str) -> bool:
    """Amounts in the run's currency: schema.MONEY_COLUMNS and any other revenue / CLV / spend total."""
    return schema.is_money(name) or name.endswith(_MONEY_SUFFIXES)


def is_share(name: str) -> bool:
    """Fractions shown as percentages: shares and return rates."""
    return name == "share" or name.endswith(("_share", "return_rate"))


def money_format(currency: str | None) -> str:
    """``#,##0.00 "GBP"``; without a currency, ``#,##0.00``."""
    code = "".join(ch for ch in (currency or "") if ch not in '"\\')
    return f'#,##0.00 "{code}"' if code else "#,##0.00"


def write_workbook(result: RunResult, path: Path) -> dict[str, Any]:
    """Write ``result`` as one .xlsx at ``path``; returns what was written (sheets, rows, bytes)."""
    path = Path(path)
    customers = result.customers
    cap = customer_rows(result.config.output.workbook_max_rows)
    shown = customers if len(customers) <= cap else customers.iloc[:cap]
    left_out = len(customers) - len(shown)
    extra = len(result.currency) + 1 if result.currency else 0
    sheets = [
        _summary(result, left_out, extra),
        _table_sheet("Customers", shown, extra),
        _table_sheet("Segment profiles", result.profiles, extra),
    ]
    if result.learned is not None:
        sheets.append(_table_sheet("Model selection", result.learned.model.selection_, extra))
    if result.validation is not None:
        sheets.append(_validation(result.validation.to_dict()))
    sheets.append(_cleaning(result.cleaning.to_dict()))
    stamp = dt.datetime.combine(result.as_of, dt.time())
    write_xlsx(path, sheets, stamp=stamp, title=result.caption, money_format=money_format(result.currency))
    return {
        "path": str(path),
        "sheets": [s.name for s in sheets],
        "customer_rows": len(shown),
        "customers_left_out": left_out,
        "bytes": path.stat().st_size,
    }


def customer_rows(limit: int) -> int:
    """The Customers sheet's size for ``output.workbook_max_rows`` (-1: as many as Excel holds)."""
    return MAX_DATA_ROWS if limit < 0 else min(limit, MAX_DATA_ROWS)


def table(frame: pd.DataFrame, money_extra: int = 0) -> Table:
    """A frame as a typed table: each column by its values' type, money and shares by name."""
    arrays, kinds = [], []
    for name in frame.columns:
        values = _arrow(frame[name])
        arrays.append(values)
        kinds.append(arrow_kind(values, is_money(str(name)), is_share(str(name))))
    data = pa.table(arrays, names=[str(c) for c in frame.columns])
    return Table(data, kinds, money_extra=money_extra)


def _arrow(column: pd.Series) -> pa.Array:
    try:
        values = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed objects: their text
        values = pa.array(column.astype("string"), from_pandas=True)
    return values.dictionary_decode() if pa.types.is_dictionary(values.type) else values  # categoricals


def _table_sheet(name: str, frame: pd.DataFrame, money_extra: int) -> Sheet:
    return Sheet(name, [table(frame, money_extra)], freeze_rows=1, filter_block=0)


def _summary(result: RunResult, left_out: int, money_extra: int) -> Sheet:
    totals = customer_totals(result.customers, result.customer_table)
    facts = [
        [("Run", "section")],
        ["Dataset", result.dataset],
        ["As of", result.as_of],
        ["Currency", result.currency or "not set (input.currency)"],
        ["Customers", totals["customers"]],
        ["Net revenue", (totals["net_revenue"], "money")],
        ["Orders", totals["orders"]],
    ]
    blocks: list[Rows | Table] = [Rows([[(f"Customer segments · {result.caption}", "title")], []], widen=False),
                                  Rows(facts)]
    profiles = result.profiles
    for key, heading in _SEGMENTATIONS:
        rows = profiles[profiles["segmentation"] == key] if "segmentation" in profiles else profiles.iloc[:0]
        if len(rows):
            blocks += [Rows([[], [(heading, "section")]], widen=False),
                       table(rows[[c for c in SUMMARY_COLUMNS if c in rows]].reset_index(drop=True), money_extra)]
    blocks.append(Rows([[], [("Notes", "section")], *([(note, "note")] for note in _notes(result, left_out))],
                       widen=False))
    return Sheet("Summary", blocks, freeze_rows=1)


def _notes(result: RunResult, left_out: int) -> list[str]:
    notes = []
    if left_out:
        shown = len(result.customers) - left_out
        why = ("Excel's row limit" if shown == MAX_DATA_ROWS else
               "output.workbook_max_rows; --workbook-max-rows -1 writes as many as Excel holds")
        notes.append(f"The Customers sheet holds the first {shown:,} customers in customer order: {left_out:,} more "
                     f"are left out ({why}); customer_segments.parquet has them all.")
    if result.customer_table is not None:
        notes.append(f"At scale: the Customers sheet holds the sample of {len(result.customers):,} customers the "
                     "models were fitted on; the run facts and the segment tables cover every customer; "
                     "customer_segments.parquet has every customer.")
    if result.validation is not None:
        notes.append(f"Validation: {result.validation.verdict()}.")
    return [*notes, *result.notes] or ["None."]


def _facts_sheet(name: str, facts: list[list[Any]], tables: list[Table], footer: list[str]) -> Sheet:
    """Facts (label, value) under a header row, then tables (the first one filtered), then notes."""
    blocks: list[Rows | Table] = [Rows([[(name, "header"), ("Value", "header")], *facts])]
    first = None
    for t in tables:
        blocks.append(Rows([[]]))
        first = len(blocks) if first is None else first
        blocks.append(t)
    if footer:
        blocks.append(Rows([[], *([(line, "note")] for line in footer)], widen=False))
    return Sheet(name, blocks, freeze_rows=1, filter_block=first)


def _validation(v: dict[str, Any]) -> Sheet:
    sil = v["silhouette"]
    facts = [
        ["Verdict", v["verdict"]],
        ["Significant", v["significant"]],
        ["p-value", v["p_value"]],
        ["Segments (k)", v["k"]],
        ["Gap statistic", v["gap"]],
        ["Gap statistic's k", v["k_gap"]],
        ["Mean adjusted Rand index", v["mean_ari"]],
        ["Silhouette", sil["value"]],
        ["Customers", v["n_customers"]],
        ["Customers used", v["n_used"]],
        ["Sampled", v["sampled"]],
        ["Unstable below (Jaccard)", v["thresholds"]["unstable_below"]],
        ["Stable above (Jaccard)", v["thresholds"]["stable_above"]],
        ["Significance level", v["thresholds"]["alpha"]],
    ]
    names = v["segment_names"] or [f"cluster {i}" for i in range(v["k"])]
    stability = pd.DataFrame({"segment": names, "jaccard": v["jaccard"], "jaccard_std": v["jaccard_std"],
                              "stability": v["stability"]})
    gap = pd.DataFrame({"k": v["gap_k"], "gap": v["gap"], "gap_se": v["gap_se"]})
    footer = [f"{key}: {text}" for key, text in v["methods"].items()]
    return _facts_sheet("Validation", [[label, value] for label, value in facts], [table(stability), table(gap)], footer)


def _cleaning(c: dict[str, Any]) -> Sheet:
    facts = [
        ["Rows in", c["rows_in"]],
        ["Rows kept", c["rows_kept"]],
        ["Rows dropped", c["rows_dropped"]],
        ["Purchase lines kept", c["kept"]["purchase_lines"]],
        ["Return lines kept", c["kept"]["return_lines"]],
        ["Customers", c["customers"]],
        ["As of", dt.date.fromisoformat(c["as_of"])],
        ["As of from", c["as_of_source"]],
        ["Duplicates removed", c["duplicates_removed"]],
    ]
    rules = pd.DataFrame({"rule": c["rules_in_order"],
                          "rows_dropped": [int(c["dropped"].get(rule, 0)) for rule in c["rules_in_order"]]})
    return _facts_sheet("Cleaning", facts, [table(rules)], ["Each row is dropped by the first rule it fails, "
                                                            "in the order above."])
