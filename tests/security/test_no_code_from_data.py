"""Nothing read back from Redis or the broker is unpickled (docs/SECURITY.md, "No code from data").

The attack (issue 13): a user who can make the worker write into the app's own
Redis plants a pickle at the key the alert-list cache reads; the next
``GET /alerts`` unpickled it and ran the attacker's code. Each payload here
would create a file in a temporary directory if it were ever unpickled.
"""

import json
import pickle
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from kombu import Queue

from alerts.cache import PAGE_KEY, VERSION_KEY
from pricealert.celery import app

pytestmark = pytest.mark.django_db


class FileWriter:
    """Unpickling this opens (creates) ``path``: what a planted payload would run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def payload(tmp_path):
    marker = tmp_path / "pwned"
    return pickle.dumps(FileWriter(marker)), marker


def page_keys(redis, user_id: int) -> list[bytes]:
    """The alert-list page keys in Redis for this user, as alerts/cache.py names them."""
    return redis.keys(cache.make_key(PAGE_KEY.format(user_id=user_id, version="*", query="*")))


def test_a_pickle_planted_at_the_list_cache_key_runs_nothing_and_the_list_is_served(
    alice_client, alice, make_alert, clean_redis, tmp_path
):
    alert = make_alert(alice, target_price="70000.5")
    first = alice_client.get("/alerts/")
    assert first.status_code == 200
    [key] = page_keys(clean_redis, alice.pk)  # the very key the next read reads
    body, marker = payload(tmp_path)
    clean_redis.set(key, body, keepttl=True)

    response = alice_client.get("/alerts/")

    assert not marker.exists(), "the planted pickle was unpickled"
    assert response.status_code == 200
    assert response.content == first.content
    assert [a["id"] for a in response.json()["results"]] == [alert.id]
    # The planted value was replaced by a JSON page, served from then on.
    assert json.loads(clean_redis.get(key))["alerts"][0]["target_price"] == "70000.50000000"


def test_a_pickle_planted_at_the_users_cache_version_runs_nothing(
    alice_client, alice, make_alert, clean_redis, tmp_path
):
    alert = make_alert(alice)
    body, marker = payload(tmp_path)
    clean_redis.set(cache.make_key(VERSION_KEY.format(user_id=alice.pk)), body)

    response = alice_client.get("/alerts/")

    assert not marker.exists()
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [alert.id]


def test_json_shaped_garbage_at_the_list_cache_key_is_a_miss(alice_client, alice, make_alert, clean_redis):
    alert = make_alert(alice)
    first = alice_client.get("/alerts/")
    [key] = page_keys(clean_redis, alice.pk)

    for planted in ('"a string"', "[1, 2]", '{"alerts": [{"id": 1}]}', '{"count": "x"}'):
        clean_redis.set(key, planted, keepttl=True)
        response = alice_client.get("/alerts/")
        assert response.status_code == 200, planted
        assert response.content == first.content
    assert [a["id"] for a in first.json()["results"]] == [alert.id]


def test_a_cached_page_answers_byte_for_byte_as_a_fresh_one(alice_client, alice, make_alert, settings):
    """Decimals keep their digits and datetimes their microseconds and zone through the JSON cache."""
    make_alert(alice, target_price="0.00000001", note="tiny")
    make_alert(
        alice,
        symbol="ETHUSDT",
        target_price="3000.12345678",
        direction="below",
        reference_price=Decimal("3100"),
        change_percent=Decimal("-3.2250"),
        triggered_price=Decimal("2999.99999999"),
        status="triggered",
    )
    settings.ALERT_LIST_CACHE_SECONDS = 0
    fresh = alice_client.get("/alerts/").content
    settings.ALERT_LIST_CACHE_SECONDS = 300

    miss = alice_client.get("/alerts/").content
    hit = alice_client.get("/alerts/").content

    assert fresh == miss == hit
    assert b'"target_price":"0.00000001"' in hit


def test_celery_sends_and_accepts_json_only():
    """The real app's configuration, as every worker, beat and producer loads it."""
    conf = app.conf
    assert list(conf.accept_content) == ["json"]
    assert list(conf.result_accept_content) == ["json"]
    assert (conf.task_serializer, conf.result_serializer, conf.event_serializer) == ("json", "json", "json")


def test_a_pickled_task_message_on_the_broker_is_refused_undecoded(tmp_path):
    """A pickle pushed onto the real Redis broker reaches a consumer built as the worker builds it.

    Celery's worker consumes through ``app.amqp.TaskConsumer`` (accept = accept_content);
    the message must fail to decode without being unpickled.
    """
    body, marker = payload(tmp_path)
    refused = []
    with app.connection_for_write() as connection:
        queue = Queue("celery", routing_key="celery")
        consumer = app.amqp.TaskConsumer(
            connection, queues=[queue], on_decode_error=lambda message, exc: refused.append(exc)
        )
        with consumer:
            connection.Producer().publish(
                body,
                routing_key="celery",
                content_type="application/x-python-serialize",
                content_encoding="binary",
                headers={"task": "alerts.tasks.evaluate_alerts", "id": "planted"},
            )
            connection.drain_events(timeout=5)

    assert not marker.exists(), "the worker unpickled a message"
    assert [type(exc).__name__ for exc in refused] == ["ContentDisallowed"]


def test_no_project_code_unpickles():
    """Beyond the cache and Celery: no module of the project's own (tests aside) loads pickles."""
    project = Path(__file__).resolve().parent.parent.parent
    packages = [
        path for path in project.iterdir() if (path / "__init__.py").exists() and path.name != "tests"
    ]
    unpickling = re.compile(r"\bimport pickle\b|\bfrom pickle\b|PickleSerializer|[\"']pickle[\"']")
    offenders = [
        str(path.relative_to(project))
        for package in packages
        for path in package.rglob("*.py")
        if "tests" not in path.parts and unpickling.search(path.read_text())
    ]
    assert packages and not offenders, offenders
