"""GET /health reports the feed age per connection; "degraded" (still 200) when alerts wait on stale data."""

import time

import pytest

from feeds import store

pytestmark = pytest.mark.django_db


def health(client) -> dict:
    response = client.get("/health")
    assert response.status_code == 200
    return response.json()


def test_no_waiting_alerts_and_no_feeder_is_ok(anon_client):
    body = health(anon_client)
    assert body["status"] == "ok"
    assert body["feed"] == {"status": "ok", "age_seconds": None, "connections": {}, "waiting_symbols": 0}


def test_waiting_alerts_without_any_heartbeat_is_degraded(anon_client, alice, make_alert):
    make_alert(alice, symbol="BTCUSDT")
    body = health(anon_client)
    assert body["status"] == "degraded"
    assert body["feed"]["status"] == "stale"
    assert body["feed"]["waiting_symbols"] == 1


def test_a_fresh_heartbeat_is_ok_and_reports_each_connection_age(anon_client, alice, make_alert):
    make_alert(alice, symbol="BTCUSDT")
    store.write_heartbeats({"host/0": time.time() - 2, "host/1": time.time() - 500})
    body = health(anon_client)
    assert body["status"] == "ok"
    assert 1.5 <= body["feed"]["age_seconds"] < 30  # the newest connection counts
    assert set(body["feed"]["connections"]) == {"host/0", "host/1"}
    assert body["feed"]["connections"]["host/1"] >= 500


def test_a_heartbeat_older_than_feed_stale_seconds_is_degraded(anon_client, alice, make_alert, settings):
    settings.FEED_STALE_SECONDS = 60
    make_alert(alice, symbol="ETHUSDT")
    store.write_heartbeat("host/0", time.time() - 120)
    body = health(anon_client)
    assert body["status"] == "degraded"
    assert body["feed"]["age_seconds"] >= 120


def test_a_stale_feed_without_waiting_alerts_is_not_degraded(anon_client):
    store.write_heartbeat("host/0", time.time() - 3600)
    assert health(anon_client)["status"] == "ok"
