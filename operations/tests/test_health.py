"""GET /health: the database and Redis checks (200 when both answer, 503 otherwise)."""

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_healthy_is_200_with_both_checks_ok(anon_client, path):
    response = anon_client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["status"] in ("ok", "degraded")


def test_redis_not_answering_is_503(anon_client, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/11"
    response = anon_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert (body["checks"]["database"], body["checks"]["redis"]) == ("ok", "error")


def test_database_not_answering_is_503(anon_client):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("database is unreachable")

    # Every query on the connection fails, as it would with the server gone.
    with connection.execute_wrapper(refuse):
        response = anon_client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert (body["checks"]["database"], body["checks"]["redis"]) == ("error", "ok")


def test_health_needs_no_token_and_ignores_a_bad_one(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")
    assert anon_client.get("/health").status_code == 200


def test_shows_the_evaluation_lag_behind_the_newest_price(anon_client, clean_redis):
    from alerts.models import EvaluationCheckpoint
    from feeds.store import WINDOW_STREAM

    EvaluationCheckpoint.objects.create(name="default", stream_id="1790000000000-0")
    clean_redis.xadd(WINDOW_STREAM, {"BTCUSDT": "1 1 1 1 1"}, id="1790000012500-0")
    evaluation = anon_client.get("/health").json()["evaluation"]
    assert evaluation["newest_stream_id"] == "1790000012500-0"
    assert evaluation["lag_seconds"] == 12.5


def test_shows_the_delivery_backlog_queued_sending_and_oldest_age(anon_client, alice, make_notification):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Notification

    old, leased, _ = (make_notification(alice) for _ in range(3))
    make_notification(alice, status="sent")
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=90))
    Notification.objects.filter(pk=leased.pk).update(leased_until=timezone.now() + timedelta(seconds=10))
    delivery = anon_client.get("/health").json()["delivery"]
    assert (delivery["queued"], delivery["sending"]) == (3, 1)
    assert 90 <= delivery["oldest_age_seconds"] < 120
