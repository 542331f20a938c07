"""Hand-computed cleaning counts and features on a small Online Retail-style log."""

import datetime as dt
import math

import pytest

from customersense.cleaning import RULES, clean
from customersense.config import CleaningPolicy
from customersense.features import customer_features

from ..conftest import std_table

AS_OF = dt.date(2020, 1, 10)
ROWS = [
    # Invoice, StockCode, Quantity, InvoiceDate, Price, Customer ID, Country
    ("1001", "A", "2", "2020-01-01 10:00:00", "5.0", "c1", "UK"),     # purchase 10
    ("1001", "A", "2", "2020-01-01 10:00:00", "5.0", "c1", "UK"),     # exact duplicate
    ("1001", "P2", "1", "2020-01-01 10:00:00", "3.0", "c1", "UK"),     # purchase 3 (order 1001 = 13)
    ("1002", "A", "1", "2020-01-05 09:00:00", "5.0", "c1", "UK"),     # purchase 5
    ("C1003", "A", "-1", "2020-01-06 09:00:00", "5.0", "c1", "UK"),   # return 5
    ("1004", "POST", "1", "2020-01-06 09:00:00", "40.0", "c1", "UK"), # postage
    ("1005", "A", "1", "2020-01-07 09:00:00", "0.0", "c2", "UK"),     # zero price
    ("1006", "A", "3", "2020-01-03 09:00:00", "2.0", "c2", "UK"),     # purchase 6
    ("1007", "A", "1", "2020-01-04 09:00:00", "2.0", None, "UK"),     # no customer
    ("C1008", "A", "-2", "2020-01-04 09:00:00", "2.0", "c3", "UK"),   # return without purchase
    ("1009", "A", "1", "2020-02-01 09:00:00", "2.0", "c2", "UK"),     # after as_of
    ("1010", "A", "1", "2020-01-09 23:59:00", "4.0", "c4", "UK"),     # purchase 4
    ("1011", "gift_0001_10", "1", "2020-01-09 12:00:00", "10.0", "c4", "UK"),  # voucher
]


@pytest.fixture
def cleaned(engine):
    return clean(engine, std_table(ROWS, engine=engine), CleaningPolicy(as_of=AS_OF))


def test_every_row_is_counted_once(cleaned):
    rep = cleaned.report
    assert rep.rows_in == 13
    assert rep.dropped == {
        **dict.fromkeys(RULES, 0),
        "missing_customer_id": 1,
        "after_as_of": 1,
        "duplicate_rows": 1,
        "non_product_code": 2,
        "non_positive_price": 1,
        "orphan_returns": 1,
    }
    assert (rep.purchase_lines, rep.return_lines, rep.customers) == (5, 1, 3)
    assert rep.rows_in == rep.rows_kept + sum(rep.dropped.values())


def test_default_as_of_is_the_day_after_the_last_transaction(engine):
    rep = clean(engine, std_table(ROWS, engine=engine), CleaningPolicy()).report
    assert rep.as_of == dt.date(2020, 2, 2)
    assert rep.dropped["after_as_of"] == 0


def test_returns_can_be_ignored(engine):
    rep = clean(engine, std_table(ROWS, engine=engine), CleaningPolicy(as_of=AS_OF, returns="ignore")).report
    assert rep.dropped["returns_ignored"] == 2  # c1's return and c3's return
    assert rep.dropped["orphan_returns"] == 0
    assert rep.return_lines == 0


def test_duplicates_can_be_kept(engine):
    rep = clean(engine, std_table(ROWS, engine=engine), CleaningPolicy(as_of=AS_OF, drop_duplicates=False)).report
    assert rep.dropped["duplicate_rows"] == 0
    assert rep.purchase_lines == 6


def test_hand_computed_features(cleaned):
    f = customer_features(cleaned.table, AS_OF).to_pandas().set_index("customer_id")
    assert list(f.index) == ["c1", "c2", "c4"]
    c1, c2, c4 = f.loc["c1"], f.loc["c2"], f.loc["c4"]
    # c1: orders 1001 (13.0 on 01-01) and 1002 (5.0 on 01-05), one return of 5.0
    assert c1.frequency == 2
    assert c1.gross_revenue == 18.0 and c1.returns_value == 5.0 and c1.monetary == 13.0
    assert c1.avg_order_value == 9.0
    assert c1.order_value_std == pytest.approx(math.sqrt(32), abs=1e-6)
    assert (c1.recency_days, c1.tenure_days) == (5, 9)
    assert c1.mean_interpurchase_days == 4.0
    assert c1.return_rate == pytest.approx(5 / 18, abs=1e-6)
    # c2: one order of 6.0 on 01-03
    assert (c2.frequency, c2.monetary, c2.order_value_std, c2.recency_days, c2.tenure_days) == (1, 6.0, 0.0, 7, 7)
    assert math.isnan(c2.mean_interpurchase_days)
    # c4: bought at 23:59 the day before as_of: one calendar day
    assert (c4.recency_days, c4.tenure_days, c4.monetary) == (1, 1, 4.0)
    # engagement: percent ranks of -recency (c2 0, c1 .5, c4 1), frequency (0, 1, 0), monetary (c4 0, c2 .5, c1 1)
    assert c1.engagement_score == pytest.approx(100 * (0.4 * 0.5 + 0.3 + 0.3))
    assert c2.engagement_score == pytest.approx(100 * (0.3 * 0.5))
    assert c4.engagement_score == pytest.approx(100 * 0.4)


def test_frequency_counts_purchase_days_without_order_ids(engine):
    rows = [
        ("a", "2020-01-01 09:00:00", "10"),
        ("a", "2020-01-01 17:00:00", "5"),   # same day: one purchase day
        ("a", "2020-01-03 00:00:00", "-4"),  # a return (negative amount)
        ("a", "2020-01-04 00:01:00", "7"),
        ("b", "2020-01-02 23:59:00", "3"),
    ]
    t = std_table(rows, ["customer_id", "timestamp", "amount"], engine=engine)
    cleaned = clean(engine, t, CleaningPolicy())
    f = customer_features(cleaned.table, cleaned.report.as_of).to_pandas().set_index("customer_id")
    assert cleaned.report.as_of == dt.date(2020, 1, 5)
    assert f.loc["a", "frequency"] == 2
    assert f.loc["a", "monetary"] == 18.0
    assert f.loc["a", "avg_order_value"] == 11.0
    assert f.loc["a", "mean_interpurchase_days"] == 3.0
    assert f.loc["b", "recency_days"] == 3


def test_past_as_of_ignores_later_rows(engine):
    early = clean(engine, std_table(ROWS, engine=engine), CleaningPolicy(as_of=dt.date(2020, 1, 5)))
    f = customer_features(early.table, dt.date(2020, 1, 5)).to_pandas().set_index("customer_id")
    assert list(f.index) == ["c1", "c2"]  # c4 bought only on 01-09
    assert f.loc["c1", "frequency"] == 1 and f.loc["c1", "monetary"] == 13.0
    assert early.report.dropped["after_as_of"] == 7
