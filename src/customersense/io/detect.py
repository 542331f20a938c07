"""Find the standard columns in a user's file by name and by content, and say why.

Each column name is scored against the rules of ``data/columns.toml`` (an exact known name, or
words that suggest the column, made stronger or ruled out by other words); a sample of each
candidate's values must then look right (identifiers present, dates that are dates, numbers that
are numbers). The best candidate wins; the report lists it, its score and evidence, and every
candidate it was preferred to, with the reason. One content rule looks past the names: a
customer column with exactly one value per order (Olist's ``customer_id``) loses to one that
repeats across orders (``customer_unique_id``), because a customer who never comes back twice
is an order, not a customer.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

import ibis

from .. import schema as S
from ..errors import ConfigError, SchemaError
from .dates import DATE_SHAPE

_SAMPLE = 20000
_NUMBER_TEXT = r"^\s*[+-]?[$£€¥]?\s*\d[\d.,]*\s*[$£€¥]?\s*$"
_EXACT, _TOKEN, _PREFER, _WITH = 100, 60, 15, 5


@dataclass(frozen=True)
class Rule:
    exact: tuple[str, ...]
    tokens: frozenset[str]
    prefer: frozenset[str]
    with_: frozenset[str]
    avoid: frozenset[str]
    content: str


@lru_cache(maxsize=1)
def rules() -> dict[str, Rule]:
    data = tomllib.loads(files(__package__).joinpath("data", "columns.toml").read_text(encoding="utf-8"))
    return {std: Rule(tuple(r.get("exact", ())), frozenset(r.get("tokens", ())), frozenset(r.get("prefer", ())),
                      frozenset(r.get("with", ())), frozenset(r.get("avoid", ())), r["content"])
            for std, r in data.items()}


def words(name: str) -> list[str]:
    """'order_purchase_timestamp' -> order, purchase, timestamp; 'CustomerID' -> customer, id."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", str(name)))
    return [w for w in re.split(r"[^0-9a-z]+", spaced.lower()) if w]


def name_score(std: str, column: str) -> tuple[int, str] | None:
    """The name's score for ``std`` and why, or None when the name says nothing (or rules it out)."""
    rule = rules()[std]
    norm = S.normalise(column)
    if norm in rule.exact or norm == S.normalise(std):
        rank = rule.exact.index(norm) if norm in rule.exact else 0
        return _EXACT - min(rank, 20), f"known name {norm!r}"
    ws = set(words(column))
    hit = sorted(ws & rule.tokens)
    if not hit:
        return None
    avoided = sorted(ws & rule.avoid)
    if avoided:
        return None
    prefer, with_ = sorted(ws & rule.prefer), sorted(ws & rule.with_)
    score = _TOKEN + _PREFER * len(prefer) + _WITH * len(with_)
    return score, "words " + ", ".join(hit + prefer + with_)


def rejected_by_name(std: str, column: str) -> str | None:
    """Why a name that suggests ``std`` is ruled out (an avoided word), for the report."""
    ws = set(words(column))
    rule = rules()[std]
    if ws & rule.tokens and ws & rule.avoid:
        return f"the word {sorted(ws & rule.avoid)[0]!r} rules it out"
    return None


def detect_columns(raw: ibis.Table, explicit: Mapping[str, str], source: str) -> tuple[dict[str, str], dict]:
    """``({standard: source column}, report)``: explicit ``--map`` entries first, then the best
    candidate by name and content for each other standard column."""
    columns = [c for c in raw.columns if c != S.ROW_ID]
    _check_explicit(columns, explicit, source)
    candidates = {std: {c: s for c in columns if c not in explicit.values() and (s := name_score(std, c))}
                  for std in S.STANDARD_COLUMNS if std not in explicit}
    stats = _content(raw, sorted({c for cs in candidates.values() for c in cs}, key=columns.index))
    report: dict[str, Any] = {std: {"column": col, "evidence": "--map"} for std, col in explicit.items()}
    rejected: dict[str, list[dict]] = {std: [] for std in candidates}
    pairs = []
    for std, cs in candidates.items():
        for col, (score, why) in cs.items():
            problem = _content_problem(rules()[std].content, stats[col], raw[col].type())
            if problem and score < _EXACT - 20:  # words alone: the values must agree
                rejected[std].append({"column": col, "why_not": problem})
                continue
            if problem:  # a known name keeps its claim, below any candidate whose values agree; the
                score, why = score - _EXACT // 2, f"{why} but {problem}"  # reader then names the bad rows
            pairs.append((score, -columns.index(col), std, col, why))
    mapping = dict(explicit)
    for score, _, std, col, why in sorted(pairs, reverse=True):
        if std in mapping or col in mapping.values():
            if std not in explicit and std in mapping and mapping[std] != col:
                rejected[std].append({"column": col, "score": score, "why_not": f"scored lower ({why})"})
            continue
        mapping[std] = col
        report[std] = {"column": col, "score": score, "evidence": f"{why}; {stats[col]['summary']}"}
    _one_value_per_order(raw, mapping, report, rejected, pairs)
    for std, items in rejected.items():
        named_out = [{"column": c, "why_not": why} for c in columns
                     if (why := rejected_by_name(std, c)) and c != mapping.get(std)]
        items = [i for i in items if i["column"] != mapping.get(std)] + named_out
        if items and std in report:
            report[std]["preferred_to"] = items
        elif items:
            report[std] = {"column": None, "candidates_refused": items}
    report = {std: report[std] for std in S.STANDARD_COLUMNS if std in report}
    check_required(mapping, source, columns, report)
    if S.AMOUNT not in mapping and S.QUANTITY not in mapping and S.UNIT_PRICE in mapping:
        report.setdefault(S.AMOUNT, {"column": None})["evidence"] = (
            f"no amount or quantity column: each row is one item, amount = {mapping[S.UNIT_PRICE]!r}")
    return mapping, report


def _check_explicit(columns: list[str], explicit: Mapping[str, str], source: str) -> None:
    found = ", ".join(repr(c) for c in columns)
    for std, col in explicit.items():
        if std not in S.STANDARD_COLUMNS:
            raise ConfigError(f"mapping {std}={col!r}: unknown standard column {std!r}; "
                              f"use one of {', '.join(S.STANDARD_COLUMNS)}")
        if col not in columns:
            raise SchemaError(f"{source}: mapped column {col!r} (for {std}) not found; columns found: {found}")


def _content(raw: ibis.Table, cols: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Per column, on the first rows: present values, distinct values, and how many look like
    dates and like numbers (text), or the range (integers)."""
    cols = list(cols)
    if not cols:
        return {}
    sample = raw.select(*cols).limit(_SAMPLE)
    aggs: dict[str, ibis.Value] = {"n": sample.count()}
    for i, c in enumerate(cols):
        v = sample[c]
        t = v.type()
        text = v.cast("string").strip()
        present = v.notnull() & (text != "") if t.is_string() else v.notnull()
        aggs[f"p{i}"] = present.sum()
        aggs[f"d{i}"] = v.nunique()
        if t.is_string():
            aggs[f"dt{i}"] = (present & text.re_search(DATE_SHAPE)).sum()
            aggs[f"nu{i}"] = (present & text.re_search(_NUMBER_TEXT)).sum()
        elif t.is_integer():
            aggs[f"lo{i}"], aggs[f"hi{i}"] = v.min(), v.max()
    got = sample.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    out = {}
    for i, c in enumerate(cols):
        s = {"rows": got["n"], "present": got[f"p{i}"] or 0, "distinct": got[f"d{i}"] or 0,
             "dates": got.get(f"dt{i}"), "numbers": got.get(f"nu{i}"), "min": got.get(f"lo{i}"),
             "max": got.get(f"hi{i}")}
        s["summary"] = f"{s['present']:,} of {s['rows']:,} sampled values present, {s['distinct']:,} distinct"
        out[c] = s
    return out


def _content_problem(kind: str, s: dict[str, Any], dtype) -> str | None:
    """Why the sampled values cannot be this kind of column, or None."""
    if s["present"] == 0:  # nothing to judge (a header alone): the reader reports the empty column
        return None
    if kind == "date":
        if dtype.is_timestamp() or dtype.is_date():
            return None
        if dtype.is_integer():
            lo, hi = s["min"], s["max"]
            if (19000101 <= lo and hi <= 21001231) or lo >= 10**8:
                return None
            return f"whole numbers {lo:,} to {hi:,} are neither YYYYMMDD dates nor epoch times"
        if dtype.is_string():
            share = s["dates"] / s["present"]
            return None if share >= 0.8 else f"only {share:.0%} of the sampled values look like dates"
        return f"a {dtype} column is not a date"
    if kind == "number":
        if dtype.is_numeric():
            return None
        if dtype.is_string():
            share = s["numbers"] / s["present"]
            return None if share >= 0.9 else f"only {share:.0%} of the sampled values are numbers"
        return f"a {dtype} column is not a number"
    return None


def _one_value_per_order(raw, mapping, report, rejected, pairs) -> None:
    """Olist's rule: a customer column with exactly one value per order is an order key in
    disguise; a candidate that repeats across orders is the customer."""
    chosen, order = mapping.get(S.CUSTOMER_ID), mapping.get(S.ORDER_ID)
    others = [(score, col, why) for score, _, std, col, why in pairs
              if std == S.CUSTOMER_ID and col != chosen and col not in mapping.values()]
    if chosen is None or order is None or not others or report[S.CUSTOMER_ID].get("evidence") == "--map":
        return
    counts = raw.aggregate(orders=raw[order].nunique(), **{f"c{i}": raw[c].nunique()
                           for i, c in enumerate([chosen, *(c for _, c, _ in others)])}).to_pyarrow().to_pylist()[0]
    orders = counts["orders"]
    if orders < 20 or counts["c0"] != orders:
        return
    fewer = [(score, col, why) for i, (score, col, why) in enumerate(others, start=1) if counts[f"c{i}"] < orders]
    if not fewer:
        return
    score, col, why = max(fewer)
    n = counts[f"c{[c for _, c, _ in others].index(col) + 1}"]
    rejected[S.CUSTOMER_ID].append({"column": chosen, "why_not": f"one value per order ({orders:,} values, "
                                    f"{orders:,} orders): an order key, not a customer"})
    mapping[S.CUSTOMER_ID] = col
    report[S.CUSTOMER_ID] = {"column": col, "score": score,
                             "evidence": f"{why}; {n:,} customers across {orders:,} orders"}


def check_required(mapping: Mapping[str, str], source: str, columns: list[str], report: Mapping) -> None:
    """A customer, a date and an amount (or quantity and price, or a price alone) must be found."""
    found = ", ".join(repr(c) for c in columns)
    for std in (S.CUSTOMER_ID, S.TIMESTAMP):
        if std not in mapping:
            refused = report.get(std, {}).get("candidates_refused", [])
            why = "; ".join(f"{r['column']!r}: {r['why_not']}" for r in refused[:2])
            raise SchemaError(
                f"{source}: no {std} column (looked for {', '.join(rules()[std].exact[:5])}, ...)"
                + (f"; refused {why}" if why else "")
                + f"; columns found: {found}; name it with --map {std}=COLUMN"
            )
    if S.AMOUNT not in mapping and S.UNIT_PRICE not in mapping:
        raise SchemaError(
            f"{source}: no amount column and no quantity + unit_price pair to compute it; "
            f"columns found: {found}; name them with --map amount=COLUMN "
            f"or --map quantity=COLUMN --map unit_price=COLUMN"
        )
