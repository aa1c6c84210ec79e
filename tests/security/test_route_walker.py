"""Every API route, found by walking the URL conf: another user's object is a 404, no token is a 401.

A new route with an object id in its path is walked automatically; a path
parameter nobody has classified below fails the suite until someone says
whose objects it names (and so how to make one for the walk).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from accounts.apikeys import api_key_create
from accounts.apis import LogoutApi, RegisterApi, TokenObtainApi, TokenRefreshApi
from accounts.password_apis import PasswordResetApi, PasswordResetConfirmApi
from accounts.verify_apis import VerifyApi
from alerts.models import Alert
from operations.health import HealthView
from tests.security.routes import OBJECT_METHODS, api_routes

pytestmark = pytest.mark.django_db

# Views anybody may call without a token: credentials travel in the body, or nothing is private.
PUBLIC_VIEWS = {
    RegisterApi,
    TokenObtainApi,
    TokenRefreshApi,
    LogoutApi,
    PasswordResetApi,
    PasswordResetConfirmApi,
    VerifyApi,
    HealthView,
    SpectacularAPIView,
    SpectacularSwaggerView,
}

# Path parameters that name nobody's object: any user may ask for any value.
SHARED_PARAMS = {"symbol": "BTCUSDT"}  # market data

# A price no other test data uses, to spot alice's alerts in anybody else's answers.
MARKER_PRICE = "12345.67890000"


@dataclass(frozen=True)
class OwnedObject:
    """How to make a user's object for a path parameter, and a body a write to it would accept."""

    create: Callable
    write_body: dict


def _channel(user):
    from alerts.models import Channel  # notification channels (imported when their routes exist)

    # A webhook on the discard port of this machine: a test delivery never leaves it.
    return Channel.objects.create(
        user=user,
        kind="webhook",
        name=f"walker {MARKER_PRICE}",
        url="http://127.0.0.1:9/walker",
        secret="0" * 64,
    )


def _group(user):
    from alerts.models import AlertGroup  # watchlists

    group = AlertGroup.objects.create(user=user)
    Alert.objects.create(
        user=user, group=group, symbol="ETHUSDT", direction="above", target_price=Decimal(MARKER_PRICE)
    )
    return group


OWNED_PARAMS = {
    "alert_id": OwnedObject(
        create=lambda user: Alert.objects.create(
            user=user, symbol="BTCUSDT", direction="above", target_price=Decimal(MARKER_PRICE)
        ),
        # "until": for POST /alerts/<id>/snooze (the PATCH ignores it).
        write_body={
            "target_price": "65000",
            "direction": "below",
            "until": (timezone.now() + timedelta(days=30)).isoformat(),
        },
    ),
    "channel_id": OwnedObject(create=_channel, write_body={"name": "renamed"}),
    "group_id": OwnedObject(create=_group, write_body={"note": "renamed"}),
    "key_id": OwnedObject(
        create=lambda user: api_key_create(user=user, name="walker").api_key, write_body={}
    ),
}

ROUTES = api_routes()
OBJECT_CASES = [
    pytest.param(route, method, id=f"{method.upper()} /{route.regex}")
    for route in ROUTES
    if set(route.params) & OWNED_PARAMS.keys()
    for method in route.methods()
    if method in OBJECT_METHODS
]
PROTECTED_CASES = [
    pytest.param(route, method, id=f"{method.upper()} /{route.regex}")
    for route in ROUTES
    if route.view_class not in PUBLIC_VIEWS
    for method in route.methods(include_options=True)
]
LIST_ROUTES = [
    pytest.param(route, id=f"/{route.regex}")
    for route in ROUTES
    if not route.params and route.view_class not in PUBLIC_VIEWS and "get" in route.methods()
]


def state(obj) -> dict:
    obj.refresh_from_db()
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def url_for(route, owner) -> tuple[str, dict, dict]:
    """The route's URL with ``owner``'s objects in it, those objects, and a write body for them."""
    values, objects, body = dict(SHARED_PARAMS), {}, {}
    for param in route.params:
        if param in OWNED_PARAMS:
            objects[param] = OWNED_PARAMS[param].create(owner)
            values[param] = objects[param].pk
            body.update(OWNED_PARAMS[param].write_body)
    return route.url(**values), objects, body


def test_every_path_parameter_is_classified():
    unclassified = {
        (str(route), param)
        for route in ROUTES
        for param in route.params
        if param not in OWNED_PARAMS and param not in SHARED_PARAMS
    }
    assert not unclassified, (
        "Say whose objects these path parameters name: add them to OWNED_PARAMS (with a factory, "
        "so the walk can prove another user gets a 404) or to SHARED_PARAMS."
    )


def test_the_walk_finds_the_object_routes():
    """Guards the walk itself: if it found nothing, the tests below would prove nothing."""
    walked = {(param.values[0].regex, param.values[1]) for param in OBJECT_CASES}
    assert {method for regex, method in walked if regex.startswith("alerts/(?P<alert_id>")} == {
        "get",
        "patch",
        "delete",
        "post",  # /alerts/<id>/snooze
    }
    assert ("alerts/delete/(?P<alert_id>[0-9]{1,19})(?:/)?$", "delete") in walked
    assert len(PROTECTED_CASES) >= 10


def test_public_views_are_exactly_the_allow_any_ones():
    """A view that lets anonymous callers in must be listed in PUBLIC_VIEWS on purpose."""
    for route in ROUTES:
        view = route.view_class
        allows_anyone = any(
            permission is AllowAny or issubclass(permission, AllowAny)
            for permission in view.permission_classes
        )
        assert allows_anyone == (view in PUBLIC_VIEWS), str(route)


@pytest.mark.parametrize("route, method", OBJECT_CASES)
def test_another_users_object_is_a_404_and_stays_unchanged(alice, bob_client, route, method):
    url, objects, body = url_for(route, alice)
    before = {param: state(obj) for param, obj in objects.items()}

    response = getattr(bob_client, method)(url, body)

    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    assert response.json()["detail"]
    assert MARKER_PRICE not in response.content.decode()
    assert {param: state(obj) for param, obj in objects.items()} == before


@pytest.mark.parametrize("route, method", OBJECT_CASES)
def test_the_owner_reaches_the_same_object(alice, alice_client, route, method):
    """The control: the ids the walk sends are real, so bob's 404 means "not yours"."""
    url, _, body = url_for(route, alice)
    response = getattr(alice_client, method)(url, body)
    assert response.status_code in (200, 201, 202, 204), (url, response.status_code, response.content[:300])


@pytest.mark.parametrize("route, method", OBJECT_CASES)
def test_a_missing_object_is_the_same_404(bob_client, route, method, alice):
    """A 404 for "not yours" and for "no such id" must be indistinguishable."""
    url, objects, body = url_for(route, alice)
    theirs = getattr(bob_client, method)(url, body)
    for obj in objects.values():
        obj.delete()
    missing = getattr(bob_client, method)(url, body)
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize("status", [None, "created", "triggered", "deleted"])
def test_lists_never_show_another_users_objects(alice, bob_client, route, status):
    routed = {param for walked in ROUTES for param in walked.params}
    for owned in (OWNED_PARAMS[param] for param in OWNED_PARAMS.keys() & routed):
        obj = owned.create(alice)
        if status and hasattr(obj, "status"):
            type(obj).objects.filter(pk=obj.pk).update(status=status)
    response = bob_client.get(route.url(), {"status": status} if status else {})
    assert response.status_code in (200, 400, 404), response.content[:300]
    content = response.content.decode()
    assert MARKER_PRICE not in content
    assert "alice@example.com" not in content


@pytest.mark.parametrize("route, method", PROTECTED_CASES)
def test_every_non_public_route_needs_a_token(anon_client, route, method):
    url = route.url(**SHARED_PARAMS, **{param: 1 for param in OWNED_PARAMS})

    response = getattr(anon_client, method)(url, {})

    assert response.status_code == 401, (url, response.status_code, response.content[:300])
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route, method", PROTECTED_CASES)
def test_a_forged_token_is_a_401_too(route, method, db):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.")
    url = route.url(**SHARED_PARAMS, **{param: 1 for param in OWNED_PARAMS})
    assert getattr(client, method)(url, {}).status_code == 401
