"""A watchlist of window alerts: "any of these coins down 8% in 24h" is one request, one alert per symbol."""

from decimal import Decimal as D

import pytest

from alerts.models import Alert, AlertGroup
from alerts.tests.test_window_alerts import feed, now_floor_minute
from feeds import store


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_watchlist_of_moves_makes_one_move_alert_per_symbol_and_each_fires_on_its_own(alice, alice_client):
    body = {"symbols": ["btcusdt", "ETHUSDT"], "move_percent": "8", "window": "24h", "direction": "down"}
    response = alice_client.post("/alerts/", body, format="json")
    assert response.status_code == 201, response.json()
    group = response.json()
    assert group["symbols"] == ["BTCUSDT", "ETHUSDT"]
    assert {
        (a["symbol"], a["kind"], a["window"], a["move_percent"], a["move_direction"]) for a in group["alerts"]
    } == {
        ("BTCUSDT", "move", "24h", "8.0000", "down"),
        ("ETHUSDT", "move", "24h", "8.0000", "down"),
    }
    assert AlertGroup.objects.get(pk=group["id"]).alerts.count() == 2

    # Armed a few minutes ago (the trades below come after it): ETH falls 8 %, BTC only 7.99 %.
    t = now_floor_minute() - 5 * 60_000
    Alert.objects.filter(group_id=group["id"]).update(armed_at=store.ms_to_datetime(t - 1_000))
    feed("ETHUSDT", [(D("3000"), D("1"), t), (D("2760"), D("1"), t + 60_000)], [1, 1])
    feed("BTCUSDT", [(D("100000"), D("1"), t), (D("92010"), D("1"), t + 60_000)], [1, 1])
    statuses = dict(Alert.objects.filter(group_id=group["id"]).values_list("symbol", "status"))
    assert statuses == {"ETHUSDT": "triggered", "BTCUSDT": "created"}


@pytest.mark.django_db
def test_a_watchlist_of_volume_spikes_is_all_or_nothing(alice_client):
    body = {"symbols": ["BTCUSDT", "NOSUCHUSDT"], "volume_quote": "25000000", "window": "5m"}
    response = alice_client.post("/alerts/", body, format="json")
    assert response.status_code == 400
    assert "symbols.1" in response.json()["errors"]
    assert not Alert.objects.exists() and not AlertGroup.objects.exists()
    both = alice_client.post("/alerts/", {**body, "symbols": ["BTCUSDT"], "symbol": "ETHUSDT"}, format="json")
    assert both.status_code == 400 and "symbols" in both.json()["errors"]
