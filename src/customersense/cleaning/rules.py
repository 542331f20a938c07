"""The cleaning policy: every row in is either kept or dropped by exactly one named rule.

Rules apply in this order; a row is counted under the first rule it meets, so
``rows_in == rows_kept + sum(dropped.values())``:

1. ``missing_customer_id``: no customer id (the row has no owner).
2. ``missing_timestamp``: no date.
3. ``implausible_date``: before ``date_floor`` (1970-01-01) or after the run's own day (UTC): a
   typo such as 2204-05-02 never moves ``as_of``, which is found after this rule.
4. ``after_as_of``: on or after ``as_of`` (point-in-time snapshot: later rows do not exist yet).
5. ``duplicate_rows``: exact copies of an earlier row (every column equal); one copy is kept.
   By default (``drop_duplicates = "auto"``) only when the data has order ids: without them
   (daily data such as CDNOW) identical rows are separate purchases on the same day.
6. ``non_product_code``: postage, fees, discounts, vouchers... (configurable codes and patterns).
7. ``missing_amount``: no amount (or no quantity / unit price to compute it).
8. ``implausible_amount``: an amount, quantity or unit price that is NaN, infinite or larger
   than ``max_abs_amount`` (1e12) in size.
9. ``zero_quantity``: quantity 0.
10. ``non_positive_price``: unit price < 0, or 0 when zero-value rows are dropped; can be
    switched off (``drop_non_positive_price = false``) to keep free items as purchases.
11. ``zero_value``: amount 0 in data without unit prices, only with ``zero_value = "drop"``
    (``"auto"`` keeps them there as purchases: CDNOW's published cohort counts its free CDs).
12. ``returns_ignored``: return lines, only when the policy says ``returns = "ignore"``.
13. ``orphan_returns``: return lines of a customer with no purchase kept: a return never
    creates a customer on its own.

Return lines (the markers of ``data/returns.toml`` that the data supports, see returns.py)
that survive are kept with a negative ``line_amount``: they are netted against the customer's
revenue and never counted as purchases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis

from .. import schema as S
from ..config import CleaningPolicy
from ..engine.base import Engine
from ..errors import DataError
from .plausible import PlausibleBounds, drops_zero_value, examples, plausible_bounds, zero_value_policy
from .returns import decide_markers

PRE_DUPLICATE_RULES = ("missing_customer_id", "missing_timestamp", "implausible_date", "after_as_of")
POST_DUPLICATE_RULES = (
    "non_product_code", "missing_amount", "implausible_amount", "zero_quantity", "non_positive_price",
    "zero_value", "returns_ignored",
)
RULES = (*PRE_DUPLICATE_RULES, "duplicate_rows", *POST_DUPLICATE_RULES, "orphan_returns")

# Columns the cleaning stage adds to the standard ones.
IS_RETURN = "is_return"
LINE_AMOUNT = "line_amount"
PURCHASE_DATE = "purchase_date"
ORDER_KEY = "order_key"


@dataclass(frozen=True)
class CleaningReport:
    rows_in: int
    rows_kept: int
    purchase_lines: int
    return_lines: int
    customers: int
    as_of: dt.date
    as_of_source: str
    dropped: dict[str, int]
    duplicates_removed: bool = True
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    returns: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    plausible: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_dropped": sum(self.dropped.values()),
            "dropped": self.dropped,
            "kept": {"purchase_lines": self.purchase_lines, "return_lines": self.return_lines},
            "customers": self.customers,
            "as_of": self.as_of.isoformat(),
            "as_of_source": self.as_of_source,
            "duplicates_removed": self.duplicates_removed,
            "rules_in_order": list(RULES),
            "examples": self.examples,
            "return_markers": self.returns,
            "plausible": self.plausible,
        }


@dataclass(frozen=True)
class CleanTransactions:
    """Kept rows: standard columns plus is_return, line_amount, purchase_date, order_key.

    ``table`` holds exactly the kept rows. ``purchases_and_returns`` is the same before the
    orphan-returns rule: per-customer features read only purchasers and their returns, so orphan
    returns never reach them, and skipping that anti-join makes the feature stage cheaper.
    """

    table: ibis.Table
    report: CleaningReport
    has_order_id: bool
    purchases_and_returns: ibis.Table


def clean(engine: Engine, tx: ibis.Table, policy: CleaningPolicy, source: str = "input") -> CleanTransactions:
    """Apply the cleaning policy to standard-column transactions, in the engine.

    Three queries: the labelled rows are materialised once, then one scan counts them per
    rule (and finds the last date), and one group-by per customer finds buyers and orphans.
    """
    cols = [c for c in tx.columns if c != S.ROW_ID]  # the data; ROW_ID: where a row came in
    dedupe = policy.drop_duplicates if policy.drop_duplicates != "auto" else S.ORDER_ID in cols
    if dedupe:
        # Copies of a row are one row, placed where its first copy came in.
        first = {S.ROW_ID: tx[S.ROW_ID].min()} if S.ROW_ID in tx.columns else {}
        rows = tx.group_by(cols).aggregate(_n=tx.count(), **first)
    else:
        rows = tx.mutate(_n=ibis.literal(1, "int64"))
    markers = decide_markers(tx, policy.cancel_prefix)
    is_return = markers.flag(rows)
    bounds = plausible_bounds(policy)
    # The default as_of (the day after the last date) is later than every row: the after_as_of
    # rule cannot apply, so the last date is found while counting, not in a pass of its own.
    rows = rows.mutate(
        _reason=_first_reason(rows, policy.as_of, policy, is_return, bounds),
        **{IS_RETURN: is_return},
    )
    rows = engine.materialize(rows, "labelled")
    kept = rows.filter(rows._reason.isnull())
    grouped, last = _count_labels(rows)
    as_of = policy.as_of or _day_after(last, grouped, source)
    buyers = kept.filter(~kept[IS_RETURN]).select(S.CUSTOMER_ID).distinct()
    customers, orphans = _buyers_and_orphans(kept)
    report = _report(grouped, orphans, as_of, "option" if policy.as_of else "day after the last transaction", dedupe)
    zero = zero_value_policy(policy, S.UNIT_PRICE in cols,
                             sum(g["zero"] or 0 for g in grouped if g["_reason"] is None and not g[IS_RETURN]))
    report = dataclasses.replace(report, returns=markers.report, examples=examples(rows, report.dropped),
                                 plausible={**bounds.to_dict(), "zero_value": zero})
    if report.rows_kept == 0:
        raise DataError(
            f"{source}: no rows left after cleaning ({report.rows_in:,} rows in; dropped: "
            f"{_summary(report.dropped)}); check --as-of, the column mapping and the cleaning policy"
        )
    report = dataclasses.replace(report, customers=customers)
    # A left join, not NOT IN: engines plan NOT IN (null-aware) as a nested loop.
    marked = kept.left_join(buyers.mutate(_buyer=ibis.literal(True)), S.CUSTOMER_ID)
    table = marked.filter(~marked[IS_RETURN] | marked._buyer.notnull()).select(*kept.columns)
    has_order_id = S.ORDER_ID in cols
    return CleanTransactions(
        table=_with_derived(table, cols, has_order_id),
        report=report,
        has_order_id=has_order_id,
        purchases_and_returns=_with_derived(kept, cols, has_order_id),
    )


def _day_after(last: dt.datetime | None, grouped: list[dict], source: str) -> dt.date:
    if last is None:
        n = sum(g["rows"] for g in grouped)
        if n == 0:
            raise DataError(f"{source}: no data rows (a header alone?); export the transactions with their rows")
        dropped = _summary(_report(grouped, 0, dt.date.min, "", False).dropped)
        raise DataError(f"{source}: no row has a plausible date ({n:,} rows; dropped: {dropped}); "
                        "check the timestamp column")
    return last.date() + dt.timedelta(days=1)


def _count_labels(rows: ibis.Table) -> tuple[list[dict], dt.datetime | None]:
    """Rows and distinct rows per (rule, is_return), and the last plausible date of any row."""
    grouped = (
        rows.group_by(["_reason", IS_RETURN])
        .aggregate(rows=rows._n.sum(), unique=rows.count(), last=rows[S.TIMESTAMP].max(),
                   zero=(rows[S.AMOUNT] == 0).fill_null(False).cast("int64").sum())
        .to_pyarrow()
        .to_pylist()
    )
    dates = [g["last"] for g in grouped if g["last"] is not None and g["_reason"] != "implausible_date"]
    return grouped, max(dates) if dates else None


def _buyers_and_orphans(kept: ibis.Table) -> tuple[int, int]:
    """Customers with a kept purchase, and kept return lines of customers with none."""
    per = kept.group_by(S.CUSTOMER_ID).aggregate(
        buys=(~kept[IS_RETURN]).cast("int64").sum(), returns=kept[IS_RETURN].cast("int64").sum()
    )
    got = per.aggregate(
        customers=(per.buys > 0).cast("int64").sum(),
        orphans=ibis.ifelse(per.buys > 0, 0, per.returns).sum(),
    ).to_pyarrow().to_pylist()[0]
    return got["customers"] or 0, got["orphans"] or 0


def _with_derived(kept: ibis.Table, cols: list[str], has_order_id: bool) -> ibis.Table:
    return kept.select(
        *cols,
        *([S.ROW_ID] if S.ROW_ID in kept.columns else []),
        **{
            IS_RETURN: kept[IS_RETURN],
            LINE_AMOUNT: ibis.ifelse(kept[IS_RETURN], -kept[S.AMOUNT].abs(), kept[S.AMOUNT].abs()),
            PURCHASE_DATE: kept[S.TIMESTAMP].date(),
            ORDER_KEY: _order_key(kept, has_order_id),
        },
    )


def _first_reason(t: ibis.Table, as_of: dt.date | None, policy: CleaningPolicy, is_return,
                  bounds: PlausibleBounds) -> ibis.Value:
    """The first rule a row meets (NULL when it is kept), excluding duplicates and orphans;
    no row is after ``as_of`` when it is None (the day after the last date)."""
    conds: list[tuple[ibis.Value, str]] = [
        (t[S.CUSTOMER_ID].isnull(), "missing_customer_id"),
        (t[S.TIMESTAMP].isnull(), "missing_timestamp"),
        (bounds.implausible_date(t), "implausible_date"),
    ]
    if as_of is not None:
        limit = ibis.literal(dt.datetime.combine(as_of, dt.time()), "timestamp")
        conds.append((t[S.TIMESTAMP] >= limit, "after_as_of"))
    if S.PRODUCT_ID in t.columns:
        code = t[S.PRODUCT_ID].upper()
        hit = code.isin([c.strip().upper() for c in policy.non_product_codes]) if policy.non_product_codes else None
        for pattern in policy.non_product_patterns:
            match = t[S.PRODUCT_ID].re_search(f"(?i){pattern}")
            hit = match if hit is None else hit | match
        if hit is not None:
            conds.append((hit.fill_null(False), "non_product_code"))
    conds.append((t[S.AMOUNT].isnull(), "missing_amount"))
    conds.append((bounds.implausible_amount(t), "implausible_amount"))
    if S.QUANTITY in t.columns:
        conds.append((t[S.QUANTITY] == 0, "zero_quantity"))
    drop_zero = drops_zero_value(policy, S.UNIT_PRICE in t.columns)
    if S.UNIT_PRICE in t.columns:
        price = t[S.UNIT_PRICE]
        if policy.drop_non_positive_price:
            conds.append(((price < 0) | (price == 0) if drop_zero else price < 0, "non_positive_price"))
        elif drop_zero:
            conds.append((price == 0, "non_positive_price"))
    elif drop_zero:
        conds.append((t[S.AMOUNT] == 0, "zero_value"))
    if policy.returns == "ignore":
        conds.append((is_return, "returns_ignored"))
    return ibis.cases(*[(c.fill_null(False), label) for c, label in conds], else_=ibis.null("string"))


def _order_key(t: ibis.Table, has_order_id: bool) -> ibis.Value:
    """Distinct orders by order id; distinct purchase days when there is none."""
    day = t[S.TIMESTAMP].date().cast("string")
    if has_order_id:
        return t[S.ORDER_ID].fill_null(day)
    return day


def _report(grouped: list[dict], orphans: int, as_of: dt.date, as_of_source: str, dedupe: bool) -> CleaningReport:
    """``grouped`` from :func:`_count_labels`; ``orphans``: distinct kept return rows of
    customers with no kept purchase (their copies count as duplicates, like any row's)."""
    dropped = dict.fromkeys(RULES, 0)
    purchase_lines = return_lines = 0
    for g in grouped:
        reason, n, unique = g["_reason"], g["rows"], g["unique"]
        if reason in PRE_DUPLICATE_RULES:
            dropped[reason] += n
            continue
        dropped["duplicate_rows"] += n - unique
        if reason is not None:
            dropped[reason] += unique
        elif g[IS_RETURN]:
            return_lines += unique
        else:
            purchase_lines += unique
    dropped["orphan_returns"] = orphans
    return_lines -= orphans
    rows_in = sum(g["rows"] for g in grouped)
    kept = purchase_lines + return_lines
    return CleaningReport(
        rows_in=rows_in, rows_kept=kept, purchase_lines=purchase_lines, return_lines=return_lines,
        customers=0, as_of=as_of, as_of_source=as_of_source, dropped=dropped,
        duplicates_removed=dedupe,
    )


def _summary(dropped: dict[str, int]) -> str:
    parts = [f"{rule} {n:,}" for rule, n in dropped.items() if n]
    return ", ".join(parts) or "nothing"
