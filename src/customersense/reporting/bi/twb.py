"""The Tableau workbook XML (.twb, version 26.1): datasources over a Hyper extract, worksheets, one
dashboard. It only describes what Tableau should draw from the extract's tables; Tableau computes
every aggregation when it opens the file.

The XML follows Tableau's own layout (``workbook > datasources > datasource > connection
class='federated' > named-connections > named-connection > connection class='hyper'``, a
``relation`` per table or a ``collection`` of them, ``metadata-records`` naming each column's table,
then ``object-graph`` for the relationships) and validates against the published 2026.1 XSD. Ids
are derived from names (uuid5), never drawn at random, so the same inputs write the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree

VERSION = "26.1"
SOURCE_BUILD = "2026.1.0 (20261.26.0211.1127)"
USER_NS = "http://www.tableausoftware.com/xml/user"
_NAMESPACE = uuid.UUID("6f1c64f6-54a6-4d1e-9a43-0c3e4b8f2a71")

# Tableau's datatype -> the ADO type code Tableau writes as a Hyper column's remote-type.
REMOTE_TYPES = {"string": "129", "integer": "20", "real": "5", "boolean": "11", "date": "133",
                "datetime": "135"}
# A column-instance's derivation -> the prefix of its name ([sum:monetary:qk]).
DERIVATIONS = {"None": "none", "Sum": "sum", "Avg": "avg", "Median": "med", "CountD": "ctd",
               "Count": "cnt", "Month-Trunc": "tmn"}
_TYPE_SUFFIX = {"nominal": "nk", "ordinal": "ok", "quantitative": "qk"}


def stable_id(*parts: str) -> str:
    """A GUID-like id derived from names: the same names give the same id in every run."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts))).upper()


@dataclass(frozen=True)
class Field:
    """One column of an extract table as a datasource exposes it."""

    table: str       # the Hyper table ("customers")
    column: str      # its column in the Hyper table (the remote name)
    local: str       # the field's name in the datasource, unique there ("customer_id (transactions)")
    datatype: str    # Tableau datatype: string, integer, real, boolean, date, datetime
    role: str        # dimension or measure
    type: str        # nominal, ordinal or quantitative


@dataclass(frozen=True)
class Relationship:
    """Two tables of one datasource related on equal values of two fields (local names)."""

    left: str
    right: str
    left_field: str
    right_field: str


@dataclass(frozen=True)
class Datasource:
    name: str                       # internal name (federated.<id>)
    caption: str
    dbname: str                     # the .hyper path as the workbook sees it (relative)
    schema: str                     # the Hyper schema holding the tables ("Extract")
    tables: tuple[str, ...]
    fields: tuple[Field, ...]
    relationship: Relationship | None = None

    def field(self, local: str) -> Field:
        for f in self.fields:
            if f.local == local:
                return f
        raise KeyError(f"{local!r} is no field of datasource {self.caption!r}")

    @property
    def connection(self) -> str:
        return "hyper." + stable_id("connection", self.name).replace("-", "").lower()[:28]


@dataclass(frozen=True)
class Use:
    """A field placed on a shelf: ``derivation`` None (as is), Sum, Avg, Median, CountD, Count."""

    local: str
    derivation: str = "None"
    type: str | None = None   # override of the field's type on the shelf (e.g. ordinal scores)

    def kind(self, ds: Datasource) -> str:
        if self.type:
            return self.type
        return "quantitative" if self.derivation != "None" else ds.field(self.local).type

    def name(self, ds: Datasource) -> str:
        return f"[{DERIVATIONS[self.derivation]}:{self.local}:{_TYPE_SUFFIX[self.kind(ds)]}]"

    def ref(self, ds: Datasource) -> str:
        return f"[{ds.name}].{self.name(ds)}"


@dataclass(frozen=True)
class Sheet:
    """A worksheet: ``rows``/``cols`` shelves, one mark class and optional colour/size/detail/label."""

    name: str
    title: str
    datasource: Datasource
    rows: tuple[Use, ...]
    cols: tuple[Use, ...]
    mark: str = "Bar"
    color: Use | None = None
    size: Use | None = None
    text: Use | None = None
    detail: tuple[Use, ...] = field(default_factory=tuple)

    def uses(self) -> list[Use]:
        out: list[Use] = [*self.rows, *self.cols]
        out += [u for u in (self.color, self.size, self.text) if u is not None]
        out += list(self.detail)
        seen: dict[str, Use] = {}
        for u in out:
            seen.setdefault(u.name(self.datasource), u)
        return list(seen.values())


def caption_of(local: str) -> str:
    """A field's caption: its name in words ("recency_days" -> "Recency days")."""
    words = local.replace("_", " ")
    return words[:1].upper() + words[1:]


def _el(parent, tag: str, text: str | None = None, **attrs: str):
    node = etree.SubElement(parent, tag, {k.replace("_", "-"): v for k, v in attrs.items()})
    if text is not None:
        node.text = text
    return node


def _relation(parent, ds: Datasource, table: str) -> None:
    _el(parent, "relation", connection=ds.connection, name=table,
        table=f"[{ds.schema}].[{table}]", type="table")


def _datasource(parent, ds: Datasource) -> None:
    node = _el(parent, "datasource", caption=ds.caption, inline="true", name=ds.name, version=VERSION)
    conn = _el(node, "connection", **{"class": "federated"})
    named = _el(_el(conn, "named-connections"), "named-connection", caption=ds.caption,
                name=ds.connection)
    _el(named, "connection", authentication="auth-none", author_locale="en_US",
        dbname=ds.dbname, default_settings="yes", schema=ds.schema, sslmode="",
        username="tableau_internal_user", **{"class": "hyper"})
    if len(ds.tables) == 1:
        _relation(conn, ds, ds.tables[0])
    else:
        collection = _el(conn, "relation", type="collection")
        for table in ds.tables:
            _relation(collection, ds, table)
    cols = _el(conn, "cols")
    for f in ds.fields:
        _el(cols, "map", key=f"[{f.local}]", value=f"[{f.table}].[{f.column}]")
    records = _el(conn, "metadata-records")
    for ordinal, f in enumerate(ds.fields):
        rec = _el(records, "metadata-record", **{"class": "column"})
        _el(rec, "remote-name", f.column)
        _el(rec, "remote-type", REMOTE_TYPES[f.datatype])
        _el(rec, "local-name", f"[{f.local}]")
        _el(rec, "parent-name", f"[{f.table}]")
        _el(rec, "remote-alias", f.column)
        _el(rec, "ordinal", str(ordinal))
        _el(rec, "local-type", f.datatype)
        _el(rec, "aggregation", "Sum" if f.role == "measure" else "Count")
        _el(rec, "contains-null", "true")
        _el(rec, "object-id", f"[{_object_id(ds, f.table)}]")
    _el(node, "aliases", enabled="yes")
    for f in ds.fields:
        _el(node, "column", caption=caption_of(f.local), datatype=f.datatype, name=f"[{f.local}]", role=f.role, type=f.type)
    _el(node, "layout", dim_ordering="alphabetic", measure_ordering="alphabetic", show_structure="true")
    graph = _el(node, "object-graph")
    objects = _el(graph, "objects")
    for table in ds.tables:
        obj = _el(objects, "object", caption=table, id=_object_id(ds, table))
        _relation(_el(obj, "properties", context=""), ds, table)
    if ds.relationship is not None:
        rel = ds.relationship
        node_rel = _el(_el(graph, "relationships"), "relationship")
        expr = _el(node_rel, "expression", op="=")
        _el(expr, "expression", op=f"[{rel.left_field}]")
        _el(expr, "expression", op=f"[{rel.right_field}]")
        _el(node_rel, "first-end-point", object_id=_object_id(ds, rel.left))
        _el(node_rel, "second-end-point", object_id=_object_id(ds, rel.right))


def _object_id(ds: Datasource, table: str) -> str:
    return f"{table}_{stable_id('object', ds.name, table).replace('-', '')}"


def _title(parent, title: str, caption: str) -> None:
    formatted = _el(_el(parent, "title"), "formatted-text")
    _el(formatted, "run", title, bold="true", fontsize="14")
    _el(formatted, "run", "\n" + caption, fontsize="10")


def _worksheet(parent, sheet: Sheet, caption: str) -> None:
    ds = sheet.datasource
    node = _el(parent, "worksheet", name=sheet.name)
    _title(_el(node, "layout-options"), sheet.title, caption)
    table = _el(node, "table")
    view = _el(table, "view")
    _el(_el(view, "datasources"), "datasource", caption=ds.caption, name=ds.name)
    deps = _el(view, "datasource-dependencies", datasource=ds.name)
    uses = sheet.uses()
    for local in sorted({u.local for u in uses}, key=[f.local for f in ds.fields].index):
        f = ds.field(local)
        _el(deps, "column", caption=caption_of(f.local), datatype=f.datatype, name=f"[{f.local}]", role=f.role,
            type=f.type)
    for u in uses:
        _el(deps, "column-instance", column=f"[{u.local}]", derivation=u.derivation, name=u.name(ds),
            pivot="key", type=u.kind(ds))
    _el(view, "aggregation", value="true")
    _el(table, "style")
    pane = _el(_el(table, "panes"), "pane", selection_relaxation_option="selection-relaxation-allow")
    _el(_el(pane, "view"), "breakdown", value="auto")
    _el(pane, "mark", **{"class": sheet.mark})
    encodings = [(tag, u) for tag, u in (("color", sheet.color), ("size", sheet.size),
                                          ("text", sheet.text)) if u is not None]
    encodings += [("lod", u) for u in sheet.detail]
    if encodings:
        enc = _el(pane, "encodings")
        for tag, u in encodings:
            _el(enc, tag, column=u.ref(ds))
    _el(table, "rows", " / ".join(u.ref(ds) for u in sheet.rows))
    _el(table, "cols", " / ".join(u.ref(ds) for u in sheet.cols))
    _el(node, "simple-id", uuid="{" + stable_id("worksheet", sheet.name) + "}")


def _dashboard(parent, name: str, title: str, caption: str, sheets: Sequence[Sheet]) -> None:
    width, height, columns = 1400, 1000, 2
    node = _el(parent, "dashboard", name=name)
    _title(_el(node, "layout-options"), title, caption)
    _el(node, "style")
    _el(node, "size", maxheight=str(height), maxwidth=str(width), minheight=str(height),
        minwidth=str(width))
    zones = _el(node, "zones")
    unit = 100000  # Tableau's zone coordinates: fractions of the dashboard in 1/100000
    header = 8000
    rows = -(-len(sheets) // columns)
    outer = _el(zones, "zone", h=str(unit), id="1", type_v2="layout-basic", w=str(unit), x="0", y="0")
    _el(outer, "zone", h=str(header), id="2", type_v2="title", w=str(unit), x="0", y="0")
    cell_h = (unit - header) // rows
    for i, sheet in enumerate(sheets):
        r, c = divmod(i, columns)
        _el(outer, "zone", h=str(cell_h), id=str(3 + i), name=sheet.name, w=str(unit // columns),
            x=str(c * unit // columns), y=str(header + r * cell_h))
    _el(node, "simple-id", uuid="{" + stable_id("dashboard", name) + "}")


def _window(parent, cls: str, name: str, viewpoints: Sequence[str] = ()) -> None:
    attrs = {"class": cls, "name": name}
    if cls == "dashboard":
        attrs["maximized"] = "true"
    node = _el(parent, "window", **attrs)
    if cls == "dashboard":
        points = _el(node, "viewpoints")
        for sheet in viewpoints:
            _el(points, "viewpoint", name=sheet)
        _el(node, "active", id="-1")
    else:
        cards = _el(node, "cards")
        left = _el(_el(cards, "edge", name="left"), "strip", size="160")
        for card in ("pages", "filters", "marks"):
            _el(left, "card", type=card)
        top = _el(cards, "edge", name="top")
        for card, size in (("columns", "2147483647"), ("rows", "2147483647"), ("title", "31")):
            _el(_el(top, "strip", size=size), "card", type=card)
    _el(node, "simple-id", uuid="{" + stable_id("window", cls, name) + "}")


def workbook_xml(datasources: Sequence[Datasource], sheets: Sequence[Sheet], dashboard: str,
                 dashboard_title: str, caption: str) -> bytes:
    """The .twb bytes: ``datasources``, one worksheet per sheet and one dashboard holding them all."""
    root = etree.Element("workbook", {"original-version": VERSION, "source-build": SOURCE_BUILD,
                                      "source-platform": "linux", "version": VERSION},
                         nsmap={"user": USER_NS})
    _el(_el(root, "preferences"), "preference", name="ui.shelf.height", value="26")
    sources = _el(root, "datasources")
    for ds in datasources:
        _datasource(sources, ds)
    worksheets = _el(root, "worksheets")
    for sheet in sheets:
        _worksheet(worksheets, sheet, caption)
    _dashboard(_el(root, "dashboards"), dashboard, dashboard_title, caption, sheets)
    windows = _el(root, "windows", source_height="30")
    for sheet in sheets:
        _window(windows, "worksheet", sheet.name)
    _window(windows, "dashboard", dashboard, [s.name for s in sheets])
    _el(_el(root, "explain-data", enabled_for_viewer="true", extreme_values_enabled_for_all="true"),
        "explanation-types")
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8") + b"\n"
