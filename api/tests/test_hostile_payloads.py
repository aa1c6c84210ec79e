"""Hostile input on every write endpoint: always a 4xx JSON answer, never a 500.

Each case puts one hostile value into one field of an otherwise valid request.
Values that are invalid for every field (NaN, nested objects, ...) must be
rejected where the field has rules; where a value happens to be acceptable
(a password of "' OR 1=1 --" is a fine password) the request may succeed, but
the answer is never a 5xx.
"""

import json

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from alerts.models import Alert
from conftest import PASSWORD, client_for

pytestmark = pytest.mark.django_db


class Raw(str):
    """A JSON token written into the body verbatim (NaN, 1e400, a 5000-digit number...)."""


HOSTILE = {
    "nan-literal": Raw("NaN"),
    "infinity-literal": Raw("Infinity"),
    "minus-infinity-literal": Raw("-Infinity"),
    "nan-string": "NaN",
    "infinity-string": "Infinity",
    "minus-one": "-1",
    "minus-one-number": -1,
    "zero": "0",
    "negative-zero": "-0",
    "1e400-string": "1e400",
    "1e400-number": Raw("1e400"),
    "1e-9-string": "1e-9",
    "1e-9-number": Raw("1e-9"),
    "twenty-digit-integer": Raw("12345678901234567890"),
    "hex": "0x10",
    "nested-object": {"$gt": "", "nested": {"deeper": [1, {"x": None}]}},
    "array": ["BTCUSDT", 70000],
    "empty-array": [],
    "sql-injection": "'; DROP TABLE alerts_alert; --",
    "sql-tautology": "' OR '1'='1",
    "js-injection": "<script>alert(document.cookie)</script>",
    "ten-thousand-chars": "9" * 10_000,
    "null": None,
    "true": True,
    "empty-string": "",
    "whitespace": "   ",
    "nul-byte": "BTC\x00USDT",
    "lone-surrogate": Raw('"\\ud800"'),
    "emoji": "💥🚀",
}

ALERT = {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}
REGISTER = {"email": "new@example.com", "password": PASSWORD, "username": "newbie"}
LOGIN = {"email": "alice@example.com", "password": PASSWORD}

# endpoint -> (method, path, valid body, {field: the statuses a hostile value in it may get}).
# A value no field accepts (NaN, nested objects, ...) must be refused wherever the set has no 2xx.
ENDPOINTS = {
    "register": (
        "post",
        "/register",
        REGISTER,
        {"email": {400}, "password": {201, 400}, "username": {201, 400}},
    ),
    "signup": ("post", "/signup", REGISTER, {"email": {400}, "password": {201, 400}, "username": {201, 400}}),
    # Next to a valid email, the username is only checked for its type: the email wins.
    "token": ("post", "/token", LOGIN, {"email": {400, 401}, "password": {400, 401}, "username": {200, 400}}),
    "login": ("post", "/login", LOGIN, {"email": {400, 401}, "password": {400, 401}, "username": {200, 400}}),
    "token-refresh": ("post", "/token/refresh", {"refresh": None}, {"refresh": {400, 401}}),
    "logout": ("post", "/logout", {"refresh": None}, {"refresh": {400, 401}}),
    "alerts-create": ("post", "/alerts/create", ALERT, {key: {400} for key in ALERT}),
    "alerts-post": ("post", "/alerts/", ALERT, {key: {400} for key in ALERT}),
    # A PATCH ignores "symbol" (an alert's symbol never changes); a NaN literal spoils the whole body.
    "alert-patch": (
        "patch",
        "/alerts/{id}",
        {},
        {"target_price": {400}, "direction": {400}, "symbol": {200, 400}},
    ),
}

CASES = [
    pytest.param(endpoint, field, value, id=f"{endpoint}-{field}-{name}")
    for endpoint, (_, _, _, fields) in ENDPOINTS.items()
    for field in fields
    for name, value in HOSTILE.items()
]


def encode(body: dict) -> bytes:
    raws = {}

    def placeholder(value):
        if isinstance(value, Raw):
            raws[f"@@raw{len(raws)}@@"] = str(value)
            return f"@@raw{len(raws) - 1}@@"
        return value

    text = json.dumps({key: placeholder(value) for key, value in body.items()})
    for marker, raw in raws.items():
        text = text.replace(f'"{marker}"', raw)
    return text.encode()


@pytest.fixture
def setup(alice, make_alert):
    alert = make_alert(alice)
    client = client_for(alice)
    client.raise_request_exception = False
    return alert, client


@pytest.mark.parametrize("endpoint, field, value", CASES)
def test_hostile_value_is_a_4xx_json_never_a_500(setup, alice, endpoint, field, value):
    alert, client = setup
    method, path, valid, fields = ENDPOINTS[endpoint]
    body = dict(valid)
    if "refresh" in body:
        body["refresh"] = str(RefreshToken.for_user(alice))
    body[field] = value

    response = getattr(client, method)(
        path.format(id=alert.id), encode(body), content_type="application/json"
    )

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    if response.status_code >= 400:
        assert response.json()["detail"]
    assert response.status_code in fields[field], response.json()


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "body, kind",
    [
        (b"[]", "list"),
        (b'"a string"', "str"),
        (b"42", "int"),
        (b"null", "NoneType"),
        (b"true", "bool"),
        (b'[{"symbol": "BTCUSDT"}]', "list"),
    ],
    ids=["array", "string", "number", "null", "true", "array-of-objects"],
)
def test_a_body_that_is_not_an_object_is_a_400(setup, endpoint, body, kind):
    alert, client = setup
    method, path, _, _ = ENDPOINTS[endpoint]
    response = getattr(client, method)(path.format(id=alert.id), body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] in (
        "No data provided",
        f"Invalid data. Expected a dictionary, but got {kind}.",
    )


def test_injection_strings_leave_the_database_intact(setup, alice):
    _, client = setup
    for value in ("'; DROP TABLE alerts_alert; --", "' OR '1'='1"):
        client.post("/alerts/create", {"symbol": value, "target_price": "1"})
        client.get("/alerts/", {"symbol": value, "status": value})
        APIClient().post("/token", {"email": value, "password": value})
    assert Alert.objects.filter(user=alice).count() == 1
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    ["/alerts/99999999999999999999", "/alerts/delete/9223372036854775808", "/alerts/%00", "/alerts/1%27"],
)
def test_hostile_ids_in_paths_are_404(setup, path):
    _, client = setup
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(path, {})
        assert response.status_code in (404, 405), (method, path)
        assert response.json()["detail"]
