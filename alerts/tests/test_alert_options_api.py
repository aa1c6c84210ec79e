"""Alerts with options: percent, cross, repeat, expiry, note, channels, the cap."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, Channel
from alerts.services import percent_target
from feeds.store import write_price

pytestmark = pytest.mark.django_db


def now_ms():
    return int(time.time() * 1000)


def create(client, **body):
    body.setdefault("symbol", "ETHUSDT")
    return client.post("/alerts/", body, format="json")


def error_of(response, field):
    assert response.status_code == 400, response.json()
    return response.json()["errors"][field][0]


class TestPercentAlerts:
    def test_a_fall_resolves_to_an_exact_below_target_from_the_latest_price(self, alice_client):
        write_price("ETHUSDT", Decimal("3000.12345678"), now_ms())
        response = create(alice_client, change_percent="-5")
        assert response.status_code == 201, response.json()
        body = response.json()
        # 3000.12345678 * 0.95 = 2850.117283941 exactly: rounded down (outward) to 8 decimals.
        assert body["target_price"] == "2850.11728394"
        assert (body["direction"], body["side"]) == ("below", "below")
        assert (body["reference_price"], body["change_percent"]) == ("3000.12345678", "-5.0000")
        alert = Alert.objects.get(pk=body["id"])
        assert alert.target_price == Decimal("2850.11728394")
        assert alert.reference_price == Decimal("3000.12345678")

    def test_a_rise_rounds_up_so_the_move_is_never_smaller_than_asked(self, alice_client):
        write_price("ETHUSDT", Decimal("3000.12345678"), now_ms())
        body = create(alice_client, change_percent="2.5").json()
        # 3000.12345678 * 1.025 = 3075.126543199500 -> 3075.12654320
        assert (body["target_price"], body["direction"]) == ("3075.12654320", "above")

    @pytest.mark.parametrize(
        "reference, percent, target",
        [
            ("100", "-5", "95"),
            ("0.00001234", "10", "0.00001358"),  # 0.000013574 rounded up
            ("0.00001234", "-10", "0.00001110"),  # 0.000011106 rounded down
            ("65000", "0.0001", "65000.065"),
        ],
    )
    def test_percent_target_is_decimal_exact(self, reference, percent, target):
        assert percent_target(Decimal(reference), Decimal(percent)) == Decimal(target)

    def test_no_latest_price_is_a_400(self, alice_client):
        assert "No price is known for ETHUSDT" in error_of(
            create(alice_client, change_percent="-5"), "change_percent"
        )

    @pytest.mark.parametrize("percent", ["0", "-100", "-100.5"])
    def test_a_zero_or_total_fall_is_a_400(self, alice_client, percent):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        assert error_of(create(alice_client, change_percent=percent), "change_percent")

    def test_just_above_minus_100_is_accepted(self, alice_client):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        response = create(alice_client, change_percent="-99.9")
        assert response.status_code == 201, response.json()
        assert response.json()["target_price"] == "3.00000000"

    def test_both_or_neither_of_target_and_percent_is_a_400(self, alice_client):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        assert error_of(create(alice_client, target_price="10", change_percent="5"), "change_percent")
        assert error_of(create(alice_client), "target_price")

    def test_a_direction_against_the_sign_is_a_400(self, alice_client):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        assert error_of(create(alice_client, change_percent="-5", direction="above"), "direction")

    def test_a_float_looking_number_is_read_exactly(self, alice_client):
        write_price("ETHUSDT", Decimal("1000"), now_ms())
        response = alice_client.post(
            "/alerts/", '{"symbol": "ETHUSDT", "change_percent": 0.1}', content_type="application/json"
        )
        assert response.json()["target_price"] == "1001.00000000"


class TestCrossAlerts:
    def test_the_side_is_fixed_from_the_latest_price(self, alice_client):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        up = create(alice_client, target_price="3100", direction="cross").json()
        down = create(alice_client, target_price="2900", direction="cross").json()
        assert (up["direction"], up["side"]) == ("cross", "above")
        assert (down["direction"], down["side"]) == ("cross", "below")
        assert Alert.objects.get(pk=up["id"]).crossing is True

    def test_cross_needs_a_latest_price_and_a_target_off_it(self, alice_client):
        assert "No price is known" in error_of(
            create(alice_client, target_price="3100", direction="cross"), "direction"
        )
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        assert "equals the current price" in error_of(
            create(alice_client, target_price="3000", direction="cross"), "direction"
        )


class TestRepeat:
    def test_every_with_a_cooldown_of_60_is_accepted_with_the_default_band(self, alice_client):
        body = create(
            alice_client, target_price="3100", direction="above", repeat="every", cooldown_seconds=60
        )
        assert body.status_code == 201, body.json()
        body = body.json()
        assert (body["repeat"], body["cooldown_seconds"], body["rearm_percent"]) == ("every", 60, "0.1000")
        assert Alert.objects.get(pk=body["id"]).rearm_price == Decimal("3096.9")

    def test_a_cooldown_of_59_is_a_400(self, alice_client):
        response = create(
            alice_client, target_price="3100", direction="above", repeat="every", cooldown_seconds=59
        )
        assert "60" in error_of(response, "cooldown_seconds")

    def test_every_without_a_cooldown_is_a_400(self, alice_client):
        assert error_of(
            create(alice_client, target_price="3100", direction="above", repeat="every"), "cooldown_seconds"
        )

    def test_once_with_a_cooldown_is_a_400(self, alice_client):
        response = create(alice_client, target_price="3100", direction="above", cooldown_seconds=60)
        assert error_of(response, "cooldown_seconds")

    @pytest.mark.parametrize("band, ok", [("0", True), ("99.9999", True), ("-0.1", False), ("100", False)])
    def test_rearm_percent_bounds(self, alice_client, band, ok):
        response = create(
            alice_client,
            target_price="3100",
            direction="above",
            repeat="every",
            cooldown_seconds=60,
            rearm_percent=band,
        )
        assert (response.status_code == 201) is ok, response.json()

    def test_the_database_refuses_a_short_cooldown_too(self, alice):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(
                user=alice,
                symbol="ETHUSDT",
                direction="above",
                target_price=1,
                repeat="every",
                cooldown_seconds=59,
            )


class TestExpiryAndNote:
    def test_a_future_expiry_is_kept(self, alice_client):
        at = timezone.now() + timedelta(days=1)
        body = create(alice_client, target_price="3100", direction="above", expires_at=at.isoformat()).json()
        assert Alert.objects.get(pk=body["id"]).expires_at == at

    def test_a_past_expiry_is_a_400(self, alice_client):
        at = timezone.now() - timedelta(seconds=1)
        response = create(alice_client, target_price="3100", direction="above", expires_at=at.isoformat())
        assert error_of(response, "expires_at") == "Must be in the future."

    def test_a_note_of_500_characters_is_kept_and_501_is_a_400(self, alice_client):
        ok = create(alice_client, target_price="3100", direction="above", note="é" * 500)
        assert ok.status_code == 201 and ok.json()["note"] == "é" * 500
        assert error_of(create(alice_client, target_price="3100", direction="above", note="x" * 501), "note")

    def test_the_database_refuses_a_long_note(self, alice):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(
                user=alice, symbol="ETHUSDT", direction="above", target_price=1, note="x" * 501
            )


class TestChannelsOfAnAlert:
    def test_an_alert_may_name_its_owners_channels(self, alice, alice_client):
        hook = Channel.objects.create(user=alice, kind="webhook", url="http://127.0.0.1:9/hook", secret="s")
        body = create(alice_client, target_price="3100", direction="above", channels=[hook.pk]).json()
        assert alice_client.get(f"/alerts/{body['id']}").json()["channels"] == [hook.pk]

    def test_another_users_channel_is_a_400(self, alice_client, bob):
        theirs = Channel.objects.get(user=bob, kind="email")
        response = create(alice_client, target_price="3100", direction="above", channels=[theirs.pk])
        assert error_of(response, "channels") == f"No channel with id {theirs.pk} belongs to you."
        assert not Alert.objects.exists()


class TestCap:
    def test_the_cap_counts_active_alerts_and_answers_409_at_the_limit(
        self, settings, alice, alice_client, make_alert
    ):
        settings.ALERTS_MAX_WAITING_PER_USER = 3
        make_alert(alice)
        make_alert(alice, status="rearming", repeat="every", cooldown_seconds=60)
        make_alert(alice, status="triggered")
        make_alert(alice, status="expired")
        assert create(alice_client, target_price="3100", direction="above").status_code == 201
        refused = create(alice_client, target_price="3100", direction="above")
        assert refused.status_code == 409
        assert "3 active alerts" in refused.json()["detail"]
        assert Alert.objects.filter(user=alice).count() == 5

    def test_a_cap_of_zero_is_no_cap(self, settings, alice_client):
        settings.ALERTS_MAX_WAITING_PER_USER = 0
        assert create(alice_client, target_price="3100", direction="above").status_code == 201


class TestUpdateRearms:
    def test_a_new_target_moves_armed_at_to_now(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", target_price="3100")
        Alert.objects.filter(pk=alert.pk).update(armed_at=timezone.now() - timedelta(days=1))
        before = timezone.now()
        body = alice_client.patch(f"/alerts/{alert.pk}", {"target_price": "3200"}, format="json").json()
        alert.refresh_from_db()
        assert alert.armed_at >= before
        assert body["armed_at"] is not None and alert.rearm_price == Decimal("3196.8")

    def test_a_note_change_does_not_re_arm(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", target_price="3100")
        armed = timezone.now() - timedelta(days=1)
        Alert.objects.filter(pk=alert.pk).update(armed_at=armed)
        response = alice_client.patch(f"/alerts/{alert.pk}", {"note": "buy the dip"}, format="json")
        assert response.json()["note"] == "buy the dip"
        alert.refresh_from_db()
        assert alert.armed_at == armed

    def test_patching_a_re_arming_alert_arms_it_again(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", status="rearming", repeat="every", cooldown_seconds=60)
        body = alice_client.patch(f"/alerts/{alert.pk}", {"target_price": "3300"}, format="json").json()
        assert body["status"] == "created"

    def test_an_expired_alert_is_a_409(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", status="expired")
        assert alice_client.patch(f"/alerts/{alert.pk}", {"note": "x"}, format="json").status_code == 409

    def test_cross_on_patch_fixes_the_side_from_the_latest_price(self, alice, alice_client, make_alert):
        write_price("ETHUSDT", Decimal("3000"), now_ms())
        alert = make_alert(alice, symbol="ETHUSDT", target_price="3100", direction="above")
        body = alice_client.patch(
            f"/alerts/{alert.pk}", {"target_price": "2900", "direction": "cross"}, format="json"
        ).json()
        assert (body["direction"], body["side"]) == ("cross", "below")

    def test_the_admin_re_arm_moves_armed_at(self, alice, make_alert):
        from alerts.services import alerts_rearm

        alert = make_alert(alice, status="triggered")
        Alert.objects.filter(pk=alert.pk).update(armed_at=timezone.now() - timedelta(days=1))
        before = timezone.now()
        assert alerts_rearm(alerts=Alert.objects.filter(pk=alert.pk)) == 1
        alert.refresh_from_db()
        assert alert.status == "created" and alert.armed_at >= before


class TestUpdateRepeatAndChannels:
    def patch(self, client, alert, **payload):
        return client.patch(f"/alerts/{alert.pk}", payload, format="json")

    def test_a_one_shot_alert_becomes_repeating_with_a_cooldown(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", target_price="3100")
        armed = alert.armed_at
        body = self.patch(alice_client, alert, repeat="every", cooldown_seconds=120).json()
        assert (body["repeat"], body["cooldown_seconds"], body["status"]) == ("every", 120, "created")
        alert.refresh_from_db()
        assert alert.armed_at == armed  # how it repeats is not a new target: no re-arm

    def test_repeating_needs_a_cooldown_and_one_shot_has_none(self, alice, alice_client, make_alert):
        once = make_alert(alice, symbol="ETHUSDT", target_price="3100")
        response = self.patch(alice_client, once, repeat="every")
        assert response.status_code == 400 and "cooldown_seconds" in response.json()["errors"]
        response = self.patch(alice_client, once, cooldown_seconds=60)
        assert response.status_code == 400 and "cooldown_seconds" in response.json()["errors"]
        assert self.patch(alice_client, once, repeat="every", cooldown_seconds=59).status_code == 400
        every = make_alert(alice, symbol="ETHUSDT", repeat="every", cooldown_seconds=60)
        body = self.patch(alice_client, every, repeat="once").json()
        assert (body["repeat"], body["cooldown_seconds"]) == ("once", None)

    def test_a_new_cooldown_counts_from_the_last_firing(self, alice, alice_client, make_alert):
        alert = make_alert(
            alice,
            symbol="ETHUSDT",
            status="rearming",
            repeat="every",
            cooldown_seconds=60,
            rearm_after_ms=1_000_060_000,
        )
        assert self.patch(alice_client, alert, cooldown_seconds=3600).status_code == 200
        alert.refresh_from_db()
        assert (alert.status, alert.rearm_after_ms) == ("rearming", 1_003_600_000)

    def test_making_a_re_arming_alert_one_shot_ends_it(self, alice, alice_client, make_alert):
        alert = make_alert(
            alice, symbol="ETHUSDT", status="rearming", repeat="every", cooldown_seconds=60, rearm_after_ms=1
        )
        body = self.patch(alice_client, alert, repeat="once").json()
        assert (body["status"], body["repeat"]) == ("triggered", "once")
        alert.refresh_from_db()
        assert alert.rearm_after_ms is None
        assert self.patch(alice_client, alert, note="x").status_code == 409  # and it stays ended

    def test_a_new_band_moves_the_re_arm_price_exactly(self, alice, alice_client, make_alert):
        alert = make_alert(alice, symbol="ETHUSDT", target_price="3100", repeat="every", cooldown_seconds=60)
        body = self.patch(alice_client, alert, rearm_percent="2.5").json()
        assert body["rearm_percent"] == "2.5000"
        alert.refresh_from_db()
        assert alert.rearm_price == Decimal("3022.5")
        assert self.patch(alice_client, alert, rearm_percent="100").status_code == 400

    def test_channels_can_be_named_and_cleared(self, alice, alice_client, bob, make_alert):
        hook = Channel.objects.create(
            user=alice, kind="webhook", url="https://example.com/h", secret="s", name="h"
        )
        alert = make_alert(alice, symbol="ETHUSDT")
        assert self.patch(alice_client, alert, channels=[hook.pk]).json()["channels"] == [hook.pk]
        assert list(alert.channels.all()) == [hook]
        assert self.patch(alice_client, alert, channels=[]).json()["channels"] == []
        bobs = Channel.objects.get(user=bob, kind="email")
        response = self.patch(alice_client, alert, channels=[bobs.pk])
        assert response.status_code == 400 and "channels" in response.json()["errors"]
        assert list(alert.channels.all()) == []  # a rejected change changes nothing
