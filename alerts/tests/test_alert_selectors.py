"""alerts.selectors: alert_list and alert_get, the reads behind the API."""

import pytest
from django.core.exceptions import ValidationError

from alerts.selectors import alert_get, alert_list

pytestmark = pytest.mark.django_db


def test_alert_list_is_the_users_alerts_newest_first_without_deleted(alice, bob, make_alert):
    first = make_alert(alice)
    make_alert(bob)
    make_alert(alice, status="deleted")
    second = make_alert(alice, symbol="ETHUSDT", target_price="3000", status="triggered")

    assert list(alert_list(user=alice)) == [second, first]
    assert list(alert_list(user=alice, filters={"symbol": "ethusdt"})) == [second]
    assert [a.status for a in alert_list(user=alice, filters={"status": "deleted"})] == ["deleted"]


def test_alert_list_rejects_an_unknown_status(alice):
    with pytest.raises(ValidationError) as raised:
        alert_list(user=alice, filters={"status": "sleeping"})
    assert raised.value.message_dict == {
        "status": [
            'Unknown status "sleeping": use one of created, rearming, triggered, expired, deleted, paused.'
        ]
    }


def test_alert_get_is_none_for_another_users_or_an_impossible_id(alice, bob, make_alert):
    mine = make_alert(alice)
    theirs = make_alert(bob)
    assert alert_get(user=alice, alert_id=mine.id) == mine
    assert alert_get(user=alice, alert_id=mine.id).symbol_status == "TRADING"
    assert alert_get(user=alice, alert_id=theirs.id) is None
    assert alert_get(user=alice, alert_id=0) is None
    assert alert_get(user=alice, alert_id=2**63) is None
