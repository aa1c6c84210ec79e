"""The OpenAPI schema: valid, warning-free, every operation described."""

import re

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

# Every operation of the API, by path and method, with the operation id a generated client names it by.
CONTRACT = {
    ("/register", "post"): "user_register",
    ("/token", "post"): "token_obtain",
    ("/token/refresh", "post"): "token_refresh",
    ("/logout", "post"): "token_revoke",
    ("/user", "get"): "user_me",
    ("/user", "patch"): "user_update",
    ("/user", "delete"): "user_delete",
    ("/user/password", "post"): "password_change",
    ("/password/reset", "post"): "password_reset",
    ("/password/reset/confirm", "post"): "password_reset_confirm",
    ("/verify", "post"): "address_verify",
    ("/verify/resend", "post"): "address_verify_resend",
    ("/api-keys", "get"): "api_key_list",
    ("/api-keys", "post"): "api_key_create",
    ("/api-keys/{key_id}", "delete"): "api_key_revoke",
    ("/alerts", "get"): "alert_list",
    ("/alerts", "post"): "alert_create",
    ("/alerts/{alert_id}", "get"): "alert_get",
    ("/alerts/{alert_id}", "patch"): "alert_update",
    ("/alerts/{alert_id}", "delete"): "alert_delete",
    ("/alerts/{alert_id}/snooze", "post"): "alert_snooze",
    ("/alert-groups", "get"): "alert_group_list",
    ("/alert-groups/{group_id}", "get"): "alert_group_get",
    ("/alert-groups/{group_id}", "patch"): "alert_group_update",
    ("/alert-groups/{group_id}", "delete"): "alert_group_delete",
    ("/channels", "get"): "channel_list",
    ("/channels", "post"): "channel_create",
    ("/channels/{channel_id}", "get"): "channel_get",
    ("/channels/{channel_id}", "patch"): "channel_update",
    ("/channels/{channel_id}", "delete"): "channel_delete",
    ("/channels/{channel_id}/test", "post"): "channel_test",
    ("/channels/{channel_id}/rotate-secret", "post"): "channel_rotate_secret",
    ("/notifications", "get"): "notification_list",
    ("/alerts/{alert_id}/notifications", "get"): "alert_notification_list",
    ("/prices/{symbol}", "get"): "price_get",
    ("/health", "get"): "health_get",
}
# Routes kept for older clients: they answer (tested with their operations), not operations of their own.
ALIASES = {"/signup", "/login", "/alerts/create", "/alerts/delete/{alert_id}"}
PUBLIC = {
    "/register",
    "/token",
    "/token/refresh",
    "/logout",
    "/health",
    "/password/reset",
    "/password/reset/confirm",
    "/verify",
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


def test_schema_lists_each_operation_once_under_its_domain_name(schema):
    named = {(path, method): operation["operationId"] for path, method, operation in operations(schema)}
    assert named == CONTRACT


def test_aliases_stay_out_of_the_schema(schema):
    assert not ALIASES & schema["paths"].keys()


def test_every_operation_has_a_summary_and_responses(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (path, method)
        assert operation.get("responses"), (path, method)


def test_every_write_documents_its_request_body(schema):
    for path, method, operation in operations(schema):
        # These take no body.
        if method in ("post", "patch") and operation["operationId"] not in (
            "channel_test",
            "channel_rotate_secret",
            "address_verify_resend",
        ):
            assert "application/json" in operation["requestBody"]["content"], (path, method)


def test_protected_operations_declare_the_bearer_scheme(schema):
    for path, method, operation in operations(schema):
        if path not in PUBLIC:
            # A session's access token, or an API key (issue 16).
            assert operation["security"] == [{"apiKeyAuth": []}, {"jwtAuth": []}], (path, method)


def test_public_operations_declare_no_security_at_all(schema):
    """No security requirement (not even the optional ``{}``): generated clients call them without a token."""
    assert "security" not in schema
    for path, method, operation in operations(schema):
        if path in PUBLIC:
            assert "security" not in operation, (path, method)


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema"])
def test_schema_is_served(anon_client, path):
    response = anon_client.get(path, {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "pricealert API"


def _nodes(value, path=""):
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from _nodes(child, f"{path}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _nodes(child, f"{path}/{index}")


def test_every_nullable_schema_has_a_type(schema):
    """``nullable`` beside a typeless ``oneOf``/``allOf``: strict validators refuse the ``null`` we accept."""
    typeless = [path for path, node in _nodes(schema) if node.get("nullable") is True and "type" not in node]
    assert typeless == []


def test_nullable_inputs_are_typed_strings(schema):
    components = schema["components"]["schemas"]
    username = components["RegisterInputRequest"]["properties"]["username"]
    assert (username["type"], username["nullable"], username["maxLength"]) == ("string", True, 150)
    direction = components["AlertCreateInputRequest"]["properties"]["direction"]
    assert direction["type"] == "string" and direction["enum"] == ["above", "below", "cross", None]


@pytest.mark.parametrize(
    "component, field, accepted, refused",
    [
        (
            "AlertCreateInputRequest",
            "target_price",
            ["70000.5", "1", "0.00000001"],
            ["", "-5", "1.123456789"],
        ),
        ("PatchedAlertUpdateInputRequest", "target_price", ["71000"], ["", "-5", "1e5"]),
        ("AlertCreateInputRequest", "change_percent", ["-5", "2.5", "-99.9999", "500"], ["", "-100", "-500"]),
        ("AlertCreateInputRequest", "rearm_percent", ["0", "0.1", "99.9999"], ["", "-5", "500", "100"]),
        ("PatchedAlertUpdateInputRequest", "rearm_percent", ["0.5"], ["", "-5", "500"]),
    ],
)
def test_input_number_patterns_are_as_strict_as_the_validation(schema, component, field, accepted, refused):
    pattern = re.compile(schema["components"]["schemas"][component]["properties"][field]["pattern"])
    assert [value for value in accepted if not pattern.search(value)] == []
    assert [value for value in refused if pattern.search(value)] == []


def test_health_has_a_typed_body(schema):
    responses = schema["paths"]["/health"]["get"]["responses"]
    for status in ("200", "503"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Health"
        }
    health = schema["components"]["schemas"]["Health"]
    assert set(health["required"]) == {"status", "checks", "feed", "evaluation", "stream", "delivery"}


def test_the_error_body_documents_errors_as_field_to_messages(schema):
    errors = schema["components"]["schemas"]["Error"]["properties"]["errors"]
    assert errors["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
