"""The alert list is served from the per-user cache, never stale, and survives a dead cache."""

import pytest

from alerts.cache import _bump, cached_alert_page
from alerts.models import Alert
from alerts.selectors import alert_list_page

pytestmark = pytest.mark.django_db


def statuses(client, **params) -> list[tuple[int, str, str]]:
    response = client.get("/alerts/", params)
    assert response.status_code == 200
    return [(a["id"], a["status"], a["target_price"]) for a in response.json()["results"]]


def test_a_repeated_read_is_served_from_the_cache(alice_client, alice, make_alert):
    alert = make_alert(alice)
    first = statuses(alice_client)
    # A write that bypasses the services does not invalidate: the cached page is what
    # comes back, which shows the list really is read from the cache.
    Alert.objects.filter(pk=alert.pk).update(target_price=1)
    assert statuses(alice_client) == first


def test_a_cache_hit_does_not_query_alerts(alice_client, alice, make_alert, django_assert_num_queries):
    make_alert(alice)
    statuses(alice_client)
    # What is left: the authentication's user lookup and the symbols' catalogue status (never
    # cached: the catalogue changes without touching alerts).
    with django_assert_num_queries(2) as queries:
        statuses(alice_client)
    assert not [q for q in queries.captured_queries if "alerts_alert" in q["sql"]]
    with django_assert_num_queries(1) as queries:
        page = alert_list_page(user=alice, filters={}, page=1, per_page=20)
    assert "feeds_symbol" in queries.captured_queries[0]["sql"]
    assert page.count == 1


def test_each_query_is_cached_separately(alice_client, alice, make_alert):
    btc = make_alert(alice, symbol="BTCUSDT")
    eth = make_alert(alice, symbol="ETHUSDT", target_price="3000")
    assert [a[0] for a in statuses(alice_client, symbol="btcusdt")] == [btc.id]
    assert [a[0] for a in statuses(alice_client, symbol="ETHUSDT")] == [eth.id]
    assert [a[0] for a in statuses(alice_client, per_page=1)] == [eth.id]
    assert [a[0] for a in statuses(alice_client, per_page=1, page=2)] == [btc.id]


def test_a_create_is_visible_on_the_next_read(
    alice_client, alice, make_alert, django_capture_on_commit_callbacks
):
    old = make_alert(alice)
    assert len(statuses(alice_client)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        created = alice_client.post(
            "/alerts/", {"symbol": "ETHUSDT", "target_price": "3000", "direction": "above"}
        ).json()

    assert [a[0] for a in statuses(alice_client)] == [created["id"], old.id]


def test_an_update_is_visible_on_the_next_read(
    alice_client, alice, make_alert, django_capture_on_commit_callbacks
):
    alert = make_alert(alice, target_price="70000")
    assert statuses(alice_client) == [(alert.id, "created", "70000.00000000")]

    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.patch(f"/alerts/{alert.id}", {"target_price": "71000"}).status_code == 200

    assert statuses(alice_client) == [(alert.id, "created", "71000.00000000")]


@pytest.mark.parametrize("path", ["/alerts/{id}", "/alerts/delete/{id}"])
def test_a_delete_is_visible_on_the_next_read(
    alice_client, alice, make_alert, django_capture_on_commit_callbacks, path
):
    alert = make_alert(alice)
    assert len(statuses(alice_client)) == 1
    assert statuses(alice_client, status="deleted") == []

    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(path.format(id=alert.id)).status_code == 204

    assert statuses(alice_client) == []
    assert statuses(alice_client, status="deleted") == [(alert.id, "deleted", "70000.00000000")]


def test_a_change_to_one_user_leaves_anothers_cache_alone(
    alice_client, bob_client, alice, bob, make_alert, django_capture_on_commit_callbacks
):
    make_alert(bob)
    statuses(bob_client)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/alerts/", {"symbol": "ETHUSDT", "target_price": "3000", "direction": "above"})
    Alert.objects.filter(user=bob).update(target_price=1)
    # Bob's page was not invalidated by Alice's change, so it is still the cached one.
    assert statuses(bob_client)[0][2] == "70000.00000000"


@pytest.fixture
def cache_down(settings, closed_port):
    """The cache points at a port nothing answers on."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{closed_port}/11",
            "OPTIONS": {
                **settings.CACHES["default"]["OPTIONS"],
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }


def test_the_list_is_served_from_the_database_when_the_cache_is_down(
    alice_client, alice, make_alert, cache_down
):
    alert = make_alert(alice)

    response = alice_client.get("/alerts/")

    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [alert.id]


def test_a_change_commits_and_answers_when_the_cache_cannot_be_invalidated(
    alice_client, alice, cache_down, django_capture_on_commit_callbacks
):
    # The invalidation runs after the commit; failing then must not turn a saved
    # change into an error that invites the client to send it again.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_client.post(
            "/alerts/", {"symbol": "BTCUSDT", "target_price": "70000", "direction": "above"}
        )

    assert response.status_code == 201
    assert callbacks
    assert Alert.objects.filter(user=alice, symbol="BTCUSDT").count() == 1


def test_a_cache_time_of_zero_turns_the_cache_off(
    alice_client, alice, make_alert, settings, django_assert_num_queries
):
    settings.ALERT_LIST_CACHE_SECONDS = 0
    alert = make_alert(alice, target_price="70000")
    assert statuses(alice_client) == [(alert.id, "created", "70000.00000000")]
    # A write that bypasses the services is seen at once: nothing was cached.
    Alert.objects.filter(pk=alert.pk).update(target_price=1)
    assert statuses(alice_client) == [(alert.id, "created", "1.00000000")]
    with django_assert_num_queries(4):  # COUNT, page, its channels, its symbols: every time
        alert_list_page(user=alice, filters={}, page=1, per_page=20)


def test_a_page_computed_across_a_change_is_never_served_after_it():
    def reader_overtaken_by_a_change():
        _bump([42])  # another request's change commits while this page is computed
        return "before the change"

    assert cached_alert_page(42, "q", reader_overtaken_by_a_change) == "before the change"
    # Stored under the version it was computed under, so the next read recomputes...
    assert cached_alert_page(42, "q", lambda: "after the change") == "after the change"
    # ...and that one is served from then on.
    assert cached_alert_page(42, "q", lambda: "not asked") == "after the change"
