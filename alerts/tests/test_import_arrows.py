"""The alerts app's rooms import one way: engine -> delivery -> kinds, the maths pure, no cycle.

Read from the source (every import, also those inside functions), so a lazy
import that hides a cycle fails here too.
"""

import ast
from pathlib import Path

ALERTS = Path(__file__).resolve().parent.parent


def _module(path: Path) -> str:
    parts = path.relative_to(ALERTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _sources() -> dict[str, set[str]]:
    return {
        _module(path): _imports(path)
        for path in ALERTS.rglob("*.py")
        if not {"tests", "migrations"} & set(path.relative_to(ALERTS).parts)
    }


def _app_imports(imports: set[str], modules: set[str]) -> set[str]:
    """The app's modules among ``imports`` (``from package import name`` counts as the package)."""
    found = set()
    for name in imports:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def test_the_alerts_modules_import_each_other_without_a_cycle():
    sources = _sources()
    graph = {module: _app_imports(imports, set(sources)) - {module} for module, imports in sources.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(module) :], module]))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_delivery_never_imports_the_engine():
    for module, imports in _sources().items():
        if module.startswith("alerts.delivery"):
            assert not {name for name in imports if name.startswith("alerts.engine")}, module


def test_the_rung_maths_imports_neither_django_nor_the_models():
    imports = _imports(ALERTS / "engine" / "rungs.py")
    assert not {name for name in imports if name.startswith(("django", "alerts"))}, imports
