"""Schema-driven fuzzing: schemathesis generates requests from our own OpenAPI schema, every operation.

Runs in-process through the WSGI app (no server), authenticated as a fixture
user, and checks every answer: never a 5xx, a status code the schema lists,
the declared content type, a body and headers that match the schema. Values
are steered part of the time onto real objects (the user's alerts in every
state, a symbol with a price, a valid refresh token, the right password) so
the success paths are fuzzed too, not only the 4xx ones.

Bounded for CI (FUZZ_EXAMPLES per operation, derandomized so a run is
repeatable); for a deeper local run: FUZZ_EXAMPLES=500 FUZZ_RANDOM=1 pytest tests/fuzz
"""

import os
import time
import zlib
from decimal import Decimal

import pytest
import schemathesis
from django.apps import apps
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.apikeys import api_key_create
from alerts.models import Alert
from conftest import PASSWORD
from feeds.store import write_price

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZER_EMAIL = "fuzzer@example.com"

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


class Target:
    """The fuzzing user's real objects (ids by path parameter), and credentials that work."""

    def __init__(self, user, objects: dict[str, list]):
        self.user = user
        self.object_ids = {param: [obj.pk for obj in found] for param, found in objects.items() if found}
        self.access = str(RefreshToken.for_user(user).access_token)

    def refresh_token(self) -> str:
        return str(RefreshToken.for_user(self.user))


@pytest.fixture
def target(make_user):
    user = make_user(FUZZER_EMAIL, username="fuzzer")
    alerts = [
        Alert.objects.create(user=user, symbol="BTCUSDT", direction="above", target_price=Decimal("70000")),
        Alert.objects.create(
            user=user,
            symbol="ETHUSDT",
            direction="below",
            target_price=Decimal("2000.5"),
            status=Alert.Status.TRIGGERED,
            triggered_price=Decimal("1999.99"),
        ),
        Alert.objects.create(
            user=user,
            symbol="BTCUSDT",
            direction="below",
            target_price=Decimal("1"),
            status=Alert.Status.DELETED,
        ),
    ]
    write_price("BTCUSDT", Decimal("65000.01"), int(time.time() * 1000))
    keys = [api_key_create(user=user, name=f"fuzz {n}").api_key for n in range(2)]
    return Target(user, {"alert_id": alerts, "channel_id": _channels(user), "key_id": keys})


def _channels(user) -> list:
    """The user's notification channels, where the app has them, plus a webhook that stays local."""
    try:
        channel = apps.get_model("alerts", "Channel")
    except LookupError:
        return []
    local = channel.objects.create(
        user=user, kind="webhook", name="fuzz", url="http://127.0.0.1:9/fuzz", secret="0" * 64
    )
    return [*channel.objects.filter(user=user).exclude(pk=local.pk), local]


def _pick(value, every: int = 2) -> int | None:
    """Deterministic "some of the time": a function of the generated value, so replays match."""
    digest = zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))
    return digest // every if digest % every == 0 else None


def steer(case, target: Target) -> None:
    """Point part of the generated requests at things that exist, so success paths are fuzzed too."""
    params = case.path_parameters or {}
    for name, ids in target.object_ids.items():
        if name in params and (n := _pick(params[name])) is not None:
            params[name] = ids[n % len(ids)]
    if "symbol" in params and _pick(params["symbol"]) is not None:
        params["symbol"] = "BTCUSDT"
    body = case.body
    if not isinstance(body, dict):
        return
    if isinstance(body.get("symbol"), str) and _pick(body["symbol"]) is not None:
        body["symbol"] = "btcusdt"
    if "target_price" in body and _pick(body["target_price"]) is not None:
        body["target_price"] = "70000.5"
    if isinstance(body.get("refresh"), str) and _pick(body["refresh"]) is not None:
        body["refresh"] = target.refresh_token()
    if case.operation.path == "/token" and _pick(body.get("password"), every=3) is not None:
        body.update({"email": FUZZER_EMAIL, "password": PASSWORD})
    # Issue 16: the right password (a change or a deletion then ends the fuzzing user's session:
    # the later examples of that operation are 401s, which must conform too), a real address.
    if case.operation.path == "/user/password" and _pick(body.get("old_password"), every=3) is not None:
        body["old_password"] = PASSWORD
    if case.operation.path == "/user" and _pick(body.get("password"), every=5) is not None:
        body["password"] = PASSWORD
    if case.operation.path == "/password/reset" and _pick(body.get("email")) is not None:
        body["email"] = FUZZER_EMAIL


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_conforms_to_the_schema_and_never_fails(case, target):
    steer(case, target)
    case.call_and_validate(headers={"Authorization": f"Bearer {target.access}"}, checks=CHECKS)


THROTTLED_PATHS = [
    "/token",
    "/register",
    "/token/refresh",
    "/password/reset",
    "/password/reset/confirm",
    "/verify",
    "/user/password",
    "/verify/resend",
    "/api-keys",
]


@pytest.fixture
def low_throttle_rates(settings):
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@schema.include(path=THROTTLED_PATHS).parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_throttled_answers_conform_too(case, target, low_throttle_rates):
    """After two requests every answer is a 429: its body and Retry-After header must match the schema."""
    steer(case, target)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {target.access}"}, checks=CHECKS)
    assert response.status_code < 500


def test_the_fuzzer_sees_every_operation_of_the_contract():
    operations = {(result.ok().method.upper(), result.ok().path) for result in schema.get_all_operations()}
    assert {("POST", "/register"), ("POST", "/token"), ("PATCH", "/alerts/{alert_id}")} <= operations
    assert len(operations) >= 16
    assert {
        ("POST", "/user/password"),
        ("POST", "/password/reset/confirm"),
        ("DELETE", "/api-keys/{key_id}"),
    } <= (operations)
