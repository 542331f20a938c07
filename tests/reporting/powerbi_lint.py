"""A small linter for the Power BI project the tests write: TMDL has no published schema.

It parses TMDL by indentation (one tab a level) into objects (table, column, measure, partition,
relationship, expression, ...) with their properties, and checks the model against the data files
(read here with pyarrow, independently of the writer) and the report against the model:

- every table's partition reads a file that exists in OutputFolder; the model's columns are the
  file's columns, each with the TMDL dataType and the Power Query type its Arrow type calls for;
- every relationship's columns exist with one dataType, the "one" side is unique in the data and
  every "many" value has its "one";
- every measure's DAX references (table[column], [measure]) exist;
- every page listed in pages.json exists and every page folder is listed; every visual's query
  field (Entity/Property: column, measure, aggregated column) exists in the model.

``lint(folder)`` returns the problems found, as sentences; an empty list passes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

OBJECTS = {"model", "database", "table", "column", "measure", "partition", "relationship", "expression",
           "annotation", "ref", "hierarchy", "level", "role", "culture"}
NAME = r"'(?:[^']|'')+'|[A-Za-z_][\w]*"
GUID = r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"


@dataclass
class Node:
    kind: str
    name: str
    value: str = ""
    props: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)


def unquote(text: str) -> str:
    return text[1:-1].replace("''", "'") if text.startswith("'") else text


def parse(text: str) -> list[Node]:
    """Top-level objects of a TMDL file. Raises ValueError on a line it cannot place."""
    lines = text.split("\n")
    roots: list[Node] = []
    stack: list[tuple[int, Node]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.strip().startswith("///"):
            continue
        depth = len(line) - len(line.lstrip("\t"))
        body = line[depth:]
        if body != body.lstrip():
            raise ValueError(f"line {i}: indented with spaces: {line!r}")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        first = body.split(" ", 1)[0]
        if first in OBJECTS:
            if first == "ref":  # ref table <name>: the referenced kind is the value
                m = re.fullmatch(rf"ref (\w+) ({NAME})", body)
                node = Node("ref", unquote(m[2]), m[1]) if m else None
            else:
                m = re.fullmatch(rf"(\w+)(?: ({GUID}|{NAME}(?:\.{NAME})?))?(?: = (.*))?", body)
                node = Node(m[1], unquote(m[2] or ""), m[3] or "") if m else None
            if node is None:
                raise ValueError(f"line {i}: cannot read {body!r}")
            if stack:
                stack[-1][1].children.append(node)
            elif depth == 0:
                roots.append(node)
            else:
                raise ValueError(f"line {i}: indented object without a parent")
            stack.append((depth, node))
            continue
        if not stack or stack[-1][0] != depth - 1:
            raise ValueError(f"line {i}: property at the wrong depth: {body!r}")
        owner = stack[-1][1]
        m = re.fullmatch(r"(\w+)(?:: (.*)| =(?: (.*))?)?", body)
        if not m:
            raise ValueError(f"line {i}: cannot read {body!r}")
        if body.endswith(" ="):  # a multi-line expression: the deeper lines that follow
            expr = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip("\t")) > depth):
                expr.append(lines[i].strip("\t"))
                i += 1
            owner.props[m[1]] = "\n".join(expr).strip()
        elif m[2] is not None or m[3] is not None:
            owner.props[m[1]] = m[2] if m[2] is not None else m[3]
        else:  # a flag, perhaps with deeper flags of its own (dataAccessOptions)
            owner.props[m[1]] = "true"
            flag = Node("flag", m[1])
            owner.children.append(flag)
            stack.append((depth, flag))
    return roots


def expected_type(t: pa.DataType, csv: bool) -> tuple[str, str]:
    """(TMDL dataType, Power Query type) for an Arrow type: the rule the model must follow."""
    if pa.types.is_boolean(t):
        return "boolean", "type logical"
    if pa.types.is_integer(t):
        return ("double", "type number") if csv else ("int64", "Int64.Type")
    if pa.types.is_floating(t):
        return "double", "type number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string", "type text"
    if pa.types.is_date(t):
        return "dateTime", "type date"
    if pa.types.is_timestamp(t):
        return "dateTime", "type datetimezone" if t.tz else "type datetime"
    raise AssertionError(f"no expected type for {t}")


def read_data(path: Path) -> pa.Table:
    return pa_csv.read_csv(path) if path.suffix == ".csv" else pq.read_table(path)


def load_model(model_dir: Path) -> dict:
    """Tables (name -> Node), relationships and the OutputFolder value of a semantic model."""
    definition = model_dir / "definition"
    tables = {}
    for path in sorted((definition / "tables").glob("*.tmdl")):
        (node,) = parse(path.read_text(encoding="utf-8"))
        tables[node.name] = node
    # model.tmdl: the model, then its annotations and table refs at the top level
    model_file = parse((definition / "model.tmdl").read_text(encoding="utf-8"))
    model = model_file[0]
    model.children += model_file[1:]
    rels_path = definition / "relationships.tmdl"
    rels = parse(rels_path.read_text(encoding="utf-8")) if rels_path.exists() else []
    (expr,) = parse((definition / "expressions.tmdl").read_text(encoding="utf-8"))
    folder = re.fullmatch(r'"((?:[^"]|"")*)" meta \[IsParameterQuery=true, Type="Text".*\]', expr.value)
    return {"model": model, "tables": tables, "relationships": rels, "parameter": expr.name,
            "folder": folder[1].replace('""', '"') if folder else None}


def lint(folder: Path, name: str = "CustomerSense") -> list[str]:
    problems: list[str] = []
    m = load_model(folder / f"{name}.SemanticModel")
    tables: dict[str, Node] = m["tables"]
    refs = {c.name for c in m["model"].children if c.kind == "ref"}
    if refs != set(tables):
        problems.append(f"model.tmdl refers to tables {sorted(refs)}, the tables folder holds {sorted(tables)}")
    if m["folder"] is None:
        return problems + ["expressions.tmdl: OutputFolder is not a text parameter"]
    data: dict[str, pa.Table] = {}
    for t in tables.values():
        problems += _lint_table(t, Path(m["folder"]), m["parameter"], data)
    problems += _lint_relationships(m["relationships"], tables, data)
    problems += _lint_measures(tables)
    problems += _lint_report(folder / f"{name}.Report", tables)
    return problems


def _lint_table(t: Node, output: Path, parameter: str, data: dict[str, pa.Table]) -> list[str]:
    (part,) = [c for c in t.children if c.kind == "partition"] or [None]
    if part is None or part.value != "m" or part.props.get("mode") != "import":
        return [f"table {t.name}: no import partition in M"]
    source = part.props.get("source", "")
    file = re.search(rf'File\.Contents\({parameter} & "\\([^"\\]+)"\)', source)
    if not file or not (output / file[1]).is_file():
        return [f"table {t.name}: its partition reads no file of {output}"]
    path = output / file[1]
    data[t.name] = read_data(path)
    m_types = dict(re.findall(r'\{"((?:[^"]|"")+)", (type \w+|Int64\.Type)\}', source))
    columns = {c.name: c for c in t.children if c.kind == "column"}
    problems = []
    schema = data[t.name].schema
    if list(columns) != schema.names:
        problems.append(f"table {t.name}: columns {list(columns)} but {path.name} holds {schema.names}")
    for f in schema:
        c = columns.get(f.name)
        if c is None:
            continue
        if pa.types.is_null(f.type) and path.suffix == ".csv":
            # an empty column of a CSV (e.g. revenue_at_stake without CLV) holds no type evidence:
            # any declared type reads it, as long as it is one the model knows
            if c.props.get("dataType") not in ("double", "string"):
                problems.append(f"{t.name}.{f.name}: empty in {path.name}, declared {c.props.get('dataType')}")
            continue
        dtype, mtype = expected_type(f.type, path.suffix == ".csv")
        if c.props.get("dataType") != dtype:
            problems.append(f"{t.name}.{f.name}: dataType {c.props.get('dataType')}, the file's {f.type} needs {dtype}")
        if m_types.get(f.name) != mtype:
            problems.append(f"{t.name}.{f.name}: the partition makes it {m_types.get(f.name)}, {f.type} needs {mtype}")
        if c.props.get("sourceColumn") != f.name:
            problems.append(f"{t.name}.{f.name}: sourceColumn {c.props.get('sourceColumn')}")
    return problems


def _column_ref(text: str) -> tuple[str, str]:
    m = re.fullmatch(rf"({NAME})\.({NAME})", text)
    return (unquote(m[1]), unquote(m[2])) if m else ("", "")


def _lint_relationships(rels: list[Node], tables: dict[str, Node], data: dict[str, pa.Table]) -> list[str]:
    problems = []
    for r in rels:
        (ft, fc), (tt, tc) = _column_ref(r.props.get("fromColumn", "")), _column_ref(r.props.get("toColumn", ""))
        cols = [(t, c) for t, c in ((ft, fc), (tt, tc))
                if t in data and any(x.kind == "column" and x.name == c for x in tables[t].children)]
        if len(cols) != 2:
            problems.append(f"relationship {r.name}: {ft}.{fc} -> {tt}.{tc} names a missing column")
            continue
        types = {next(x.props.get("dataType") for x in tables[t].children if x.kind == "column" and x.name == c)
                 for t, c in cols}
        if len(types) != 1:
            problems.append(f"relationship {r.name}: {ft}.{fc} and {tt}.{tc} have different types {sorted(types)}")
        many, one = data[ft][fc], data[tt][tc]
        if pa.types.is_large_string(many.type) != pa.types.is_large_string(one.type):
            many, one = many.cast(pa.large_string()), one.cast(pa.large_string())
        if pc.count_distinct(one).as_py() != len(one) or one.null_count:
            problems.append(f"relationship {r.name}: {tt}.{tc} (the one side) is not unique in the data")
        if not pc.all(pc.is_in(many.drop_null(), value_set=one.combine_chunks())).as_py():
            problems.append(f"relationship {r.name}: {ft}.{fc} has values missing from {tt}.{tc}")
    return problems


def _lint_measures(tables: dict[str, Node]) -> list[str]:
    problems = []
    measures = {c.name for t in tables.values() for c in t.children if c.kind == "measure"}
    for t in tables.values():
        for m in (c for c in t.children if c.kind == "measure"):
            for table, column in re.findall(r"'((?:[^']|'')+)'\[([^\]]+)\]", m.value):
                table = table.replace("''", "'")
                if table not in tables or not any(c.kind == "column" and c.name == column
                                                  for c in tables[table].children):
                    problems.append(f"measure {m.name}: {table}[{column}] does not exist")
            for ref in re.findall(r"(?<!')\[([^\]]+)\]", re.sub(r"'(?:[^']|'')+'\[[^\]]+\]", "", m.value)):
                if ref not in measures:
                    problems.append(f"measure {m.name}: [{ref}] is no measure")
            for table in re.findall(r"(?:ALL|COUNTROWS)\('((?:[^']|'')+)'\)", m.value):
                if table.replace("''", "'") not in tables:
                    problems.append(f"measure {m.name}: table {table} does not exist")
    return problems


def fields(value) -> list[tuple[str, str, str]]:
    """(kind, entity, property) of every Column/Measure reference in a visual's JSON."""
    found = []
    if isinstance(value, dict):
        for kind in ("Column", "Measure"):
            ref = value.get(kind)
            if isinstance(ref, dict) and "SourceRef" in ref.get("Expression", {}):
                found.append((kind, ref["Expression"]["SourceRef"].get("Entity"), ref.get("Property")))
        for v in value.values():
            found += fields(v)
    elif isinstance(value, list):
        for v in value:
            found += fields(v)
    return found


def _lint_report(report: Path, tables: dict[str, Node]) -> list[str]:
    problems = []
    pages_dir = report / "definition" / "pages"
    order = json.loads((pages_dir / "pages.json").read_text(encoding="utf-8"))["pageOrder"]
    folders = {p.name for p in pages_dir.iterdir() if p.is_dir()}
    for name in order:
        page = pages_dir / name / "page.json"
        if not page.is_file() or json.loads(page.read_text(encoding="utf-8"))["name"] != name:
            problems.append(f"pages.json lists page {name}, which does not exist")
    problems += [f"page {name} is not in pages.json" for name in sorted(folders - set(order))]
    for visual in sorted(pages_dir.glob("*/visuals/*/visual.json")):
        for kind, entity, prop in fields(json.loads(visual.read_text(encoding="utf-8"))):
            node = tables.get(entity)
            if node is None or not any(c.kind == kind.lower() and c.name == prop for c in node.children):
                problems.append(f"{visual.parent.name}: {kind.lower()} {entity}.{prop} is not in the model")
    return problems
