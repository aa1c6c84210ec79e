"""Production code never imports devtools: the Docker image leaves the folder out (.dockerignore)."""

import ast
from pathlib import Path

from django.apps import apps

PROJECT_DIR = Path(__file__).resolve().parents[2]


def production_modules() -> list[Path]:
    """Every module of the project's own apps and of the wiring package, tests left aside."""
    roots = {PROJECT_DIR / "pricealert"} | {
        Path(config.path) for config in apps.get_app_configs() if PROJECT_DIR in Path(config.path).parents
    }
    return [
        path
        for root in sorted(roots)
        for path in root.rglob("*.py")
        if "tests" not in path.relative_to(root).parts
        and "devtools" not in path.relative_to(PROJECT_DIR).parts
    ]


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_production_module_imports_devtools():
    modules = production_modules()
    assert any(path.match("feeds/feeder/connection.py") for path in modules)  # the walk sees the apps
    offenders = [
        str(path.relative_to(PROJECT_DIR))
        for path in modules
        if any(name == "devtools" or name.startswith("devtools.") for name in imported_names(path))
    ]
    assert offenders == []
