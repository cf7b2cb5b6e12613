"""Architecture rules as tests: no import circles between kspec's modules, no module past ~400 lines, and no
subpackage named like a façade function (a submodule import would replace `kspec.build` with the package)."""

from __future__ import annotations

import ast
from pathlib import Path

import kspec

PACKAGE = Path(kspec.__file__).resolve().parent
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> set[str]:
    """kspec modules that `name` imports anywhere (top level, inside functions, under TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from kspec.x import y` imports the module kspec.x.y when y is one
            subs = {f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES}
            found.update(subs or {module})
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_imports() -> None:
    assert "kspec.errors" in GRAPH["kspec.lang.loader"]
    assert "kspec.compiler.functional" in GRAPH["kspec.compiler"]
    assert "kspec.training.recipes.tape" in GRAPH["kspec.training.recipes.fit"]  # a function-level import


def test_no_import_circles() -> None:
    assert _cycles() == []


def test_a_circle_would_be_found() -> None:
    GRAPH["kspec.errors"].add("kspec.lang.yaml_scalars")
    try:
        assert ["kspec.errors", "kspec.lang.yaml_scalars"] in _cycles()
    finally:
        GRAPH["kspec.errors"].discard("kspec.lang.yaml_scalars")


def test_modules_stay_small() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these along their seams: {long}"


def test_no_subpackage_shadows_a_facade_name() -> None:
    top = {name.split(".")[1] for name in MODULES if name.count(".") >= 1}
    assert top & set(kspec.__all__) == set()
    assert top & {"load", "validate", "build", "check", "train", "draw"} == set()
