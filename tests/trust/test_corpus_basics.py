"""Corpus cases that already hold: the harness itself is checked here (see conftest.py)."""

import pytest

from customersense.errors import EXIT_DATA, EXIT_INPUT

from .conftest import GOOD_CSV


@pytest.mark.parametrize(
    "files, args, code, fragment",
    [
        ({}, ["missing.csv"], EXIT_INPUT, "file not found: missing.csv"),
        ({"x.json": "{}"}, ["x.json"], EXIT_INPUT, "unsupported format '.json'"),
        ({"x.csv": "who,when,much\na,2021-01-01,1\n"}, ["x.csv"], EXIT_DATA, "columns found: 'who', 'when', 'much'"),
        ({"x.csv": GOOD_CSV}, ["x.csv", "--as-of", "2020-01-01"], EXIT_DATA, "no rows left after cleaning"),
    ],
)
def test_case(fails, files, args, code, fragment):
    fails(files, args, code, fragment)


def test_good_file_runs(run_ok):
    out = run_ok({"good.csv": GOOD_CSV}, ["good.csv"])
    assert (out / "customer_segments.parquet").exists()
