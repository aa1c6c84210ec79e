"""Watchlists: "symbols" on create makes one alert per symbol, all or none; /alert-groups manages them."""

import time
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts import engine
from alerts.models import Alert, AlertGroup, Notification
from alerts.selectors import waiting_symbols
from feeds.store import write_price
from feeds.windows import PriceWindow

pytestmark = pytest.mark.django_db

THREE = ["btcusdt", "ETHUSDT", "SOLUSDT"]


def now_ms() -> int:
    return int(time.time() * 1000)


def create(client, symbols=THREE, **body):
    body = {"target_price": "5000", "direction": "below", **body}
    body = {key: value for key, value in body.items() if value is not None}  # None: leave it out
    return client.post("/alerts/", {"symbols": symbols, **body}, format="json")


def fresh(**prices):
    for symbol, price in prices.items():
        write_price(symbol, Decimal(price), now_ms())


class TestCreate:
    def test_one_alert_per_symbol_answered_as_the_watchlist(self, alice, alice_client):
        response = create(alice_client, note="dip")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        assert (body["statuses"], body["paused"]) == ({"created": 3}, False)
        group = AlertGroup.objects.get(pk=body["id"])
        alerts = Alert.objects.filter(group=group).order_by("id")
        assert [(a.symbol, a.target_price, a.direction, a.note) for a in alerts] == [
            (symbol, Decimal("5000"), "below", "dip") for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT")
        ]
        listed = alice_client.get("/alerts/").json()["results"]
        assert {alert["group"] for alert in listed} == {group.pk}
        assert set(waiting_symbols()) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}

    def test_a_percent_target_is_resolved_from_each_symbols_own_price(self, alice_client):
        fresh(BTCUSDT="60000", ETHUSDT="3000", SOLUSDT="150")
        response = create(alice_client, target_price=None, direction=None, change_percent="-8")
        assert response.status_code == 201, response.json()
        got = {a["symbol"]: (a["reference_price"], a["target_price"]) for a in response.json()["alerts"]}
        assert got == {
            "BTCUSDT": ("60000.00000000", "55200.00000000"),
            "ETHUSDT": ("3000.00000000", "2760.00000000"),
            "SOLUSDT": ("150.00000000", "138.00000000"),
        }

    def test_one_symbol_without_a_price_creates_nothing_and_says_which(
        self, alice_client, settings, closed_port
    ):
        settings.BINANCE_API_URL = f"http://127.0.0.1:{closed_port}"
        fresh(BTCUSDT="60000", SOLUSDT="150")  # ETHUSDT: never seen, and REST is unreachable
        response = create(alice_client, target_price=None, direction=None, change_percent="-8")
        assert response.status_code == 400
        [message] = response.json()["errors"]["change_percent"]
        assert message.startswith("ETHUSDT: ")
        assert not Alert.objects.exists() and not AlertGroup.objects.exists()

    def test_a_target_one_symbol_refuses_creates_nothing(self, alice_client):
        response = create(alice_client, symbols=["BTCUSDT", "ADAUSDT"])  # ADAUSDT's max price is 1000
        assert response.status_code == 400
        assert response.json()["errors"]["target_price"] == ["ADAUSDT: Must be at most 1000 for ADAUSDT."]
        assert not Alert.objects.exists()

    @pytest.mark.parametrize(
        "symbols, key",
        [
            (["BTCUSDT", "NOPEUSDT"], "symbols.1"),
            (["BTCUSDT", "ETHUSDT", "btcusdt"], "symbols.2"),
            ([], "symbols"),
            (["BTC-USDT"], "symbols.0"),
            ("BTCUSDT", "symbols"),
        ],
    )
    def test_bad_symbols_are_a_400_naming_the_item(self, alice_client, symbols, key):
        response = create(alice_client, symbols=symbols)
        assert response.status_code == 400
        assert key in response.json()["errors"], response.json()
        assert not Alert.objects.exists()

    def test_at_most_the_setting_of_symbols(self, alice_client, settings):
        settings.ALERTS_MAX_SYMBOLS_PER_GROUP = 2
        response = create(alice_client)
        assert response.status_code == 400
        assert response.json()["errors"]["symbols"] == ["At most 2 symbols in one watchlist (3 sent)."]

    def test_the_default_limit_is_fifty(self, alice_client, settings):
        assert settings.ALERTS_MAX_SYMBOLS_PER_GROUP == 50

    def test_symbol_and_symbols_together_is_a_400(self, alice_client):
        response = create(alice_client, symbol="BTCUSDT")
        assert response.status_code == 400 and "symbols" in response.json()["errors"]


class TestCaps:
    def test_each_symbol_counts_and_a_watchlist_past_the_cap_creates_nothing(
        self, alice, alice_client, settings, make_alert
    ):
        settings.ALERTS_MAX_WAITING_PER_USER = 5
        for _ in range(3):
            make_alert(alice)
        response = create(alice_client)
        assert response.status_code == 409
        assert "these 3 would pass the limit of 5" in response.json()["detail"]
        assert Alert.objects.count() == 3 and not AlertGroup.objects.exists()
        assert create(alice_client, symbols=["ETHUSDT", "SOLUSDT"]).status_code == 201
        assert Alert.objects.filter(status="created").count() == 5
        assert (
            alice_client.post(
                "/alerts/", {"symbol": "BTCUSDT", "target_price": "5000", "direction": "below"}, format="json"
            ).status_code
            == 409
        )

    def test_resuming_checks_the_cap_again(self, alice, alice_client, settings, make_alert):
        settings.ALERTS_MAX_WAITING_PER_USER = 3
        group_id = create(alice_client).json()["id"]
        alice_client.patch(f"/alert-groups/{group_id}", {"paused": True}, format="json")
        make_alert(alice)  # paused ones do not count: room for another alert meanwhile
        response = alice_client.patch(f"/alert-groups/{group_id}", {"paused": False}, format="json")
        assert response.status_code == 409
        assert set(Alert.objects.filter(group_id=group_id).values_list("status", flat=True)) == {"paused"}


class TestManage:
    def test_list_and_get_only_the_callers(self, alice_client, bob_client):
        first = create(alice_client).json()["id"]
        second = create(alice_client, symbols=["BNBUSDT"]).json()["id"]
        create(bob_client)
        page = alice_client.get("/alert-groups/").json()
        assert (page["count"], [g["id"] for g in page["results"]]) == (2, [second, first])
        assert alice_client.get(f"/alert-groups/{first}").json()["symbols"] == [
            "BTCUSDT",
            "ETHUSDT",
            "SOLUSDT",
        ]
        assert bob_client.get(f"/alert-groups/{first}").status_code == 404
        assert (
            alice_client.get("/alert-groups/", {"per_page": 1, "page": 2}).json()["results"][0]["id"] == first
        )

    def test_a_change_applies_to_every_alert(self, alice_client):
        group_id = create(alice_client).json()["id"]
        response = alice_client.patch(
            f"/alert-groups/{group_id}",
            {"note": "all of them", "repeat": "every", "cooldown_seconds": 300},
            format="json",
        )
        assert response.status_code == 200, response.json()
        rows = Alert.objects.filter(group_id=group_id)
        assert {(a.note, a.repeat, a.cooldown_seconds) for a in rows} == {("all of them", "every", 300)}

    def test_a_change_one_symbol_refuses_changes_none(self, alice_client):
        group_id = create(alice_client, symbols=["BTCUSDT", "ADAUSDT"], target_price="500").json()["id"]
        response = alice_client.patch(f"/alert-groups/{group_id}", {"target_price": "5000"}, format="json")
        assert response.status_code == 400
        assert response.json()["errors"]["target_price"] == ["ADAUSDT: Must be at most 1000 for ADAUSDT."]
        assert set(Alert.objects.values_list("target_price", flat=True)) == {Decimal("500")}

    def test_a_new_percent_is_resolved_per_symbol(self, alice_client):
        group_id = create(alice_client, symbols=["BTCUSDT", "ETHUSDT"]).json()["id"]
        fresh(BTCUSDT="60000", ETHUSDT="3000")
        response = alice_client.patch(f"/alert-groups/{group_id}", {"change_percent": "5"}, format="json")
        assert response.status_code == 200, response.json()
        got = {a["symbol"]: (a["target_price"], a["side"]) for a in response.json()["alerts"]}
        assert got == {"BTCUSDT": ("63000.00000000", "above"), "ETHUSDT": ("3150.00000000", "above")}

    def test_pause_stops_following_and_firing_resume_rearms_from_now(self, alice_client):
        group_id = create(alice_client, symbols=["BTCUSDT", "ETHUSDT"]).json()["id"]
        paused = alice_client.patch(f"/alert-groups/{group_id}", {"paused": True}, format="json").json()
        assert (paused["paused"], paused["statuses"]) == (True, {"paused": 2})
        assert set(waiting_symbols()) == set()
        at = now_ms()
        low = Decimal("4000")
        assert engine.evaluate_windows([PriceWindow("BTCUSDT", low, low, low, at, at)]) == 0
        before = timezone.now()
        resumed = alice_client.patch(f"/alert-groups/{group_id}", {"paused": False}, format="json").json()
        assert (resumed["paused"], resumed["statuses"]) == (False, {"created": 2})
        assert all(a.armed_at >= before for a in Alert.objects.filter(group_id=group_id))
        assert set(waiting_symbols()) == {"BTCUSDT", "ETHUSDT"}

    def test_each_symbol_fires_on_its_own(self, alice_client):
        group_id = create(alice_client).json()["id"]
        Alert.objects.update(armed_at=timezone.now() - timezone.timedelta(minutes=1))
        at = now_ms()
        low = Decimal("4999")
        assert engine.evaluate_windows([PriceWindow("ETHUSDT", low, low, low, at, at)]) == 1
        statuses = dict(Alert.objects.filter(group_id=group_id).values_list("symbol", "status"))
        assert statuses == {"BTCUSDT": "created", "ETHUSDT": "triggered", "SOLUSDT": "created"}
        assert list(Notification.objects.values_list("alert__symbol", flat=True)) == ["ETHUSDT"]
        body = alice_client.get(f"/alert-groups/{group_id}").json()
        assert body["statuses"] == {"created": 2, "triggered": 1}
        # Fired ones are left alone by later changes.
        alice_client.patch(f"/alert-groups/{group_id}", {"note": "later"}, format="json")
        assert dict(Alert.objects.values_list("symbol", "note"))["ETHUSDT"] == ""

    def test_snooze_every_alert_of_it(self, alice_client):
        group_id = create(alice_client).json()["id"]
        until = (timezone.now() + timezone.timedelta(hours=2)).isoformat()
        response = alice_client.patch(f"/alert-groups/{group_id}", {"snoozed_until": until}, format="json")
        assert response.status_code == 200
        assert all(a["snoozed_until"] for a in response.json()["alerts"])

    def test_delete_removes_all_its_alerts(self, alice_client, bob_client):
        group_id = create(alice_client).json()["id"]
        assert bob_client.delete(f"/alert-groups/{group_id}").status_code == 404
        assert alice_client.delete(f"/alert-groups/{group_id}").status_code == 204
        assert set(Alert.objects.values_list("status", flat=True)) == {"deleted"}
        assert alice_client.get(f"/alert-groups/{group_id}").status_code == 404
        assert set(waiting_symbols()) == set()

    def test_a_finished_watchlist_cannot_be_changed(self, alice_client):
        group_id = create(alice_client).json()["id"]
        Alert.objects.update(status="triggered")
        response = alice_client.patch(f"/alert-groups/{group_id}", {"note": "x"}, format="json")
        assert response.status_code == 409
