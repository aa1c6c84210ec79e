"""The OpenAPI schema: valid, warning-free, every operation described."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

CONTRACT = {
    ("/register", "post"),
    ("/signup", "post"),
    ("/token", "post"),
    ("/login", "post"),
    ("/token/refresh", "post"),
    ("/logout", "post"),
    ("/user", "get"),
    ("/alerts", "get"),
    ("/alerts", "post"),
    ("/alerts/create", "post"),
    ("/alerts/{alert_id}", "get"),
    ("/alerts/{alert_id}", "patch"),
    ("/alerts/{alert_id}", "delete"),
    ("/alerts/delete/{alert_id}", "delete"),
    ("/prices/{symbol}", "get"),
    ("/health", "get"),
}


@pytest.fixture(scope="module")
def schema(django_db_blocker, tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # --validate checks it against the OpenAPI 3 meta-schema; any warning fails.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_schema_lists_every_endpoint_of_the_contract(schema):
    assert {(path, method) for path, method, _ in operations(schema)} >= CONTRACT


def test_every_operation_has_a_summary_and_responses(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (path, method)
        assert operation.get("responses"), (path, method)


def test_every_write_documents_its_request_body(schema):
    for path, method, operation in operations(schema):
        if method in ("post", "patch") and (path, method) in CONTRACT:
            assert "application/json" in operation["requestBody"]["content"], (path, method)


def test_protected_operations_declare_the_bearer_scheme(schema):
    public = {"/register", "/signup", "/token", "/login", "/token/refresh", "/logout", "/health"}
    for path, method, operation in operations(schema):
        if (path, method) in CONTRACT:
            secured = any("jwtAuth" in requirement for requirement in operation.get("security", []))
            assert secured == (path not in public), (path, method)


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema"])
def test_schema_is_served(anon_client, path):
    response = anon_client.get(path, {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "pricealert API"
