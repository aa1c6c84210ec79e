"""GET /alerts/: the caller's alerts, newest first, paginated and filtered."""

from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.django_db


def link(url: str) -> tuple[str, dict]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def ids(response) -> list[int]:
    return [alert["id"] for alert in response.json()["results"]]


@pytest.mark.parametrize("path", ["/alerts", "/alerts/"])
def test_lists_only_the_callers_alerts_newest_first(alice_client, alice, bob, make_alert, path):
    first = make_alert(alice, target_price="60000")
    make_alert(bob, target_price="61000")
    second = make_alert(alice, symbol="ETHUSDT", target_price="3000.5", direction="below")

    response = alice_client.get(path)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert ids(response) == [second.id, first.id]
    assert body["results"][0] == {
        "id": second.id,
        "symbol": "ETHUSDT",
        "direction": "below",
        "side": "below",
        "target_price": "3000.50000000",
        "reference_price": None,
        "change_percent": None,
        "status": "created",
        "repeat": "once",
        "cooldown_seconds": None,
        "rearm_percent": "0.1000",
        "created_at": body["results"][0]["created_at"],
        "armed_at": body["results"][0]["armed_at"],
        "triggered_at": None,
        "triggered_price": None,
        "last_triggered_at": None,
        "trigger_count": 0,
        "expires_at": None,
        "note": "",
        "group": None,
        "snoozed_until": None,
        "symbol_status": "TRADING",
        "channels": [],
        "kind": "price",
        "window": None,
        "move_percent": None,
        "move_direction": None,
        "volume_quote": None,
    }


def test_an_empty_list_is_a_200(alice_client):
    assert alice_client.get("/alerts/").json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_deleted_alerts_are_hidden_unless_asked_for(alice_client, alice, make_alert):
    waiting = make_alert(alice)
    fired = make_alert(alice, status="triggered")
    gone = make_alert(alice, status="deleted")

    assert ids(alice_client.get("/alerts/")) == [fired.id, waiting.id]
    assert ids(alice_client.get("/alerts/", {"status": "deleted"})) == [gone.id]
    assert ids(alice_client.get("/alerts/", {"status": "triggered"})) == [fired.id]
    assert ids(alice_client.get("/alerts/", {"status": "created"})) == [waiting.id]
    # An empty status is no filter.
    assert ids(alice_client.get("/alerts/", {"status": ""})) == [fired.id, waiting.id]


def test_an_unknown_status_is_a_400_listing_the_valid_ones(alice_client):
    response = alice_client.get("/alerts/", {"status": "waiting"})
    assert response.status_code == 400
    assert (
        response.json()["detail"]
        == 'status: Unknown status "waiting": use one of created, rearming, triggered, expired, deleted, '
        "paused."
    )


def test_symbol_filter_is_case_insensitive(alice_client, alice, make_alert):
    btc = make_alert(alice, symbol="BTCUSDT")
    make_alert(alice, symbol="ETHUSDT", target_price="3000")
    assert ids(alice_client.get("/alerts/", {"symbol": "btcusdt"})) == [btc.id]
    assert ids(alice_client.get("/alerts/", {"symbol": "BtcUsdt", "status": "created"})) == [btc.id]
    assert ids(alice_client.get("/alerts/", {"symbol": "XRPUSDT"})) == []


@pytest.mark.parametrize("symbol", ["BTC-USDT", "' OR 1=1 --", "B" * 33])
def test_a_malformed_symbol_filter_is_a_400(alice_client, symbol):
    response = alice_client.get("/alerts/", {"symbol": symbol})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("symbol: ")


@pytest.mark.parametrize("size_param", ["per_page", "page_size"])
def test_pagination_with_next_and_previous_links(alice_client, alice, make_alert, size_param):
    alerts = [make_alert(alice, target_price=str(60000 + i)) for i in range(5)]
    newest_first = [a.id for a in reversed(alerts)]

    page1 = alice_client.get("/alerts/", {size_param: 2})
    page2 = alice_client.get(page1.json()["next"])
    page3 = alice_client.get(page2.json()["next"])

    assert page1.json()["count"] == 5
    assert ids(page1) + ids(page2) + ids(page3) == newest_first
    assert page1.json()["previous"] is None
    assert link(page2.json()["next"]) == ("http://testserver/alerts/", {size_param: ["2"], "page": ["3"]})
    assert link(page2.json()["previous"]) == ("http://testserver/alerts/", {size_param: ["2"]})
    assert page3.json()["next"] is None


def test_the_default_page_holds_twenty(alice_client, alice, make_alert):
    for i in range(21):
        make_alert(alice, target_price=str(60000 + i))
    body = alice_client.get("/alerts/").json()
    assert len(body["results"]) == 20
    assert body["next"] == "http://testserver/alerts/?page=2"


@pytest.mark.parametrize(
    "params",
    [{"per_page": 0}, {"per_page": 101}, {"page_size": -1}, {"per_page": "ten"}, {"page": 0}, {"page": "x"}],
)
def test_bad_paging_parameters_are_400(alice_client, params):
    response = alice_client.get("/alerts/", params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == list(params)


def test_per_page_of_100_is_allowed(alice_client):
    assert alice_client.get("/alerts/", {"per_page": 100}).status_code == 200


def test_a_page_past_the_end_is_a_404(alice_client, alice, make_alert):
    make_alert(alice)
    response = alice_client.get("/alerts/", {"page": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_unauthenticated_is_401(anon_client):
    assert anon_client.get("/alerts/").status_code == 401
