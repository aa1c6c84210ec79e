"""Every web route: anonymous visitors are sent to the login page; another user's object is a 404 page.

The routes are walked from the URL conf (like tests/security/test_route_walker.py
does for the API), so a page added later is covered without editing this list.
"""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils.regex_helper import normalize

from accounts.apikeys import api_key_create
from alerts.models import Alert, AlertGroup, Channel
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

# The pages an emailed link or a logged-out person opens.
PUBLIC = {"login", "signup", "verify", "password-reset", "password-reset-confirm"}
MARKER = "12345.6789"


def web_routes():
    (web,) = [p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and p.namespace == "web"]
    for pattern in web.url_patterns:
        template, params = normalize(pattern.pattern.regex.pattern)[0]
        yield pattern.name, "/app/" + template.lstrip("^"), params


ROUTES = list(web_routes())
OWNED = [(name, template, params) for name, template, params in ROUTES if params]


def make(owner, param):
    if param == "group_id":
        group = AlertGroup.objects.create(user=owner)
        Alert.objects.filter(pk=make(owner, "alert_id").pk).update(group=group)
        return group
    if param == "key_id":
        return api_key_create(user=owner, name=f"walk {MARKER}").api_key
    if param == "alert_id":
        return Alert.objects.create(
            user=owner, symbol="BTCUSDT", direction="above", target_price=Decimal(MARKER)
        )
    return Channel.objects.create(
        user=owner, kind="webhook", name=f"walk {MARKER}", url="https://example.com/h"
    )


def test_the_walk_sees_the_pages():
    names = {name for name, _, _ in ROUTES}
    assert {
        "dashboard",
        "alert",
        "alert-edit",
        "alert-new",
        "channels",
        "account",
        "login",
        "logout",
    } <= names
    assert {name for name, _, _ in OWNED} >= {
        "alert",
        "alert-edit",
        "alert-delete",
        "alert-rearm",
        "channel-test",
        "api-key-revoke",
    }


@pytest.mark.parametrize(
    "name, template, params", [r for r in ROUTES if r[0] not in PUBLIC and r[0] != "logout"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(name, template, params, method):
    url = template % {param: 1 for param in params}
    response = getattr(Client(), method)(url)
    if response.status_code == 405:
        return  # the page does not take this method at all, signed in or not
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"].startswith("/app/login?next=")


@pytest.mark.parametrize("name, template, params", OWNED)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_object_is_a_404_page_and_unchanged(alice, bob_web, name, template, params, method):
    objects = {param: make(alice, param) for param in params}
    before = {param: list(type(obj).objects.filter(pk=obj.pk).values()) for param, obj in objects.items()}
    url = template % {param: obj.pk for param, obj in objects.items()}
    response = getattr(bob_web, method)(url, {"enabled": "false", "target_price": "1"})
    if response.status_code == 405:
        return
    assert response.status_code == 404, (url, response.status_code)
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "Not found" in content and MARKER not in content
    assert {
        param: list(type(obj).objects.filter(pk=obj.pk).values()) for param, obj in objects.items()
    } == before


@pytest.mark.parametrize("name, template, params", OWNED)
def test_the_owner_reaches_it(alice, alice_web, name, template, params):
    url = template % {param: make(alice, param).pk for param in params}
    method = "get" if name in ("alert", "alert-edit", "group", "channel-edit") else "post"
    response = getattr(alice_web, method)(url, {"end": "1"} if name == "alert-snooze" else {})
    assert response.status_code in (200, 302), (url, response.status_code)


def test_a_missing_alert_is_the_same_404(bob_web):
    assert bob_web.get("/app/alerts/999999").status_code == 404
    assert bob_web.get("/app/alerts/99999999999999999999").status_code == 404  # past a bigint: not a route


def test_the_site_root_goes_to_the_app(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/app/"


def test_every_form_needs_its_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    alert = make(alice, "alert_id")
    key = make(alice, "key_id")
    account_forms = (
        "/app/account/verify/resend",
        "/app/account/password",
        "/app/account/preferences",
        "/app/account/api-keys",
        f"/app/account/api-keys/{key.pk}/revoke",
        "/app/account/logout-all",
        "/app/account/delete",
    )
    public_forms = (
        "/app/login",
        "/app/signup",
        "/app/verify",
        "/app/password/reset",
        "/app/password/reset/confirm",
    )
    urls = ("/app/alerts/new", f"/app/alerts/{alert.pk}/delete", "/app/channels", "/app/logout")
    for url in (*urls, *account_forms, *public_forms):
        data = {"symbol": "BTCUSDT", "target_price": "1", "password": PASSWORD, "time_zone": "Europe/Paris"}
        assert client.post(url, data).status_code == 403, url
    assert type(alice).objects.filter(pk=alice.pk, time_zone="UTC").exists()
    assert type(key).objects.filter(pk=key.pk).exists()
    alert.refresh_from_db()
    assert alert.status == "created"
    page = client.get("/app/alerts/new").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


def test_pages_carry_a_policy_without_inline_script(alice_web):
    pages = [(alice_web, url) for url in ("/app/", "/app/alerts/new", "/app/channels", "/app/account")]
    public = ("/app/login", "/app/signup", "/app/verify?token=x", "/app/password/reset")
    public += ("/app/password/reset/confirm?uid=x&token=y",)
    for client, url in [*pages, *((Client(), url) for url in public)]:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'self'" in policy, policy
        assert "unsafe-inline" not in policy
        html = response.content.decode()
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts), url
        assert " style=" not in html and "<style" not in html
        assert "http://" not in html.replace("http://www.w3.org", "") and "//cdn" not in html


def test_a_poll_after_the_session_ended_sends_the_page_to_login():
    response = Client().get(
        "/app/alerts/rows?status=created",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/app/?status=created"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/app/login?next=%2Fapp%2F%3Fstatus%3Dcreated"


def test_duplicating_another_users_alert_is_a_404(alice, bob_web):
    theirs = make(alice, "alert_id")
    response = bob_web.get(f"/app/alerts/new?from={theirs.pk}")
    assert response.status_code == 404 and MARKER not in response.content.decode()
