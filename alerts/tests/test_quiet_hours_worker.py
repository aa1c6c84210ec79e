"""Quiet hours through the production path: a real Celery worker on the real Redis broker, SMTP and HTTP.

A firing in quiet hours is enqueued on commit, the worker holds it; the release
enqueues one digest per channel on commit, the worker sends each once.

The test reads the database only between the worker's tasks (``sends_finished``),
never while one runs: SQLite's in-memory test database shares one cache between
connections, where a read at the moment of a worker's write makes that write
fail ("database table is locked"; a fifth of the runs failed that way when the
test polled the table).
"""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.utils import timezone

from alerts import engine
from alerts.delivery import digests
from alerts.models import Alert, Channel, Notification
from alerts.tests.test_quiet_hours_delivery import around_now, quiet
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow
from pricealert.celery import app
from tests.support.http import HookServer

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("allow_local_delivery"),
]


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def sends_finished():
    """The delivery tasks the worker has finished, in order (their names)."""
    finished: list[str] = []

    def record(sender=None, **kwargs):
        if sender is not None and sender.name.startswith("alerts.tasks.send_notification"):
            finished.append(sender.name)

    task_postrun.connect(record, weak=False)
    yield finished
    task_postrun.disconnect(record)


def test_held_by_the_worker_and_released_as_one_digest_per_channel(alice, mail, sends_finished):
    quiet(alice, around_now())
    with (
        HookServer() as server,
        start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING"),
    ):
        Channel.objects.create(user=alice, kind="webhook", url=server.url, secret="k" * 64, name="hook")
        now = int(time.time() * 1000)
        for target in ("70000", "70001"):
            Alert.objects.create(
                user=alice,
                symbol="BTCUSDT",
                direction="above",
                target_price=Decimal(target),
                armed_at=ms_to_datetime(now - 60_000),
            )
        price = Decimal("70005")
        assert engine.evaluate_windows([PriceWindow("BTCUSDT", price, price, price, now, now)]) == 2
        wait_until(lambda: len(sends_finished) == 1)  # the firing's batch: both channels, both alerts
        assert Notification.objects.filter(status="held").count() == 4
        assert mail.received == [] and server.received == []

        carriers = digests.release_held(now=timezone.now() + timedelta(hours=2))
        assert len(carriers) == 2
        wait_until(lambda: len(sends_finished) == 2)  # the two carriers' batch
        assert Notification.objects.filter(status="sent").count() == 4
        assert digests.release_held(now=timezone.now() + timedelta(hours=2)) == []
        time.sleep(0.5)  # anything sent twice would have arrived by now
        assert len(mail.received) == 1 and len(server.received) == 1
    assert json.loads(server.received[0].body)["count"] == 2
    assert "2 alerts fired during your quiet hours" in mail.received[0].subject
