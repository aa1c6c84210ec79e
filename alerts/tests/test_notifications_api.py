"""GET /notifications and GET /alerts/<id>/notifications: the caller's delivery log, filtered and paged."""

import pytest

from alerts.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(alice, bob, make_triggered_alert, make_notification):
    """Alice: two alerts, three deliveries (email sent, webhook failed, email pending); bob: one."""
    hook = Channel.objects.create(
        user=alice, kind="webhook", name="bot", url="https://example.com/h", secret="s"
    )
    email = Channel.objects.get(user=alice, kind="email")
    first, second = make_triggered_alert(alice), make_triggered_alert(alice, symbol="ETHUSDT")
    rows = [
        make_notification(alert=first, channel="email", via=email, status="sent", attempts=1),
        make_notification(
            alert=first, channel="webhook", via=hook, status="failed", attempts=8, last_error="HTTP 500"
        ),
        make_notification(alert=second, channel="email", via=email, status="pending"),
    ]
    theirs = make_notification(bob, status="sent")
    return {"first": first, "second": second, "hook": hook, "rows": rows, "theirs": theirs}


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_the_list_is_the_callers_newest_first(alice_client, log):
    body = alice_client.get("/notifications").json()
    assert body["count"] == 3 and body["next"] is None
    assert [item["id"] for item in body["results"]] == [row.pk for row in reversed(log["rows"])]
    failed = body["results"][1]
    assert failed == {
        "id": log["rows"][1].pk,
        "alert": log["first"].pk,
        "symbol": "BTCUSDT",
        "firing": 1,
        "channel": log["hook"].pk,
        "kind": "webhook",
        "to": "alice@example.com",
        "status": "failed",
        "attempts": 8,
        "last_error": "HTTP 500",
        "triggered_price": None,
        "triggered_at": None,
        "created_at": failed["created_at"],
        "sent_at": None,
    }


def test_filters(alice_client, log):
    first, hook, rows = log["first"], log["hook"], log["rows"]
    assert ids(alice_client.get(f"/notifications?alert={first.pk}")) == [rows[1].pk, rows[0].pk]
    assert ids(alice_client.get("/notifications?status=failed")) == [rows[1].pk]
    assert ids(alice_client.get(f"/notifications?channel={hook.pk}")) == [rows[1].pk]
    assert ids(alice_client.get("/notifications?kind=email")) == [rows[2].pk, rows[0].pk]
    assert ids(alice_client.get(f"/notifications?alert={first.pk}&status=sent")) == [rows[0].pk]


def test_pages(alice_client, log):
    body = alice_client.get("/notifications?per_page=2").json()
    assert len(body["results"]) == 2 and body["next"].endswith("page=2")
    assert len(alice_client.get(body["next"]).json()["results"]) == 1
    assert alice_client.get("/notifications?page=9").status_code == 404


@pytest.mark.parametrize(
    "query, field",
    [("status=bogus", "status"), ("kind=fax", "kind"), ("alert=x", "alert"), ("channel=-1", "channel")],
)
def test_a_bad_filter_is_a_400_naming_it(alice_client, log, query, field):
    response = alice_client.get(f"/notifications?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_another_users_alert_or_channel_filters_to_nothing(alice_client, bob_client, log):
    assert ids(bob_client.get(f"/notifications?alert={log['first'].pk}")) == []
    assert ids(bob_client.get(f"/notifications?channel={log['hook'].pk}")) == []
    assert ids(bob_client.get("/notifications")) == [log["theirs"].pk]
    assert log["theirs"].pk not in ids(alice_client.get("/notifications"))


def test_an_alerts_own_log(alice_client, bob_client, log):
    first, rows = log["first"], log["rows"]
    assert ids(alice_client.get(f"/alerts/{first.pk}/notifications")) == [rows[1].pk, rows[0].pk]
    assert ids(alice_client.get(f"/alerts/{first.pk}/notifications/?status=failed")) == [rows[1].pk]
    # The path's alert wins over an ?alert= in the query.
    assert ids(alice_client.get(f"/alerts/{first.pk}/notifications?alert={log['second'].pk}")) == [
        rows[1].pk,
        rows[0].pk,
    ]
    response = bob_client.get(f"/alerts/{first.pk}/notifications")
    assert response.status_code == 404 and response.json() == {"detail": "Alert not found."}


def test_anonymous_is_a_401(anon_client):
    assert anon_client.get("/notifications").status_code == 401


def test_in_the_schema(alice_client):
    schema = alice_client.get("/api/schema/?format=json").json()
    assert schema["paths"]["/notifications"]["get"]["operationId"] == "notification_list"
    assert (
        schema["paths"]["/alerts/{alert_id}/notifications"]["get"]["operationId"] == "alert_notification_list"
    )
