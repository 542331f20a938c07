"""Return lines from evidence, not from a prefix: the markers of ``data/returns.toml``, each
applied only where the data supports it, each counted in the cleaning report.

The order-id marker of the Online Retail family (``C`` followed by digits) is applied only when
the other order ids are digits only (95% or more): Superstore's ``CA-2019-131807`` or customer
codes such as ``C0001`` are never cancellations. Negative quantities and amounts are returns on
any data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import ibis

from .. import schema as S

_FILE = files(__package__).joinpath("data", "returns.toml")


def _load() -> tuple[dict[str, Any], ...]:
    markers = tomllib.loads(_FILE.read_text(encoding="utf-8"))["markers"]
    for m in markers:
        if m.get("column") not in S.STANDARD_COLUMNS or ("pattern" in m) == bool(m.get("negative")):
            raise ValueError(f"cleaning/data/returns.toml: marker {m.get('name')!r} needs a standard column "
                             "and either a pattern or negative = true")
    return tuple(markers)


MARKERS = _load()


@dataclass(frozen=True)
class ReturnMarkers:
    """The markers decided for one data set: ``flag(table)`` marks return lines of any table
    with the standard columns; ``report`` is what the cleaning report says about each."""

    applied: tuple[dict[str, Any], ...]
    report: dict[str, dict[str, Any]]

    def flag(self, t: ibis.Table) -> ibis.Value:
        out = ibis.literal(False)
        for m in self.applied:
            out |= _matches(t, m).fill_null(False)
        return out


def _matches(t: ibis.Table, marker: dict[str, Any]) -> ibis.Value:
    col = t[marker["column"]]
    if marker.get("negative"):
        return col < 0
    if "prefix" in marker:
        return col.startswith(marker["prefix"])
    return col.re_search(marker["pattern"])


def _markers(cancel_prefix: str) -> list[dict[str, Any]]:
    """The markers of the file, with the order-id ones replaced as ``cancel_prefix`` says."""
    if cancel_prefix == "auto":
        return list(MARKERS)
    kept = [m for m in MARKERS if m["column"] != S.ORDER_ID]
    if cancel_prefix:
        kept.insert(0, {"name": "cancel_prefix", "column": S.ORDER_ID, "prefix": cancel_prefix,
                        "what": f"order id starting with {cancel_prefix!r} (cleaning.cancel_prefix)"})
    return kept


def decide_markers(tx: ibis.Table, cancel_prefix: str) -> ReturnMarkers:
    """One pass over ``tx``: the rows each marker matches, and the support of those that ask for it."""
    markers = [m for m in _markers(cancel_prefix) if m["column"] in tx.columns]
    aggs: dict[str, ibis.Value] = {}
    for i, m in enumerate(markers):
        hit = _matches(tx, m).fill_null(False)
        aggs[f"m{i}"] = hit.cast("int64").sum()
        if "support_pattern" in m:
            col = tx[m["column"]]
            other = col.notnull() & (col != "") & ~hit
            aggs[f"o{i}"] = other.cast("int64").sum()
            aggs[f"s{i}"] = (other & col.re_search(m["support_pattern"]).fill_null(False)).cast("int64").sum()
    got = tx.aggregate(**aggs).to_pyarrow().to_pylist()[0] if aggs else {}
    applied, report = [], {}
    for i, m in enumerate(markers):
        rows = got[f"m{i}"] or 0
        use, evidence = _support(m, rows, got.get(f"o{i}") or 0, got.get(f"s{i}") or 0)
        if use:
            applied.append(m)
        report[m["name"]] = {"what": m["what"], "applied": use, "evidence": evidence, "rows_matched": rows}
    return ReturnMarkers(applied=tuple(applied), report=report)


def _support(m: dict[str, Any], rows: int, others: int, supporting: int) -> tuple[bool, str]:
    if "support_pattern" not in m:
        how = "set by cleaning.cancel_prefix" if "prefix" in m else "a return on any data"
        return True, f"applied: {how}"
    need = m["support_share"]
    if not rows:
        return False, "not applied: no value matches"
    if not others:
        return False, f"not applied: every value matches {m['pattern']}, so the pattern marks nothing apart"
    share = supporting / others
    verdict = ">=" if share >= need else "<"
    return share >= need, (f"{'applied' if share >= need else 'not applied'}: {share:.1%} of the other "
                           f"{others:,} values match {m['support_pattern']} ({verdict} {need:.0%})")


def summary(report: dict[str, dict[str, Any]]) -> str:
    """``cancelled_order_id 3,012, negative_quantity 3,120`` for the printed line; a marker that
    matched rows but was not applied says why."""
    parts = [f"{name} {r['rows_matched']:,}" + ("" if r["applied"] else f" ({r['evidence']})")
             for name, r in report.items() if r["rows_matched"]]
    return ", ".join(parts) or "none matched"
