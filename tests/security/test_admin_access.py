"""The admin is for staff only: nobody else can log in, and every admin page turns them away."""

import pytest
from django.test import Client

from conftest import PASSWORD
from tests.security.routes import admin_routes

pytestmark = pytest.mark.django_db


def log_in(email: str) -> tuple[Client, object]:
    client = Client()
    response = client.post("/admin/login/", {"username": email, "password": PASSWORD, "next": "/admin/"})
    return client, response


def test_a_non_staff_user_cannot_log_into_the_admin(alice):
    client, response = log_in(alice.email)

    assert response.status_code == 200  # the login form again, with an error
    assert (
        "Please enter the correct email address and password for a staff account" in response.content.decode()
    )
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_staff_user_can(make_user):
    make_user("operator@example.com", is_staff=True, is_superuser=True)
    client, response = log_in("operator@example.com")

    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_a_staff_user_who_is_deactivated_cannot(make_user):
    make_user("former@example.com", is_staff=True, is_active=False)
    client, response = log_in("former@example.com")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


# The login form is the one admin page anybody may see.
ROUTES = [
    pytest.param(route, id=f"/{route.regex}")
    for route in admin_routes()
    if not route.regex.startswith("admin/login/")
]


@pytest.mark.parametrize("as_user", ["anonymous", "non-staff"])
@pytest.mark.parametrize("route", ROUTES)
def test_every_admin_page_turns_away_everyone_but_staff(alice, route, as_user):
    client = Client()
    if as_user == "non-staff":
        client.force_login(alice)  # a session, as if alice had logged in elsewhere
    values = {param: alice.pk for param in route.params}
    values.update({"app_label": "accounts", "url": "accounts/user/", "content_type_id": 1})
    url = route.url(**values)

    response = client.get(url)

    assert response.status_code in (302, 404, 405), (url, response.status_code)
    if response.status_code == 302:
        assert response["Location"].startswith(("/admin/login/", "/admin/")), response["Location"]
    assert "alice@example.com" not in response.content.decode()


def test_the_walk_reaches_the_model_pages():
    walked = [route.regex for route in admin_routes()]
    assert "admin/accounts/user/(?P<object_id>.+)/change/\\Z" in walked
    assert any(regex.startswith("admin/alerts/alert/") for regex in walked)
    assert len(ROUTES) == len(walked) - 2  # the login form, throttled, and the admin's own pattern


class TestLoginThrottle:
    """The admin login form is no way around the API's login limits."""

    def test_the_admin_login_form_answers_429_over_the_account_limit(self, make_user, settings):
        make_user("operator@example.com", is_staff=True, is_superuser=True)
        rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min")
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**rates, "login_account": "2/min"},
        }
        client = Client()
        for _ in range(2):
            client.post("/admin/login/", {"username": "operator@example.com", "password": "guess"})

        response = client.post("/admin/login/", {"username": "OPERATOR@example.com", "password": PASSWORD})

        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 60
        assert response.content.decode().startswith("Too many login attempts; try again in ")
        assert "_auth_user_id" not in client.session
        # The API shares the budget: the same account is held back there too.
        api = Client().post(
            "/token", {"email": "operator@example.com", "password": PASSWORD}, content_type="application/json"
        )
        assert api.status_code == 429

    def test_the_login_form_still_renders_and_other_accounts_log_in(self, make_user, settings):
        make_user("operator@example.com", is_staff=True)
        rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/min")
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**rates, "login_account": "1/min"},
        }
        Client().post("/admin/login/", {"username": "someone@example.com", "password": "guess"})
        client = Client()
        assert client.get("/admin/login/").status_code == 200
        client, response = log_in("operator@example.com")
        assert (response.status_code, response["Location"]) == (302, "/admin/")
