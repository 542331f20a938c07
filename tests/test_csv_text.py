"""The fast CSV writer gives the bytes of ``DataFrame.to_csv(path, index=False)``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from customersense.reporting.csv_text import _kinds, write_csv

TRICKY_FLOATS = [0.0, -0.0, 1.0, 1069.23, 1e-5, 1e-4, 0.00012345, 1e15, 1e16, 1.5e16, 1e22, 5e-324,
                 123456789012345680.0, float("inf"), -float("inf"), float("nan"), 2.5, 100.0, 1 / 3]
TRICKY_TEXT = ["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " spaced ", "naïve €", "x;y", "'q'",
               None, "end,", "\"", "tab\there", "12", "True", "nan", "NA", "a\r\nb"]


def tricky_frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    floats = rng.random(n) * 10.0 ** rng.integers(-8, 20, n) * rng.choice([-1, 1], n)
    floats[: len(TRICKY_FLOATS)] = TRICKY_FLOATS
    floats[rng.random(n) < 0.05] = np.nan
    text = [TRICKY_TEXT[i % len(TRICKY_TEXT)] for i in range(n)]
    return pd.DataFrame({
        "customer_id": pd.array([f"C{i}" for i in range(n)], dtype="string"),
        "money": np.round(floats, 6),
        "raw": floats,
        "count": rng.integers(-5, 10**12, n),
        "score": rng.integers(1, 6, n).astype("int8"),
        "flag": rng.random(n) < 0.5,
        "reason": pd.array(text, dtype="string"),
        "note": pd.Series(text, dtype=object),
        "with, comma": rng.random(n),
    })


def test_same_bytes_as_pandas(tmp_path):
    frame = tricky_frame()
    assert _kinds(frame) is not None  # the fast path, not pandas
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_other_types_and_shapes_fall_back_to_pandas(tmp_path):
    seed = 3
    frames = [
        tricky_frame(50).assign(day=pd.Timestamp("2020-01-01"), cat=pd.Categorical(["a"] * 50),
                                nullable=pd.array([1, None] * 25, dtype="Int64"), f32=np.float32(0.1)),
        pd.DataFrame({"only": ["", "a", None]}),
        pd.DataFrame({"a": [1.5], "b": [[1, 2]]}),
        tricky_frame().iloc[:0],
        pd.concat([tricky_frame(30, seed), tricky_frame(40, seed + 1)], ignore_index=True),  # chunked text
    ]
    for i, frame in enumerate(frames):
        write_csv(frame, tmp_path / f"fast{i}.csv")
        frame.to_csv(tmp_path / f"pandas{i}.csv", index=False)
        assert (tmp_path / f"fast{i}.csv").read_bytes() == (tmp_path / f"pandas{i}.csv").read_bytes()


def test_floats_of_every_magnitude_match_repr(tmp_path):
    """Arrow's shortest text, put into repr's notation, is repr's text: random bit patterns
    (every exponent), money rounded to 6 places, integral values and the notation edges."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63, 100_000, dtype=np.int64).view(np.float64)
    bits = bits[np.isfinite(bits)] * rng.choice([-1.0, 1.0], len(bits[np.isfinite(bits)]))
    money = np.round(rng.lognormal(3, 3, 100_000), 6)
    whole = rng.integers(-10**17, 10**17, 20_000).astype(np.float64)
    edges = np.array([10.0 ** e * m for e in range(-8, 23) for m in (1.0, 0.999999, 1.000001, 9.999999)])
    for i, values in enumerate([bits, money, whole, edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf)]):
        frame = pd.DataFrame({"x": values, "y": values[::-1]})
        write_csv(frame, tmp_path / f"fast{i}.csv")
        frame.to_csv(tmp_path / f"pandas{i}.csv", index=False)
        assert (tmp_path / f"fast{i}.csv").read_bytes() == (tmp_path / f"pandas{i}.csv").read_bytes(), i
