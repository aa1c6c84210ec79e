"""The import arrows between the apps: wiring -> apps -> the shared API package, never back.

Read from the source (ast), so a new import that breaks a rule fails here
before it shows up as a cycle. Tests and migrations are left out: tests may
reach anywhere, and migrations are generated.
"""

import ast
import sys
from pathlib import Path

import pytest

from tests.support.imports import first_cycle, module_graph, sources

PROJECT_DIR = Path(__file__).resolve().parent.parent
APPS = ("accounts", "alerts", "api", "feeds", "operations", "web")
# What the shared API package may import besides the standard library (the Redis client
# and django-redis: the throttles tell a cache outage from a bug, api/throttling.py).
API_MAY_IMPORT = {"django", "rest_framework", "drf_spectacular", "redis", "django_redis"}
# The operations room reads the other apps through these only.
OPERATIONS_MAY_READ = {"alerts.selectors", "feeds.selectors", "feeds.store"}
# The web app works through what the API works through: services and selectors to read and
# write, the API's serializers to check input, its throttles, models for their constants.
# No query of its own (no ``.objects``): a rule the API obeys then holds for the pages too.
WEB_MAY_USE = {
    "accounts.apikeys",  # the API keys' service (create, list, revoke), as accounts.apikey_apis uses it
    "accounts.serializers",
    "accounts.services",
    "accounts.throttling",
    "alerts.channels",
    "alerts.delivery.messages",
    "alerts.group_serializers",
    "alerts.groups",
    "alerts.models",
    "alerts.notifications",
    "alerts.selectors",
    "alerts.serializers",
    "alerts.services",
    "alerts.throttling",
    "feeds.history",
    "feeds.prices",
    "feeds.selectors",
    "feeds.store",
}


def imports(app: str) -> list[tuple[str, str]]:
    """(module file, imported module) for every import in the app's runtime code."""
    found = []
    for path in sorted((PROJECT_DIR / app).rglob("*.py")):
        parts = path.relative_to(PROJECT_DIR).parts
        if "tests" in parts or "migrations" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(PROJECT_DIR)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((str(path.relative_to(PROJECT_DIR)), node.module))
    return found


def top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.mark.parametrize("app", APPS)
def test_no_app_imports_the_wiring_package(app):
    assert [(where, name) for where, name in imports(app) if top(name) == "pricealert"] == []


def test_the_shared_api_package_imports_only_django_drf_and_the_cache_client():
    allowed = API_MAY_IMPORT | set(sys.stdlib_module_names) | {"api"}
    assert [(where, name) for where, name in imports("api") if top(name) not in allowed] == []


def test_operations_reads_the_other_apps_through_their_selectors_and_the_price_store():
    others = set(APPS) - {"api", "operations"}
    reads = [(where, name) for where, name in imports("operations") if top(name) in others]
    assert reads, "the operations room reads nothing: is this test still looking at it?"
    assert [(where, name) for where, name in reads if name not in OPERATIONS_MAY_READ] == []


def test_no_module_of_the_project_imports_itself_round_a_cycle():
    """Every import counts, also one inside a function: a lazy import hides a cycle, not removes it."""
    assert first_cycle(module_graph(sources())) is None


def test_the_cycle_check_sees_a_cycle():
    assert first_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]


def test_feeds_never_imports_alerts():
    assert [(where, name) for where, name in imports("feeds") if top(name) == "alerts"] == []


def test_the_web_app_uses_the_apis_services_selectors_and_serializers_only():
    others = set(APPS) - {"web"}
    uses = [(where, name) for where, name in imports("web") if top(name) in others]
    assert uses, "the web app uses nothing of the other apps: is this test still looking at it?"
    allowed = WEB_MAY_USE | {"api.throttling"}
    assert [(where, name) for where, name in uses if name not in allowed] == []


def test_the_web_app_runs_no_query_of_its_own():
    """Reads and writes go through selectors and services: no ``Model.objects`` in a view."""
    found = []
    for path in sorted((PROJECT_DIR / "web").rglob("*.py")):
        if "tests" in path.relative_to(PROJECT_DIR).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "objects":
                found.append(f"{path.relative_to(PROJECT_DIR)}:{node.lineno}")
    assert found == []
