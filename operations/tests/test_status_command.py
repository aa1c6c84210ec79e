"""`manage.py pricealert_status`: what an operator sees, and its exit status when a dependency is down."""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds.store import write_heartbeat, write_price

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def refused_port():
    """A port bound but never listening: connections to it are refused for the whole test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def busy_deployment(alice, clean_redis):
    def alert(symbol, status=Alert.Status.CREATED):
        return Alert.objects.create(
            user=alice, symbol=symbol, direction="above", target_price=Decimal("100"), status=status
        )

    alert("BTCUSDT")
    alert("BTCUSDT")
    alert("ETHUSDT")
    fired = alert("SOLUSDT", status=Alert.Status.TRIGGERED)
    alert("XRPUSDT", status=Alert.Status.DELETED)
    for state in ("pending", "pending", "failed", "sent"):
        Notification.objects.create(alert=fired, to=alice.email, status=state)
    Notification.objects.filter(status="pending").update(created_at=timezone.now() - timedelta(minutes=10))
    EvaluationCheckpoint.objects.create(
        name="default", stream_id="1700000000000-0", evaluated_at=timezone.now() - timedelta(seconds=5)
    )
    now = time.time()
    write_heartbeat("btcusdt-conn", now - 2)
    write_heartbeat("old-conn", now - 3 * 3600)
    write_price("BTCUSDT", Decimal("65000.10"), int(now * 1000))


def run_status(*args) -> str:
    out = StringIO()
    call_command("pricealert_status", *args, stdout=out, no_color=True)
    return out.getvalue()


@pytest.mark.django_db
def test_prints_feed_evaluation_alerts_and_outbox(busy_deployment):
    lines = run_status().splitlines()
    text = "\n".join(lines)

    assert any(line.startswith("database") and " ok " in line for line in lines), text
    assert any(line.startswith("redis") and line.endswith(" ok") for line in lines), text
    assert "ok btcusdt-conn: last message" in text
    assert "STALE old-conn: last message 3.0 h ago" in text
    assert "price stream    1 entries" in text
    evaluation = next(line for line in lines if line.startswith("evaluation"))
    assert "default: last run" in evaluation and "stream id 1700000000000-0" in evaluation
    assert float(evaluation.split("last run ")[1].split(" s ago")[0]) >= 5
    assert "alerts          3 waiting on 2 symbols" in text
    assert "notifications   2 pending (oldest 10.0 min, 0 being sent), 1 failed" in text


@pytest.mark.django_db
def test_shows_how_far_evaluation_is_behind_the_newest_price(busy_deployment, clean_redis):
    newest = clean_redis.xrevrange("prices", count=1)[0][0]
    EvaluationCheckpoint.objects.update(stream_id=f"{int(newest.split('-')[0]) - 42_000}-0")
    text = run_status()
    assert f"evaluation lag  42.0 s behind the newest price (stream id {newest})" in text
    data = json.loads(run_status("--json"))
    assert (data["evaluation_lag_seconds"], data["newest_stream_id"]) == (42.0, newest)


@pytest.mark.django_db
def test_json_output_for_scripts(busy_deployment):
    data = json.loads(run_status("--json"))

    assert data["healthy"] is True
    assert (data["waiting_alerts"], data["waiting_symbols"]) == (3, 2)
    assert (data["pending_notifications"], data["failed_notifications"]) == (2, 1)
    assert data["oldest_pending_age_seconds"] >= 600
    assert {beat["connection"]: beat["stale"] for beat in data["heartbeats"]} == {
        "btcusdt-conn": False,
        "old-conn": True,
    }
    assert data["checkpoints"][0]["age_seconds"] >= 5
    assert data["unapplied_migrations"] == 0


@pytest.mark.django_db
def test_quiet_deployment_says_what_to_start():
    text = run_status()

    assert "no heartbeat: is the feeder (manage.py runfeeder) running?" in text
    assert "never ran: are the celery worker and beat running?" in text
    assert "alerts          0 waiting on 0 symbols" in text


@pytest.mark.django_db
def test_a_re_arming_alert_counts_as_waiting_as_the_feeder_and_health_count_it(
    alice, make_alert, anon_client, clean_redis
):
    # A repeating alert that fired waits for the market again: the feeder follows its symbol.
    make_alert(alice, "BTCUSDT", repeat="every", cooldown_seconds=3600, status=Alert.Status.REARMING)
    make_alert(alice, "ETHUSDT")

    data = json.loads(run_status("--json"))

    assert (data["waiting_alerts"], data["waiting_symbols"]) == (2, 2)
    assert anon_client.get("/health").json()["feed"]["waiting_symbols"] == data["waiting_symbols"]


@pytest.mark.django_db
def test_redis_down_fails_but_still_reports_the_database(busy_deployment, settings, refused_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{refused_port}/0"
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("pricealert_status", stdout=out, no_color=True)

    assert raised.value.returncode == 1
    assert "Redis unavailable" in str(raised.value)
    text = out.getvalue()
    assert "redis           DOWN ConnectionError" in text
    assert "feed            unknown (Redis unavailable)" in text
    assert "alerts          3 waiting on 2 symbols" in text


def test_database_down_exits_non_zero(settings, refused_port):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pricealert.settings",
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{refused_port}/pricealert",
        "REDIS_URL": settings.REDIS_URL,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "pricealert_status", "--no-color"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "database        DOWN OperationalError" in result.stdout
    assert "redis           ok" in result.stdout
    assert "evaluation      unknown (database unavailable)" in result.stdout
    assert "database unavailable" in result.stderr
