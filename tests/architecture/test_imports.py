"""The house rules for imports, checked on the source (every import, lazy ones included):

- no cycle between project modules;
- `benchmarks/` never imports `twinserve/`, except its entry scripts (the `*_bench.py` files that
  measure the product: they are run, never imported);
- `cost_model/` (modeled figures only) imports neither the harness nor the product;
- `prediction_core/` imports no other project package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("prediction_core", "functions", "container_service", "cost_model", "benchmarks", "infra", "twinserve")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules a file imports: `from a.b import c` is a.b.c when that is a module, else a.b."""
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != this:
                found.add(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _project_modules()
    return {name: _imports(path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_project_modules(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _is_entry_script(module: str) -> bool:
    return module.count(".") == 1 and module.endswith("_bench")


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("benchmarks", ("twinserve",)),
    ("cost_model", ("benchmarks", "twinserve", "infra", "functions", "container_service")),
    ("prediction_core", ("benchmarks", "twinserve", "infra", "functions", "container_service", "cost_model")),
])
def test_no_import_runs_back_up(graph: dict[str, set[str]], layer: str, forbidden: tuple[str, ...]) -> None:
    offenders = sorted(f"{module} -> {target}" for module, targets in graph.items()
                       if module.split(".")[0] == layer and not _is_entry_script(module)
                       for target in targets if target.split(".")[0] in forbidden)
    assert offenders == []


def test_entry_scripts_are_the_only_exception(graph: dict[str, set[str]]) -> None:
    """The exception is used only where it is needed, and only by benchmark scripts."""
    users = sorted(m for m, targets in graph.items() if m.startswith("benchmarks.")
                   and any(t.startswith("twinserve") for t in targets))
    assert users and all(_is_entry_script(m) for m in users)
