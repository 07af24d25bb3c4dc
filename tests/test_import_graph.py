"""The generated package's modules import one another without a cycle, on every interface style.

The graph is read with ``ast`` from every ``import`` and ``from ... import`` of ``src/<package>/``,
wherever it stands (top level, inside a function, under ``if TYPE_CHECKING``): a lazy or typing-only
import is still a dependency a reader has to follow, and a cycle hidden in one comes back the day
it is moved to the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .matrix import STYLES, Variant

pytestmark = pytest.mark.tier1


def module_name(package: Path, path: Path) -> str:
    """The dotted name of the module at ``path`` inside the package folder ``package``."""
    parts = [package.name, *path.relative_to(package).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    """Each module of ``package`` (a folder) and the modules of the same package it imports."""
    modules = {module_name(package, path): path for path in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                source = node.module or ""
                if node.level:
                    source = f"{base}.{source}" if source else base
                imported.add(source)
                # `from . import x` and `from .pkg import x` may name a module rather than an attribute.
                imported.update(f"{source}.{alias.name}" for alias in node.names)
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as the list of modules around it (first repeated last), or ``None``."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph[module]):
            found = visit(imported)
            if found:
                return found
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module)
        if found:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"a.m"}, "a.m": {"a"}}) == ["a", "a.m", "a"]


@pytest.mark.variants([Variant(interface_style=style, auth="token", broker="redis") for style in STYLES])
def test_the_package_imports_without_a_cycle(variant: Variant, project: Path) -> None:
    """With every optional module (auth=token, broker=redis) rendered, so that none is left out."""
    package = variant.package_name
    graph = import_graph(project / "src" / package)
    assert len(graph) >= 20, sorted(graph)  # every module was read
    assert f"{package}.manager" in graph[f"{package}.handlers"]  # and their imports resolved
    assert f"{package}.app" in graph[f"{package}.asyncapi.__main__"]
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])
