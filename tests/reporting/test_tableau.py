"""Tableau files of a real (planted) run: the .twb validates against Tableau's published 2026.1 XSD;
every table, column and field it names exists in the written .hyper with a compatible type; the
extract holds the run's rows and amounts; the .twbx packs exactly the workbook and the extract at
the path the workbook names; two writes give the same workbook and package.

Nothing here opens the files in Tableau (there is no Tableau on the test machine)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pantab
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from lxml import etree
from tableauhyperapi import Connection, HyperProcess, Telemetry

from customersense.config import load_config
from customersense.datasets.synthetic import planted_transactions
from customersense.pipeline import run
from customersense.reporting.bi import TABLEAU_FILES, write_tableau
from customersense.reporting.bi.tableau import (
    TWBX_EXTRACT, _fields, package_twbx, tableau_datatype, transaction_batches, workbook,
    write_extract,
)

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas" / "tableau"
XS = "{http://www.w3.org/2001/XMLSchema}"
# Hyper column type -> the Tableau datatype a workbook may declare for it
COMPATIBLE = {"TEXT": "string", "BIG_INT": "integer", "INT": "integer", "SMALL_INT": "integer",
              "DOUBLE": "real", "BOOL": "boolean", "DATE": "date", "TIMESTAMP": "datetime",
              "TIMESTAMP_TZ": "datetime"}
FIELD_REF = re.compile(r"\[([^\]]+)\]\.\[([a-z]+):(.+?):([a-z]{2})\]")


@pytest.fixture(scope="module")
def twb_schema() -> etree.XMLSchema:
    """The vendored XSD with its two location-less imports pointed at local stubs."""
    tree = etree.parse(str(SCHEMAS / "twb_2026.1.0.xsd"))
    stubs = {"http://www.tableausoftware.com/xml/user": "user_stub.xsd",
             "http://www.w3.org/XML/1998/namespace": "xml_stub.xsd"}
    for imp in tree.getroot().iter(XS + "import"):
        imp.set("schemaLocation", (SCHEMAS / stubs[imp.get("namespace")]).as_uri())
    return etree.XMLSchema(tree)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tableau")
    table, _ = planted_transactions(n_customers=400, seed=7)
    pq.write_table(table, tmp / "tx.parquet")
    result = run(load_config(None, {"input": {"source": str(tmp / "tx.parquet"), "currency": "EUR"},
                                    "output": {"dir": str(tmp / "out"), "dashboards": False},
                                    "validation": {"enabled": False}}))
    tx = tmp / "out" / "transactions_with_segments.parquet"
    first = write_tableau(result, tmp / "first", tx)
    second = write_tableau(result, tmp / "second", tx)
    return result, tx, first, second


def _hyper_types(path: Path) -> dict[str, dict[str, str]]:
    """{table: {column: Hyper type name}} of every table in the file's Extract schema."""
    out: dict[str, dict[str, str]] = {}
    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_config": ""}) as hp, \
            Connection(hp.endpoint, str(path)) as conn:
        for name in conn.catalog.get_table_names("Extract"):
            definition = conn.catalog.get_table_definition(name)
            out[name.name.unescaped] = {c.name.unescaped: str(c.type.tag).split(".")[-1]
                                        for c in definition.columns}
    return out


def _tables(path: Path) -> dict[str, pa.Table]:
    return {name: t for (_, name), t in pantab.frames_from_hyper(path, return_type="pyarrow").items()}


def test_the_files_written(planted):
    result, tx, first, _ = planted
    assert [p.name for p in first["files"]] == list(TABLEAU_FILES)
    assert all(p.stat().st_size > 0 for p in first["files"])
    # the extract has the mode of the files Python writes (Hyper creates it 0640)
    assert len({p.stat().st_mode & 0o777 for p in first["files"]}) == 1
    assert first["rows"] == {"customers": len(result.customers), "segments": len(result.profiles),
                             "transactions": pq.read_metadata(tx).num_rows}


def test_the_workbook_validates_against_the_published_schema(planted, twb_schema):
    _, _, first, _ = planted
    with zipfile.ZipFile(first["files"][2]) as zf:
        packed = zf.read("customersense.twb")
    for doc in (etree.parse(str(first["files"][1])), etree.fromstring(packed).getroottree()):
        valid = twb_schema.validate(doc)
        assert valid, "\n".join(f"{e.line}: {e.message}" for e in twb_schema.error_log)
    assert doc.getroot().get("version") == "26.1"


def test_the_schema_check_is_not_vacuous(planted, twb_schema):
    """A planted mistake (an unknown mark class, an element out of place) is rejected."""
    text = planted[2]["files"][1].read_text(encoding="utf-8")
    for bad in (text.replace('<mark class="Bar"/>', '<mark class="Bars"/>', 1),
                text.replace("<table>", "<table><rows/>", 1)):
        assert not twb_schema.validate(etree.fromstring(bad.encode()).getroottree())


def _reference_problems(root, types: dict[str, dict[str, str]]) -> list[str]:
    """What a workbook names that the extract does not hold (or holds with another type)."""
    problems: list[str] = []
    fields: dict[str, dict[str, str]] = {}  # datasource -> local name -> Tableau datatype
    for ds in root.find("datasources"):
        for rel in ds.iter("relation"):
            if rel.get("type") == "table" and (rel.get("name") not in types or
                                               rel.get("table") != f"[Extract].[{rel.get('name')}]"):
                problems.append(f"relation {rel.get('table')}")
        local = {}
        for rec in ds.iter("metadata-record"):
            table, column = rec.findtext("parent-name")[1:-1], rec.findtext("remote-name")
            hyper_type = types.get(table, {}).get(column)
            if hyper_type is None or COMPATIBLE[hyper_type] != rec.findtext("local-type"):
                problems.append(f"column {table}.{column} ({rec.findtext('local-type')} vs {hyper_type})")
            local[rec.findtext("local-name")[1:-1]] = (table, column, rec.findtext("local-type"))
        for m in ds.find("connection/cols"):
            if local.get(m.get("key")[1:-1], (None, None))[:2] != tuple(m.get("value")[1:-1].split("].[")):
                problems.append(f"map {m.get('key')}")
        for col in ds.findall("column"):
            if local.get(col.get("name")[1:-1], (0, 0, None))[2] != col.get("datatype"):
                problems.append(f"datasource column {col.get('name')}")
        fields[ds.get("name")] = {name: t for name, (_, _, t) in local.items()}
        for rel in ds.iter("relationship"):
            ends = [e.get("op")[1:-1] for e in rel.find("expression")]
            if [local.get(e, (None, None))[:2] for e in ends] != [("customers", "customer_id"),
                                                                  ("transactions", "customer_id")]:
                problems.append(f"relationship {ends}")
    for sheet in root.find("worksheets"):
        view = sheet.find("table/view")
        known = fields[view.find("datasources/datasource").get("name")]
        declared = {ci.get("name") for ci in view.iter("column-instance")}
        for col in view.iter("column"):
            if known.get(col.get("name")[1:-1]) != col.get("datatype"):
                problems.append(f"{sheet.get('name')}: column {col.get('name')}")
        for ci in view.iter("column-instance"):
            numeric = known.get(ci.get("column")[1:-1]) in ("integer", "real")
            if ci.get("derivation") in ("Sum", "Avg", "Median") and not numeric:
                problems.append(f"{sheet.get('name')}: {ci.get('name')} aggregates a non-number")
        shelves = [sheet.findtext("table/rows"), sheet.findtext("table/cols")]
        encodings = sheet.find("table/panes/pane/encodings")
        shelves += [e.get("column") for e in (encodings if encodings is not None else ())]
        for m in (m for s in shelves for m in FIELD_REF.finditer(s or "")):
            if m.group(1) not in fields or m.group(3) not in fields[m.group(1)] or \
                    f"[{m.group(2)}:{m.group(3)}:{m.group(4)}]" not in declared:
                problems.append(f"{sheet.get('name')}: {m.group(0)}")
    return problems


def test_every_reference_exists_in_the_extract_with_a_compatible_type(planted):
    result, _, first, _ = planted
    hyper, twb = first["files"][:2]
    types = _hyper_types(hyper)
    text = twb.read_text(encoding="utf-8")
    root = etree.fromstring(text.encode())
    assert _reference_problems(root, types) == []
    for ds in root.find("datasources"):
        conn = ds.find("connection/named-connections/named-connection/connection")
        assert (conn.get("class"), conn.get("dbname"), conn.get("schema")) == \
            ("hyper", "customersense.hyper", "Extract")
    assert len(root.find("datasources")) == 2 and len(list(root.iter("relationship"))) == 1
    # the check is not vacuous: planted mistakes are found
    planted_mistakes = {
        "<remote-name>monetary</remote-name>": "<remote-name>monetary_eur</remote-name>",
        "<local-type>real</local-type>": "<local-type>string</local-type>",
        ":engagement_score:qk]</cols>": ":engagement:qk]</cols>",
        "[Extract].[segments]": "[Extract].[profiles]",
    }
    for old, new in planted_mistakes.items():
        assert old in text
        assert _reference_problems(etree.fromstring(text.replace(old, new, 1).encode()), types), new
    sheets = root.find("worksheets")
    names = {s.get("name") for s in sheets}
    assert {"Customers per segment", "Revenue per segment", "RFM grid", "Frequency vs monetary",
            "Engagement by segment", "Recency by segment", "CLV by segment"} <= names
    for node in [*sheets, root.find("dashboards/dashboard")]:
        assert result.caption in "".join(node.find("layout-options/title").itertext())
    dashboard = root.find("dashboards/dashboard")
    assert {z.get("name") for z in dashboard.iter("zone") if z.get("name")} == names
    grid = next(s for s in sheets if s.get("name") == "RFM grid")
    assert ":r_score:ok]" in grid.findtext("table/rows") and ":f_score:ok]" in grid.findtext("table/cols")
    assert ":rfm_segment:" in grid.find("table/panes/pane/encodings/color").get("column")
    # the transactions table is reached through the relationship: a sheet sums its line amounts
    assert "[sum:line_amount:qk]" in text


def test_the_extract_holds_the_runs_rows_and_amounts(planted):
    result, tx, first, _ = planted
    tables = _tables(first["files"][0])
    source = pq.read_table(tx)
    assert tables["customers"].num_rows == len(result.customers) == 400
    assert tables["transactions"].num_rows == source.num_rows
    assert tables["segments"].num_rows == len(result.profiles)
    for got, want in ((pc.sum(tables["customers"]["monetary"]).as_py(), result.customers["monetary"].sum()),
                      (pc.sum(tables["transactions"]["line_amount"]).as_py(),
                       pc.sum(source["line_amount"]).as_py())):
        assert got == pytest.approx(want, rel=1e-9)
    for column in ("purchase_date", "timestamp"):  # exact round trip of every value
        assert tables["transactions"][column].type == source[column].type
        assert sorted(tables["transactions"][column].to_pylist()) == sorted(source[column].to_pylist())
    # row order is Hyper's: compare as sets keyed by customer / (segmentation, segment)
    assert sorted(tables["customers"]["customer_id"].to_pylist()) == sorted(result.customers["customer_id"])
    got = {(r["segmentation"], r["segment"]): r["strategy"] for r in tables["segments"].to_pylist()}
    assert got == {(r.segmentation, r.segment): r.strategy for r in result.profiles.itertuples()}
    types = _hyper_types(first["files"][0])
    assert {c: types["customers"][c] for c in ("customer_id", "recency_days", "monetary", "r_score",
                                                "is_anomaly")} == \
        {"customer_id": "TEXT", "recency_days": "BIG_INT", "monetary": "DOUBLE", "r_score": "SMALL_INT",
         "is_anomaly": "BOOL"}
    assert {c: types["transactions"][c] for c in ("purchase_date", "timestamp", "is_return")} == \
        {"purchase_date": "DATE", "timestamp": "TIMESTAMP", "is_return": "BOOL"}


def test_the_package_holds_the_workbook_and_the_extract_at_its_path(planted):
    _, _, first, _ = planted
    hyper, twb, twbx = first["files"]
    with zipfile.ZipFile(twbx) as zf:
        assert zf.namelist() == ["customersense.twb", TWBX_EXTRACT] == ["customersense.twb",
                                                                       "Data/Extracts/customersense.hyper"]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        packed_twb, packed_hyper = zf.read("customersense.twb"), zf.read(TWBX_EXTRACT)
    assert packed_hyper == hyper.read_bytes()
    dbnames = {c.get("dbname") for c in etree.fromstring(packed_twb).iter("connection") if c.get("dbname")}
    assert dbnames == {TWBX_EXTRACT}
    # apart from where it finds the extract, the packed workbook is the loose one
    assert packed_twb.replace(TWBX_EXTRACT.encode(), b"customersense.hyper") == twb.read_bytes()


def test_two_writes_give_the_same_workbook_package_and_tables(planted, tmp_path):
    _, _, first, second = planted
    assert first["files"][1].read_bytes() == second["files"][1].read_bytes()
    # Hyper stamps each file it creates, so the extracts (and the packages holding them) differ in
    # a few bytes: their tables are equal, and packing one extract twice gives identical bytes.
    one, two = _tables(first["files"][0]), _tables(second["files"][0])
    assert one.keys() == two.keys() and all(one[k].equals(two[k]) for k in one)
    twb = first["files"][1].read_bytes()
    package_twbx(tmp_path / "a.twbx", twb, first["files"][0])
    package_twbx(tmp_path / "b.twbx", twb, first["files"][0])
    assert (tmp_path / "a.twbx").read_bytes() == (tmp_path / "b.twbx").read_bytes()
    with zipfile.ZipFile(first["files"][2]) as a, zipfile.ZipFile(second["files"][2]) as b:
        assert a.namelist() == b.namelist()
        assert a.read("customersense.twb") == b.read("customersense.twb")


def test_fields_types_roles_and_name_clashes():
    """Hand-made schemas: Arrow types map to Tableau datatypes; scores are ordinal dimensions; a
    column name the customers table already has gets Tableau's table suffix."""
    customers = pa.schema([("customer_id", pa.string()), ("r_score", pa.int8()), ("monetary", pa.float64()),
                           ("frequency", pa.int64()), ("is_anomaly", pa.bool_())])
    tx = pa.schema([("customer_id", pa.large_string()), ("purchase_date", pa.date32()),
                    ("timestamp", pa.timestamp("us")), ("line_amount", pa.float64())])
    cust = _fields("customers", customers)
    assert [(f.local, f.datatype, f.role, f.type) for f in cust] == [
        ("customer_id", "string", "dimension", "nominal"), ("r_score", "integer", "dimension", "ordinal"),
        ("monetary", "real", "measure", "quantitative"), ("frequency", "integer", "measure", "quantitative"),
        ("is_anomaly", "boolean", "dimension", "nominal")]
    assert [(f.local, f.column, f.datatype) for f in _fields("transactions", tx, {"customer_id"})] == [
        ("customer_id (transactions)", "customer_id", "string"), ("purchase_date", "purchase_date", "date"),
        ("timestamp", "timestamp", "datetime"), ("line_amount", "line_amount", "real")]
    assert tableau_datatype(pa.timestamp("us", tz="UTC")) == "datetime"
    with pytest.raises(TypeError):
        tableau_datatype(pa.list_(pa.int64()))


def test_without_clv_columns_there_is_no_clv_sheet(planted, twb_schema):
    result, tx, _, _ = planted
    customers = pa.Table.from_pandas(result.customers.drop(columns=[c for c in result.customers
                                                                    if c.startswith("clv")]),
                                     preserve_index=False)
    segments = pa.Table.from_pandas(result.profiles, preserve_index=False)
    xml = workbook(customers.schema, segments.schema, pq.read_schema(tx), "x.hyper", result.caption)
    root = etree.fromstring(xml)
    assert twb_schema.validate(root.getroottree())
    names = [s.get("name") for s in root.find("worksheets")]
    assert "CLV by segment" not in names and "RFM grid" in names


def test_a_folder_of_parquet_parts_is_streamed_part_after_part(planted, tmp_path):
    """Transactions in a folder of parts (row groups of 500 lines): the reader yields batches of at
    most ``batch_size`` rows, all parts in name order, and the extract holds every line."""
    _, tx, _, _ = planted
    source = pq.read_table(tx)
    half = source.num_rows // 2
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(source.slice(0, half), parts / "part-0.parquet", row_group_size=500)
    pq.write_table(source.slice(half), parts / "part-1.parquet", row_group_size=500)
    sizes = [b.num_rows for b in transaction_batches(parts, batch_size=400)]
    assert sum(sizes) == source.num_rows and max(sizes) <= 400
    empty = pa.table({"x": pa.array([1])})
    write_extract(tmp_path / "x.hyper", empty, empty, parts)
    lines = _tables(tmp_path / "x.hyper")["transactions"]
    assert lines.num_rows == source.num_rows
    # every line once (Hyper may return them in another order)
    assert sorted(lines["order_id"].to_pylist()) == sorted(source["order_id"].to_pylist())
    assert pc.sum(lines["line_amount"]).as_py() == pytest.approx(pc.sum(source["line_amount"]).as_py(),
                                                                  rel=1e-9)


def test_without_transactions_the_files_hold_customers_and_segments_only(planted, twb_schema, tmp_path):
    """Above output.transactions_max_rows no transactions file is written: the extract has exactly
    the two other tables, the workbook validates, names only those, relates nothing and has no
    sheet over the transactions' line amounts."""
    result, _, first, _ = planted
    alone = write_tableau(result, tmp_path / "alone", None)
    hyper, twb, twbx = alone["files"]
    assert alone["rows"] == {"customers": len(result.customers), "segments": len(result.profiles)}
    types = _hyper_types(hyper)
    assert sorted(types) == ["customers", "segments"]
    with zipfile.ZipFile(twbx) as zf:
        packed = zf.read("customersense.twb")
    for doc in (etree.parse(str(twb)), etree.fromstring(packed).getroottree()):
        assert twb_schema.validate(doc), "\n".join(f"{e.line}: {e.message}" for e in twb_schema.error_log)
    root = etree.parse(str(twb)).getroot()
    assert _reference_problems(root, types) == []
    assert list(root.iter("relationship")) == []
    assert {r.get("name") for r in root.iter("relation") if r.get("type") == "table"} == {"customers", "segments"}
    assert not any(rec.findtext("parent-name") == "[transactions]" for rec in root.iter("metadata-record"))
    names = [s.get("name") for s in root.find("worksheets")]
    with_tx = [s.get("name") for s in etree.parse(str(first["files"][1])).getroot().find("worksheets")]
    # the one sheet over the transactions goes; every customer and segment sheet stays
    assert names == [n for n in with_tx if n != "Revenue per month"] and "Revenue per month" in with_tx
    # the customers' rows are the same as in the extract with transactions
    assert _tables(hyper)["customers"].num_rows == _tables(first["files"][0])["customers"].num_rows == 400
