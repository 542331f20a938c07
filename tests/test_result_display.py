"""The run result in a notebook: a short repr and a rich HTML display, read back by an HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

import pyarrow.parquet as pq
import pytest

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("display")
    table, _ = planted_transactions(n_customers=300, seed=3)
    pq.write_table(table, root / "tx.parquet")
    return run(load_config(None, {"input": {"source": str(root / "tx.parquet"), "currency": "EUR"},
                                  "output": {"dir": str(root / "out"), "plots": False},
                                  "validation": {"enabled": False}}))


class _Cells(HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None


def _rows(html: str) -> dict[str, list[str]]:
    parser = _Cells()
    parser.feed(html)
    return {r[0]: r[1:] for r in parser.rows if r}


def test_repr_is_one_short_line(result):
    text = repr(result)
    assert "\n" not in text and len(text) < 300
    assert f"{len(result.customers):,} customers" in text and "EUR" in text and "tx.parquet" in text


def test_rich_display_shows_facts_and_both_segment_tables(result):
    page = result._repr_html_()
    facts, rfm, learned = (_rows(part) for part in page.split("<h4>"))
    rows = facts
    assert rows["customers"] == [f"{len(result.customers):,}"]
    assert rows["as of"] == [result.as_of.isoformat()] and rows["currency"] == ["EUR"]
    # read back from the written customer table, not from the result's frame
    written = pd.read_parquet(Path(result.config.output.dir) / "customer_segments.parquet")
    assert rows["customers"] == [f"{len(written):,}"]
    assert rows["net revenue"] == [f"{written['monetary'].sum():,.2f} EUR"]
    if "clv" in written.columns:
        # the segments' CLV totals added up (each to the cent) against the customers' own: within 1 of the currency
        shown, currency = rows["CLV total"][0].rsplit(" ", 1)
        assert currency == "EUR" and abs(float(shown.replace(",", "")) - written["clv"].sum()) <= 1.0
    # each segment's row: customers counted independently from the customers table
    for column, table in (("rfm_segment", rfm), ("segment", learned)):
        counts = result.customers[column].astype(str).value_counts()
        assert {name: int(row[0]) for name, row in table.items() if name != "segment"} == counts.to_dict()


def test_rich_display_escapes_text(result, monkeypatch):
    monkeypatch.setattr(result, "notes", ["<script>alert(1)</script>"])
    page = result._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_figures_show_inline(result, monkeypatch):
    # the report's panels, kept on the result: each one a plotly figure that a notebook renders
    # (JupyterLab's renderer: the plotly MIME type, holding the figure's own data)
    import plotly.io as pio

    assert {"segments", "rfm_grid", "k_selection"} <= set(result.figures)
    monkeypatch.setattr(pio.renderers, "default", "plotly_mimetype")
    bundle = result.figures["segments"]._repr_mimebundle_()
    shown = bundle["application/vnd.plotly.v1+json"]["data"]
    counts = result.customers["segment"].astype(str).value_counts()
    drawn = {t["name"]: sum(t["y"]) for t in shown}
    assert drawn == counts.to_dict()
    assert 'result.figures["rfm_grid"]' in result._repr_html_()
