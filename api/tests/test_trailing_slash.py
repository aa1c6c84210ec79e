"""Every path works with and without a trailing slash, and nothing redirects."""

import pytest
from django.urls import resolve

pytestmark = pytest.mark.django_db

ROUTES = [
    ("post", "/register", {"email": "kim@example.com", "password": "correct horse battery staple"}, 201),
    ("post", "/signup", {"email": "kim@example.com", "password": "correct horse battery staple"}, 201),
    ("post", "/token", {"email": "alice@example.com", "password": "correct horse battery staple"}, 200),
    ("post", "/login", {"username": "alice", "password": "correct horse battery staple"}, 200),
    ("post", "/token/refresh", {"refresh": "garbage"}, 401),
    ("post", "/logout", {"refresh": "garbage"}, 401),
    ("get", "/user", None, 200),
    ("get", "/alerts", None, 200),
    ("post", "/alerts", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}, 201),
    ("post", "/alerts/create", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}, 201),
    ("get", "/alerts/{id}", None, 200),
    ("patch", "/alerts/{id}", {"direction": "below"}, 200),
    ("delete", "/alerts/{id}", None, 204),
    ("delete", "/alerts/delete/{id}", None, 204),
    ("get", "/prices/BTCUSDT", None, 404),
    ("get", "/health", None, 200),
    ("get", "/api/schema", None, 200),
    ("get", "/api/docs", None, 200),
]


@pytest.mark.parametrize("slash", ["", "/"], ids=["no-slash", "slash"])
@pytest.mark.parametrize("method, path, payload, expected", ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_route_answers_directly_with_and_without_slash(
    alice_client, alice, make_alert, method, path, payload, expected, slash
):
    url = path.format(id=make_alert(alice).id) + slash
    response = getattr(alice_client, method)(url, payload)
    assert response.status_code == expected, (url, response.content[:300])
    assert not response.has_header("Location")


@pytest.mark.parametrize("method, path, payload, expected", ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_both_spellings_reach_the_same_view(method, path, payload, expected):
    bare = path.format(id=7)
    assert resolve(bare).func.view_class is resolve(bare + "/").func.view_class


def test_seed_paths_are_not_taken_for_an_alert_id():
    assert resolve("/alerts/create").url_name == "alert-create"
    assert resolve("/alerts/delete/5").url_name == "alert-delete"
    assert resolve("/alerts/5").url_name == "alert-detail"


def test_admin_without_a_slash_redirects_to_the_admin(client):
    # The only redirect: a GET for operators' convenience, never on an API path.
    response = client.get("/admin")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
