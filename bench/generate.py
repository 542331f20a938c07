"""Seeded synthetic transactions shaped like the Online Retail family, for benchmarks.

Columns (types as in a typical Parquet export of Online Retail II, with a real timestamp):

    Invoice      string     6-digit invoice number; ~2% of invoices are cancellations ("C489437")
    StockCode    string     product code ("85048", "79323P"); ~0.5% non-product codes (POST, M, DOT ...)
    Quantity     int64      pack sizes; negative on cancellation invoices
    InvoiceDate  timestamp  increasing over two years (2009-12-01 .. 2011-12-09), minute precision
    Price        double     lognormal per product, a few discounted lines and ~0.2% zero prices
    Customer ID  double     ~2% of invoices have no customer (NULL), as in guest checkouts
    Country      string     one country per customer, ~88% United Kingdom

Realism that matters for the benchmark: customers are chosen per invoice with Pareto weights
(a few customers have thousands of invoices, most have one or two, some none), lines per
invoice are geometric (mean 10), and ~1% of lines are exact duplicates of the line before.

Memory stays bounded: rows are produced and written in chunks (one Parquet row group each).

    python bench/generate.py --rows 10000000            # bench/data/synthetic_10000000.parquet
    python bench/generate.py --rows 1000000 --csv       # also write the same rows as CSV
    python bench/generate.py --rows 50000000 --shape issue5   # ~5M customers: ..._issue5.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).resolve().parent / "data"
CHUNK_ROWS = 1_000_000
MEAN_LINES = 10            # lines per invoice (geometric)
CANCEL_RATE = 0.02         # share of invoices that are cancellations
NULL_CUSTOMER_RATE = 0.02  # share of invoices without a customer id
NON_PRODUCT_RATE = 0.005   # share of lines with a non-product stock code
DUPLICATE_RATE = 0.01      # share of lines followed by an exact copy
ZERO_PRICE_RATE = 0.002    # share of lines with price 0
PARETO_ALPHA = 1.5         # customer weight tail (smaller = heavier)
FIRST_INVOICE = 489_434
START = np.datetime64("2009-12-01T07:00", "s")
SPAN_S = int((np.datetime64("2011-12-09T20:00", "s") - START).astype(np.int64))

NON_PRODUCT = {  # code: (relative frequency, median price)
    "POST": (0.50, 18.0), "M": (0.20, 5.0), "DOT": (0.15, 150.0), "C2": (0.05, 50.0),
    "BANK CHARGES": (0.03, 15.0), "AMAZONFEE": (0.02, 200.0), "ADJUST": (0.02, 30.0),
    "gift_0001_20": (0.03, 17.0),
}
COUNTRIES = {
    "United Kingdom": 0.88, "EIRE": 0.02, "Germany": 0.017, "France": 0.012, "Netherlands": 0.006,
    "Spain": 0.005, "Switzerland": 0.005, "Portugal": 0.005, "Belgium": 0.005, "Sweden": 0.004,
    "Italy": 0.004, "Australia": 0.004, "Norway": 0.004, "Denmark": 0.004, "USA": 0.004,
    "Japan": 0.004, "Canada": 0.004, "Poland": 0.004, "Channel Islands": 0.003, "Cyprus": 0.003,
}
PACK_SIZES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 100, 144, 288])
PACK_WEIGHTS = np.array([30, 14, 6, 5, 3, 10, 3, 4, 12, 2, 2, 5, 2, 1, 1.5, 0.8, 0.6, 0.5, 0.4, 0.2])

SCHEMA = pa.schema([
    ("Invoice", pa.string()), ("StockCode", pa.string()), ("Quantity", pa.int64()),
    ("InvoiceDate", pa.timestamp("us")), ("Price", pa.float64()),
    ("Customer ID", pa.float64()), ("Country", pa.string()),
])


# Shapes: "retail" is shaped like Online Retail II (about 1 customer per 21 lines);
# "issue5" has the proportions of the scale issue, 1 customer per 10 lines (1M customers in
# 10M rows, 5M in 50M): 3 lines per invoice, a customer pool of 0.13 x rows.
SHAPES = {"retail": (MEAN_LINES, 0.1), "issue5": (3.0, 0.13)}


def default_path(rows: int, shape: str = "retail") -> Path:
    suffix = "" if shape == "retail" else f"_{shape}"
    return DATA_DIR / f"synthetic_{rows}{suffix}.parquet"


def warm_page_cache(path: Path) -> None:
    """Read the file once so that no benchmark run pays for the first read from disk."""
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """Draw n indices from the distribution given by its cumulative weights."""
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _cdf(weights: np.ndarray) -> np.ndarray:
    c = np.cumsum(weights, dtype=np.float64)
    return c / c[-1]


class Universe:
    """What stays fixed across chunks: the product catalogue and the customers."""

    def __init__(self, rng: np.random.Generator, customers: int, products: int = 5000) -> None:
        numbers = rng.choice(np.arange(10_000, 100_000), size=products, replace=False)
        suffix = np.where(rng.random(products) < 0.15, rng.choice(list("ABCDELNPRSW"), products), "")
        self.codes = pa.array(np.char.add(numbers.astype(str), suffix).tolist(), pa.string())
        self.product_cdf = _cdf(1.0 / np.arange(1, products + 1) ** 0.8)  # Zipf-like popularity
        self.base_price = np.round(rng.lognormal(np.log(2.5), 0.8, products), 2).clip(0.01)
        self.customer_cdf = _cdf(rng.pareto(PARETO_ALPHA, customers) + 1.0)
        self.customer_ids = np.arange(12_346, 12_346 + customers, dtype=np.float64)
        names = list(COUNTRIES)
        self.countries = pa.array(names, pa.string())
        self.country_cdf = _cdf(np.array([COUNTRIES[c] for c in names]))
        self.customer_country = _pick(rng, self.country_cdf, customers)
        self.np_codes = pa.array(list(NON_PRODUCT), pa.string())
        self.np_cdf = _cdf(np.array([f for f, _ in NON_PRODUCT.values()]))
        self.np_price = np.array([p for _, p in NON_PRODUCT.values()])


def make_chunk(rng: np.random.Generator, u: Universe, rows: int, first_row: int, total_rows: int,
               first_invoice: int, mean_lines: float = MEAN_LINES) -> tuple[pa.Table, int]:
    """``rows`` lines; returns the table and the number of invoices it used."""
    # Invoices and their lines: geometric line counts, the last invoice cut at the chunk end.
    n_inv = int(rows / mean_lines * 1.3) + 16
    lines = rng.geometric(1.0 / mean_lines, n_inv)
    while lines.sum() < rows:
        lines = np.concatenate([lines, rng.geometric(1.0 / mean_lines, n_inv)])
    starts = np.cumsum(lines) - lines
    n_inv = int(np.searchsorted(starts, rows, side="left"))
    lines, starts = lines[:n_inv], starts[:n_inv]

    cancel = rng.random(n_inv) < CANCEL_RATE
    cust = _pick(rng, u.customer_cdf, n_inv)
    no_cust = rng.random(n_inv) < NULL_CUSTOMER_RATE
    # A cancellation mostly belongs to the customer of a recent invoice (it cancels a purchase).
    back = np.maximum(np.flatnonzero(cancel) - rng.geometric(1 / 20, int(cancel.sum())), 0)
    cust[cancel], no_cust[cancel] = cust[back], no_cust[back]
    country = np.where(no_cust, _pick(rng, u.country_cdf, n_inv), u.customer_country[cust])
    # Dates follow the row position over the whole file, so they increase with the invoice number.
    frac = (first_row + starts) / total_rows
    secs = (frac * SPAN_S).astype(np.int64) // 60 * 60
    inv_ts = (START.astype(np.int64) + secs) * 1_000_000
    numbers = pc.cast(pa.array(np.arange(first_invoice, first_invoice + n_inv)), pa.string())
    invoice = pc.if_else(pa.array(cancel), pc.binary_join_element_wise("C", numbers, ""), numbers)

    # Line attributes, drawn once per line; then ~1% of lines are followed by an exact copy.
    inv_of_line = np.repeat(np.arange(n_inv), lines)[:rows]
    product = _pick(rng, u.product_cdf, rows)
    qty = PACK_SIZES[_pick(rng, _cdf(PACK_WEIGHTS), rows)]
    price = u.base_price[product]
    price = np.where(rng.random(rows) < 0.1, np.round(price * 0.85, 2).clip(0.01), price)
    price = np.where(rng.random(rows) < ZERO_PRICE_RATE, 0.0, price)
    codes = u.codes.take(pa.array(product))
    non_product = rng.random(rows) < NON_PRODUCT_RATE
    which = _pick(rng, u.np_cdf, rows)
    codes = pc.if_else(pa.array(non_product), u.np_codes.take(pa.array(which)), codes)
    price = np.where(non_product, np.round(u.np_price[which] * rng.lognormal(0.0, 0.5, rows), 2), price)
    qty = np.where(non_product, 1, qty)
    qty = np.where(cancel[inv_of_line], -qty, qty)

    idx = np.repeat(np.arange(rows), 1 + (rng.random(rows) < DUPLICATE_RATE))[:rows]
    inv = inv_of_line[idx]
    table = pa.table({
        "Invoice": invoice.take(pa.array(inv)),
        "StockCode": codes.take(pa.array(idx)),
        "Quantity": pa.array(qty[idx], pa.int64()),
        "InvoiceDate": pa.array(inv_ts[inv], pa.timestamp("us")),
        "Price": pa.array(price[idx], pa.float64()),
        "Customer ID": pa.array(u.customer_ids[cust][inv], pa.float64(), mask=no_cust[inv]),
        "Country": u.countries.take(pa.array(country[inv])),
    }, schema=SCHEMA)
    return table, n_inv


def generate(rows: int, customers: int, seed: int, out: Path, csv: bool = False,
             chunk_rows: int = CHUNK_ROWS, mean_lines: float = MEAN_LINES) -> None:
    """Write ``rows`` lines to ``out`` (Parquet, one row group per chunk) and optionally CSV."""
    rng = np.random.default_rng(seed)
    u = Universe(rng, customers)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    csv_path = out.with_suffix(".csv")
    csv_tmp = csv_path.with_name(csv_path.name + ".tmp")
    writer = pq.ParquetWriter(tmp, SCHEMA, compression="snappy")
    csv_writer = pacsv.CSVWriter(csv_tmp, SCHEMA) if csv else None
    done, invoice = 0, FIRST_INVOICE
    try:
        while done < rows:
            n = min(chunk_rows, rows - done)
            table, used = make_chunk(rng, u, n, done, rows, invoice, mean_lines)
            writer.write_table(table, row_group_size=n)
            if csv_writer is not None:
                csv_writer.write_table(table)
            done += n
            invoice += used
            print(f"\r  {done:,}/{rows:,} rows", end="", file=sys.stderr, flush=True)
    finally:
        writer.close()
        if csv_writer is not None:
            csv_writer.close()
    print(file=sys.stderr)
    tmp.replace(out)  # only a complete file gets the final name
    if csv:
        csv_tmp.replace(csv_path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--shape", choices=list(SHAPES), default="retail",
                    help="retail: 10 lines per invoice, pool rows/10 (about rows/21 customers buy); "
                    "issue5: 3 lines per invoice, pool 0.13 x rows (about rows/10 customers buy)")
    ap.add_argument("--customers", type=int, default=None, help="customer pool (default: by shape)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--out", type=Path, default=None, help="default bench/data/synthetic_<rows>.parquet")
    ap.add_argument("--csv", action="store_true", help="also write <out>.csv with the same rows")
    ap.add_argument("--force", action="store_true", help="overwrite an existing file")
    args = ap.parse_args(argv)
    out = args.out or default_path(args.rows, args.shape)
    mean_lines, pool = SHAPES[args.shape]
    customers = args.customers or max(1, int(args.rows * pool))
    need_csv = args.csv and not out.with_suffix(".csv").exists()
    if out.exists() and not args.force and not need_csv:
        print(f"{out} exists; pass --force to regenerate", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    generate(args.rows, customers, args.seed, out, csv=args.csv, mean_lines=mean_lines)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
