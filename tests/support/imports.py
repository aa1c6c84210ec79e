"""The project's import graph, read from the source (ast) for the layering and cycle tests.

Every import counts, also those inside functions, so a lazy import that hides
a cycle is seen too. Tests and migrations are left out: tests may reach
anywhere, and migrations are generated.
"""

import ast
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
# Every package of the project's runtime (and its tools), where a cycle would hurt.
PACKAGES = ("accounts", "alerts", "api", "devtools", "feeds", "operations", "pricealert")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_statements(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) per import: ``import a`` -> ("a", ()), ``from a import b`` -> ("a", ("b",))."""
    statements = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            statements += [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            statements.append((node.module, tuple(alias.name for alias in node.names)))
    return statements


def imported_names(path: Path) -> set[str]:
    """Every module a file names in an import (``from a import b``: both ``a`` and ``a.b``)."""
    names = set()
    for module, aliases in import_statements(path):
        names.add(module)
        names.update(f"{module}.{alias}" for alias in aliases)
    return names


def sources(*packages: str) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """module -> its import statements, for the runtime modules of these packages."""
    found = {}
    for package in packages or PACKAGES:
        for path in sorted((PROJECT_DIR / package).rglob("*.py")):
            if {"tests", "migrations"} & set(path.relative_to(PROJECT_DIR).parts):
                continue
            found[module_name(path)] = import_statements(path)
    return found


def module_graph(found: dict[str, list[tuple[str, tuple[str, ...]]]]) -> dict[str, set[str]]:
    """module -> the project modules it imports.

    ``from package import submodule`` is an arrow to the submodule only: a
    package's ``__init__`` handing on its submodules' names, which import their
    siblings that way, is Python's ordinary package layout, not a cycle.
    ``from package import name`` (a name defined in ``__init__``) is an arrow to
    the package.
    """
    modules = set(found)

    def own(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, statements in found.items():
        targets = set()
        for imported, aliases in statements:
            submodules = {f"{imported}.{alias}" for alias in aliases} & modules
            targets |= submodules
            if not aliases or len(submodules) < len(aliases):
                targets.add(own(imported))
        graph[module] = targets - {module, ""}
    return graph


def first_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return None
