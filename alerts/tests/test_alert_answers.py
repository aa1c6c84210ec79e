"""Create, list, retrieve and update answer an alert with the same fields, and a list page's
extra fields cost a fixed number of queries, however many alerts it shows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.channels import channel_create, channel_delete
from alerts.services import alert_create
from feeds.models import Symbol

pytestmark = pytest.mark.django_db


def webhook(user, name="hook"):
    return channel_create(user=user, kind="webhook", name=name, url="https://hooks.example.com/x")


def test_create_list_get_and_update_answer_the_same_fields(alice_client, alice, settings):
    settings.ALERT_LIST_CACHE_SECONDS = 0
    hook = webhook(alice)
    created = alice_client.post(
        "/alerts/",
        {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above", "channels": [hook.pk]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["symbol_status"], body["channels"]) == ("TRADING", [hook.pk])

    listed = alice_client.get("/alerts/").json()["results"][0]
    fetched = alice_client.get(f"/alerts/{body['id']}").json()
    updated = alice_client.patch(f"/alerts/{body['id']}", {"note": "n"}, format="json").json()

    assert set(listed) == set(fetched) == set(body) == set(updated)
    assert listed == fetched == body
    assert {k: v for k, v in updated.items() if k != "note"} == {k: v for k, v in body.items() if k != "note"}


def test_the_list_answer_follows_the_catalogue_even_from_the_cache(alice_client, alice, make_alert):
    make_alert(alice, symbol="ETHUSDT", target_price="3000")
    make_alert(alice, symbol="BTCUSDT")
    first = alice_client.get("/alerts/").json()["results"]
    assert [(a["symbol"], a["symbol_status"]) for a in first] == [
        ("BTCUSDT", "TRADING"),
        ("ETHUSDT", "TRADING"),
    ]

    # syncsymbols halts one and delists the other: the page is still cached, the statuses are not.
    Symbol.objects.filter(symbol="BTCUSDT").update(status="HALT")
    Symbol.objects.filter(symbol="ETHUSDT").delete()
    again = alice_client.get("/alerts/").json()["results"]
    assert [(a["symbol"], a["symbol_status"]) for a in again] == [("BTCUSDT", "HALT"), ("ETHUSDT", "UNKNOWN")]


def test_a_deleted_channel_leaves_the_cached_list_at_once(
    alice_client, alice, django_capture_on_commit_callbacks
):
    hook, other = webhook(alice, "a"), webhook(alice, "b")
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_client.post(
            "/alerts/",
            {
                "symbol": "BTCUSDT",
                "target_price": "70000",
                "direction": "above",
                "channels": [other.pk, hook.pk],
            },
            format="json",
        ).json()
    assert alice_client.get("/alerts/").json()["results"][0]["channels"] == sorted([hook.pk, other.pk])

    with django_capture_on_commit_callbacks(execute=True):
        channel_delete(channel=hook)

    assert alice_client.get("/alerts/").json()["results"][0]["channels"] == [other.pk]
    assert alice_client.get(f"/alerts/{created['id']}").json()["channels"] == [other.pk]


def _queries_for_a_list(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/alerts/", {"per_page": 100})
    assert response.status_code == 200
    return len(queries.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("cached", [False, True])
def test_a_list_page_costs_the_same_queries_for_3_or_60_alerts(
    alice_client, alice, settings, cached, django_capture_on_commit_callbacks
):
    """No query per alert: the channels are read for the whole page in one query, the symbol
    statuses in another (on a cache hit only the statuses)."""
    settings.ALERT_LIST_CACHE_SECONDS = 300 if cached else 0
    hooks = [webhook(alice, f"h{n}") for n in range(3)]
    symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"]

    def add(count):
        for n in range(count):
            alert_create(
                user=alice,
                symbol=symbols[n % 3],
                target_price=Decimal(1000),
                direction="above",
                channels=[h.pk for h in hooks[: n % 4]],
            )

    add(3)
    if cached:
        _queries_for_a_list(alice_client)  # fills the cache
    few, shown_few = _queries_for_a_list(alice_client)
    with django_capture_on_commit_callbacks(execute=True):
        add(57)  # bumps the cached list once committed
    if cached:
        _queries_for_a_list(alice_client)
    many, shown_many = _queries_for_a_list(alice_client)

    assert (shown_few, shown_many) == (3, 60)
    assert few == many
    # The user lookup, then COUNT, page, channels, statuses; on a hit the user and the statuses.
    assert many == (2 if cached else 5)
    body = alice_client.get("/alerts/", {"per_page": 100}).json()["results"]
    assert sorted(len(alert["channels"]) for alert in body) == sorted(
        [n % 4 for n in range(3)] + [n % 4 for n in range(57)]
    )
