"""The package's layers only look down, and no modules import each other in a circle.

Layer order (README "Layout"): leaves (top-level modules: errors, records, preprocess, metrics, ...)
-> media -> faces -> forge -> data -> models -> train -> evaluate -> scan, serve -> cli. Every
``import`` in src/fakelens counts, at module level or inside a function (a lazy import still ties the
two modules together); imports by string (the model registry, ``fakelens``'s lazy names) are checked
separately below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "fakelens"
LEAF = 0
LAYERS = {
    "media": 1,
    "faces": 2,
    "forge": 3,
    "data": 4,
    "models": 5,
    "train": 6,
    "evaluate": 7,
    "scan": 8,
    "serve": 8,
    "cli": 9,
}
# (importer, imported) -> why it is still allowed; each entry must still exist (stale ones fail).
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {}
# frozenset of the modules in a cycle -> why it is still allowed; each must still exist.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_names(src: Path = SRC) -> dict[str, Path]:
    """``fakelens.models.detector`` -> its file, for every module and package under ``src``."""
    out = {}
    for path in sorted(src.rglob("*.py")):
        parts = ["fakelens", *path.relative_to(src).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an import of ``name`` executes: the longest prefix that is a module."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, int]]:
    """(imported fakelens module, line) for every import statement anywhere in the file."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package upwards
                pkg = module.split(".") if is_pkg else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, base] if base else pkg)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules) if target.split(".")[0] == "fakelens" else None
            if resolved is not None and resolved != module:
                found.add((resolved, node.lineno))
    return found


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and f"{parts[1]}.py" in {p.name for p in SRC.glob("*.py")}):
        return LEAF  # fakelens itself (lazy names only, checked below) and top-level modules
    if parts[1] not in LAYERS:
        raise AssertionError(f"{module}: the package {parts[1]!r} has no layer in tests/test_layers.py")
    return LAYERS[parts[1]]


def import_graph() -> dict[str, dict[str, int]]:
    modules = module_names()
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for module, path in modules.items():
        for target, line in sorted(imports_of(module, path, modules), key=lambda t: -t[1]):
            graph[module][target] = line  # the first line that imports it
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.add(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_parser_sees_module_level_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "fakelens"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("")
    (pkg / "models" / "a.py").write_text(
        "from fakelens.errors import X\ndef f():\n    from . import b\n    import fakelens.models.b.c\n"
    )
    (pkg / "models" / "b.py").write_text("from .a import f\n")
    modules = module_names(pkg)
    assert set(modules) == {
        "fakelens",
        "fakelens.errors",
        "fakelens.models",
        "fakelens.models.a",
        "fakelens.models.b",
    }
    a = imports_of("fakelens.models.a", modules["fakelens.models.a"], modules)
    assert {t for t, _ in a} == {"fakelens.errors", "fakelens.models.b"}
    assert imports_of("fakelens.models.b", modules["fakelens.models.b"], modules) == {
        ("fakelens.models.a", 1)
    }
    g = {m: {t: 0 for t, _ in imports_of(m, p, modules)} for m, p in modules.items()}
    assert cycles(g) == [frozenset({"fakelens.models.a", "fakelens.models.b"})]
    assert cycles({"x": {"y": 1}, "y": {"z": 1}, "z": {}}) == []


def test_the_real_graph_is_seen(graph):
    """Guards the checks below against a parser that finds nothing."""
    assert sum(map(len, graph.values())) > 150
    assert "fakelens.models.onnx_backend" in graph["fakelens.models.loading"]  # module level
    assert "fakelens.models.calibrated" in graph["fakelens.models.checkpoint"]  # inside build_model


def test_no_layer_imports_a_later_one(graph):
    bad = {}
    for module, targets in graph.items():
        for target, line in targets.items():
            if layer_of(target) > layer_of(module) and (module, target) not in KNOWN_BACK_EDGES:
                bad[f"{module}:{line}"] = target
    assert not bad, "imports from a later layer (importer:line -> imported):\n" + "\n".join(
        f"  {k} -> {v}" for k, v in sorted(bad.items())
    )


def test_no_import_cycles(graph):
    found = [c for c in cycles(graph) if c not in KNOWN_CYCLES]
    assert not found, "import cycles:\n" + "\n".join(f"  {sorted(c)}" for c in found)


def test_known_exceptions_still_exist(graph):
    stale = [e for e in KNOWN_BACK_EDGES if e[1] not in graph.get(e[0], {})]
    stale += [sorted(c) for c in KNOWN_CYCLES if c not in cycles(graph)]
    assert not stale, f"fixed, so drop them from tests/test_layers.py: {stale}"


def test_imports_by_string_respect_the_layers():
    """The registry builds models from models/ only; src takes nothing but ``__version__`` from the
    ``fakelens`` facade, whose lazy names reach into every layer."""
    from fakelens.models.registry import _ENTRIES

    assert {t.split(":")[0].split(".")[1] for t in _ENTRIES.values()} == {"models"}
    uses = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "fakelens" and not node.level:
                uses |= {(path.relative_to(SRC).as_posix(), a.name) for a in node.names}
    assert {name for _, name in uses} <= {"__version__"}, sorted(uses)
