"""A client generated from /api/schema/ by openapi-python-client works against a live server, as is.

The schema is checked by openapi-spec-validator first; the client is then
generated into a temporary folder (no network, about a second) and a few real
calls go through it over a socket: register and log in without a token, create
and list alerts and list channels with one, read /health.
"""

import importlib
import inspect
import json
import subprocess
import sys

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
GENERATE = [
    "--path",
    "schema.json",
    "--config",
    "config.yaml",
    "--meta",
    "none",
    "--output-path",
    "pricealert_client",
]


@pytest.fixture
def schema():
    return APIClient().get("/api/schema/", {"format": "json"}).json()


def test_the_schema_passes_openapi_spec_validator(schema):
    validate(schema)


@pytest.fixture
def generated(schema, tmp_path, monkeypatch):
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: the code is only imported
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", *GENERATE],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("pricealert_client")
    for name in [name for name in sys.modules if name.split(".")[0] == "pricealert_client"]:
        del sys.modules[name]


def _operation(package, tag, operation_id):
    return importlib.import_module(f"pricealert_client.api.{tag}.{operation_id}")


def test_public_operations_take_a_client_without_a_token(generated):
    for tag, operation_id in [
        ("accounts", "user_register"),
        ("accounts", "token_obtain"),
        ("accounts", "token_refresh"),
        ("accounts", "token_revoke"),
        ("health", "health_get"),
    ]:
        annotation = inspect.signature(_operation(generated, tag, operation_id).sync).parameters["client"]
        assert "Client" in str(annotation.annotation).replace("AuthenticatedClient", ""), operation_id


def test_a_generated_client_registers_logs_in_creates_and_lists(generated, live_server):
    models = importlib.import_module("pricealert_client.models")
    client = generated.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    call = lambda tag, operation_id: _operation(generated, tag, operation_id).sync_detailed  # noqa: E731

    registered = call("accounts", "user_register")(
        client=client, body=models.RegisterInputRequest(email="gen@example.com", password=PASSWORD)
    )
    assert registered.status_code == 201 and registered.parsed.email == "gen@example.com"
    tokens = call("accounts", "token_obtain")(
        client=client, body=models.TokenObtainInputRequest(email="gen@example.com", password=PASSWORD)
    ).parsed
    authed = generated.AuthenticatedClient(base_url=live_server.url, token=tokens.access)

    created = call("alerts", "alert_create")(
        client=authed,
        body=models.AlertCreateInputRequest(symbol="btcusdt", target_price="70000.5", direction="above"),
    )
    assert created.status_code == 201
    assert (created.parsed.symbol, created.parsed.target_price) == ("BTCUSDT", "70000.50000000")
    page = call("alerts", "alert_list")(client=authed).parsed
    assert page.count == 1 and page.results[0].id == created.parsed.id
    channels = call("channels", "channel_list")(client=authed).parsed
    assert [channel.kind for channel in channels] == ["email"]
    health = call("health", "health_get")(client=client)
    assert health.status_code in (200, 503) and health.parsed.status in ("ok", "degraded", "unavailable")
