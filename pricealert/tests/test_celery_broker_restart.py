"""A celery worker outlives a restart of its broker (Redis), with tasks running and held across it.

Regression (found by the chaos suite): after Redis restarted, acking the task
that ran across the restart, or closing the old channel, raised AttributeError
inside kombu and the worker exited ("Unrecoverable error"). pricealert.celery
makes that a connection error, which celery handles.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kombu
import pytest
from celery import Celery
from django.conf import settings

import pricealert.celery  # noqa: F401 - applies the kombu fix, as the worker does
from tests.chaos.faults import PrivateRedis

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{log.read_text()[-6000:]}")


def test_a_channel_of_a_collected_connection_fails_with_a_connection_error():
    # What celery does when the broker goes away: collect the connection, then
    # close (or ack on) its channels. AttributeError here used to kill the worker.
    connection = kombu.Connection(settings.REDIS_URL)
    channel = connection.default_channel
    connection.collect()
    with pytest.raises(connection.connection_errors):
        channel.qos.restore_unacked()
    with pytest.raises(connection.connection_errors):
        channel.qos.reject("no-such-delivery-tag")


@pytest.mark.e2e
@pytest.mark.slow
def test_the_worker_survives_a_redis_restart_with_a_task_running_across_it():
    workdir = Path(tempfile.mkdtemp(prefix="pricealert-broker-restart-"))
    redis = PrivateRedis(workdir).start()
    log = workdir / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_DATABASE"))}
    env.update(DJANGO_SETTINGS_MODULE="pricealert.settings", REDIS_URL=redis.url, PYTHONUNBUFFERED="1")
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pricealert.tests.celery_sleepy_app",
                "worker",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = Celery(broker=redis.url)
    try:
        wait_for(lambda: "ready." in log.read_text(), 60, "the worker to start", log)
        first, second = workdir / "first", workdir / "second"
        # One task held for later (a retry's countdown: delivered, unacked), one running.
        client.send_task("pricealert.tests.sleep_then_touch", (str(workdir / "later"), 0.0), countdown=120)
        client.send_task("pricealert.tests.sleep_then_touch", (str(first), 3.0))
        wait_for(lambda: log.read_text().count("] received") >= 2, 30, "the tasks to arrive", log)

        redis.crash_restart(down_seconds=1.0)

        # The running task finishes and is acked over a connection that no longer exists.
        wait_for(first.exists, 30, "the task running across the restart to finish", log)
        wait_for(
            lambda: "Connected to redis" in log.read_text().split("Connection to broker lost")[-1],
            60,
            "the worker to reconnect",
            log,
        )
        client.send_task("pricealert.tests.sleep_then_touch", (str(second), 0.0))
        wait_for(second.exists, 60, "a task sent after the restart to run", log)
        assert worker.poll() is None, log.read_text()[-6000:]
        assert "Unrecoverable error" not in log.read_text()
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 9)
        worker.wait(10)
        redis.stop()
