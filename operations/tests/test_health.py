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
