"""The house rules, checked on the source: no import cycles and no upward imports.

Every ``import`` in ``src/customersense`` is read from the syntax tree, including imports inside
functions (a deferred import dodges a cycle at run time but is still a dependency). Imports
under ``if TYPE_CHECKING:`` count too. The layers follow the flow of one run
(docs/architecture.md): a room may import from its own layer or the ones below it, never
above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "customersense"

# Lowest first. The first component below ``customersense`` names the room.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "schema", "progress", "choices", "_numba_cache", "__init__"}),  # foundations
    frozenset({"config", "datasets"}),                       # settings, embedded data
    frozenset({"engine"}),                                    # DuckDB / Spark behind one protocol
    frozenset({"io"}),                                        # read
    frozenset({"cleaning"}),                                  # clean
    frozenset({"features"}),                                  # features(as_of)
    frozenset({"rfm", "evaluation", "models", "clv"}),        # models
    frozenset({"profiles", "scoring", "evolution", "campaigns"}),  # profiles; frozen models; behaviour over time; A/B tests
    frozenset({"result"}),                                    # the result object
    frozenset({"reporting"}),                                 # every file written
    frozenset({"pipeline"}),                                  # run(config) -> result, writes it
    frozenset({"cli", "api", "__main__"}),                    # thin shells
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports (resolved to the longest known module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import x``: the submodule pkg.x where there is one, else pkg itself
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names]
        for target in targets:
            if not target.startswith(PACKAGE):
                continue
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                resolved = ".".join(parts)
                if resolved != name:
                    found.add(resolved)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # An import of a.b.c also runs a/__init__ and a/b/__init__: the package inits are edges too.
    for name, targets in graph.items():
        for t in list(targets):
            parts = t.split(".")
            for i in range(2, len(parts)):
                parent = ".".join(parts[:i])
                if parent in known and not name.startswith(parent + ".") and parent != name:
                    targets.add(parent)
    return graph


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(room: str) -> int:
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"room {room!r} is in no layer: add it to LAYERS and to docs/architecture.md")


def test_every_room_has_a_layer():
    for module in _modules():
        _layer(_room(module))


def test_no_upward_imports():
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            if _layer(_room(target)) > _layer(_room(module)):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = _graph()
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# Third-party packages that belong to one room: the engines' own libraries stay behind the engine
# protocol, drawing stays in reporting (plots never compute, models never draw), numba behind the
# cache helper that keeps its files out of the package.
CONFINED = {
    "pyspark": {"engine"},
    "duckdb": {"engine"},
    "matplotlib": {"reporting"},
    "numba": {"_numba_cache"},
}


def _third_party(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_and_drawing_libraries_stay_in_their_rooms():
    strays = [f"{module} imports {lib}" for module, path in _modules().items()
              for lib in sorted(_third_party(path) & set(CONFINED)) if _room(module) not in CONFINED[lib]]
    assert not strays, "\n".join(strays)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_planted_cycles(graph, expected):
    assert _cycles(graph) == expected


def test_the_import_reader_resolves_relative_and_deferred_imports(tmp_path, monkeypatch):
    """A planted package: a relative import inside a function and ``from . import x`` are seen."""
    pkg = tmp_path / PACKAGE
    (pkg / "io").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("from . import readers\n")
    (pkg / "io" / "readers.py").write_text("def f():\n    from ..pipeline import run\n")
    (pkg / "pipeline.py").write_text("")
    monkeypatch.setattr(__import__(__name__, fromlist=["SRC"]), "SRC", tmp_path)
    graph = _graph()
    assert f"{PACKAGE}.pipeline" in graph[f"{PACKAGE}.io.readers"]
    assert f"{PACKAGE}.io.readers" in graph[f"{PACKAGE}.io"]
