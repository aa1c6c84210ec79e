"""Errors are JSON with a clear message and the right 4xx, whatever goes wrong."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/register"),
    ("post", "/token"),
    ("post", "/token/refresh"),
    ("post", "/logout"),
    ("post", "/alerts/create"),
    ("post", "/alerts/"),
]

PROTECTED = [
    ("get", "/user"),
    ("get", "/alerts/"),
    ("post", "/alerts/"),
    ("post", "/alerts/create"),
    ("get", "/alerts/1"),
    ("patch", "/alerts/1"),
    ("delete", "/alerts/1"),
    ("delete", "/alerts/delete/1"),
    ("get", "/prices/BTCUSDT"),
]


@pytest.fixture
def client(alice_client):
    alice_client.raise_request_exception = False
    return alice_client


@pytest.mark.parametrize("method, path", WRITES)
@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"symbol": "BTCUSDT",', "JSON parse error"),
        (b"{'single': 'quotes'}", "JSON parse error"),
        (b'{"target_price": NaN}', "NaN is not a valid JSON number"),
        (b'{"target_price": -Infinity}', "-Infinity is not a valid JSON number"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"a": "\xff\xfe"}', "JSON parse error"),
        (b'{"n": ' + b"9" * 5000 + b"}", "JSON parse error"),
    ],
    ids=["truncated", "single-quotes", "nan", "infinity", "deep-nesting", "bad-utf8", "5000-digit-int"],
)
def test_malformed_json_is_a_400(client, method, path, body, message):
    response = getattr(client, method)(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["detail"]


@pytest.mark.parametrize("method, path", WRITES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_a_body_that_is_not_json_is_a_415(client, method, path, content_type):
    response = getattr(client, method)(path, "symbol=BTCUSDT", content_type=content_type)
    assert response.status_code == 415
    assert response.json()["detail"].startswith("Unsupported media type")


@pytest.mark.parametrize("method, path", PROTECTED)
def test_protected_endpoints_are_401_json_without_a_token(db, method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("method, path", PROTECTED)
def test_an_expired_or_forged_token_is_401(db, method, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.e30.forged")
    response = getattr(client, method)(path)
    assert response.status_code == 401
    # Exactly the documented shape: simplejwt's own "code" and "messages" are not passed on.
    assert response.json() == {"detail": "Given token not valid for any token type"}


@pytest.mark.parametrize("path", ["/token/refresh", "/logout"])
def test_a_bad_refresh_token_is_the_documented_error_body(db, path):
    response = APIClient().post(path, {"refresh": "not.a.token"}, format="json")
    assert response.status_code == 401
    assert list(response.json()) == ["detail"]


def test_errors_of_nested_fields_are_named_by_their_path(client):
    response = client.post(
        "/alerts/", {"symbol": "BTCUSDT", "target_price": "1", "channels": [1, "x"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"channels.1": ["A valid integer is required."]}
    assert response.json()["detail"] == "channels: 1: A valid integer is required."


@pytest.mark.parametrize("path", ["/nope", "/alerts/create/extra", "/api/", "/static/nope.js"])
def test_unknown_paths_are_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "method, path", [("get", "/alerts/create"), ("put", "/alerts/"), ("get", "/logout"), ("put", "/user")]
)
def test_a_wrong_method_is_a_json_405(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.json()["detail"] == f'Method "{method.upper()}" not allowed.'


def test_an_empty_body_is_a_validation_error_not_a_crash(client):
    response = client.post("/alerts/create", b"", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"symbol", "target_price"}
