"""Crash-day delivery: batches share their connections, users take turns, a dead worker's claims move on.

Real servers throughout: the SMTP server counts the sessions it was opened
for, the HTTP server the connections, and the claims are the database's.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts import tasks
from alerts.delivery import outbox, send
from alerts.delivery import tasks as delivery_tasks
from alerts.delivery.claims import claim_notifications
from alerts.delivery.heartbeat import Heartbeat
from alerts.models import Channel, Notification
from tests.support.broker import queued_tasks
from tests.support.http import HookServer


def webhook_notifications(user, url: str, count: int, make_triggered_alert) -> list[int]:
    """``count`` pending webhook notifications of triggered alerts, all to one channel at ``url``: ids."""
    hook = Channel.objects.create(user=user, kind="webhook", url=url, secret="k" * 64, name="h")
    return [
        Notification.objects.create(alert=make_triggered_alert(user), to="h", channel="webhook", via=hook).pk
        for _ in range(count)
    ]


def message_ids(mail) -> list[str]:
    return [str(r.message["Message-ID"]) for r in mail.received]


@pytest.mark.django_db
class TestSharedConnections:
    def test_a_burst_of_two_hundred_emails_takes_one_smtp_connection_per_batch_of_many(
        self, alice, bob, mail, clean_redis, make_notification
    ):
        ids = [make_notification(user).pk for _ in range(100) for user in (alice, bob)]
        delivery_tasks.enqueue_notifications(ids)
        queued = queued_tasks(clean_redis)
        assert len(queued) == delivery_tasks.SEND_SPREAD  # 25 per batch: every delivery process takes some
        for name, args in queued:
            getattr(delivery_tasks, name.rsplit(".", 1)[1]).apply(args=args).get()
        received = mail.wait_for(200)
        assert len({r.peer for r in received}) == len(queued)
        assert Notification.objects.filter(status="sent").count() == 200

    def test_a_batch_of_emails_costs_its_claim_its_load_and_one_mark_per_email(
        self, alice, bob, mail, make_notification
    ):
        # The load leaves out the columns no send reads; none of them is fetched afterwards.
        ids = [make_notification(user).pk for _ in range(5) for user in (alice, bob)]
        with CaptureQueriesContext(connection) as queries:
            assert [delivery.outcome for _, delivery in send.deliver_many(ids, 0)] == ["sent"] * 10
        assert len(mail.wait_for(10)) == 10
        # The claim, the load, then the marks (prepared on PostgreSQL, where the log shows no text).
        assert len(queries) == 2 + 10
        assert [query["sql"].lstrip()[:6].upper() for query in queries[:2]] == ["UPDATE", "SELECT"]

    def test_a_batch_of_webhooks_reuses_one_http_connection(self, alice, settings, make_triggered_alert):
        settings.OUTBOUND_ALLOW_NETWORKS = "127.0.0.0/8"
        with HookServer(keep_alive=True) as server:
            ids = webhook_notifications(alice, server.url, 10, make_triggered_alert)
            assert delivery_tasks.send_notifications.apply(args=(ids, 0)).get() == {"sent": 10}
            assert len(server.received) == 10
            assert len({r.peer for r in server.received}) == 1


@pytest.mark.django_db
def test_users_take_turns_one_users_fifty_alerts_do_not_all_go_first(
    alice, bob, make_user, make_triggered_alert, clean_redis, django_capture_on_commit_callbacks
):
    carol = make_user("carol@example.com")
    fired = [(make_triggered_alert(user).pk, user.pk) for user in (alice, bob, carol) for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ids = outbox.write_notifications(fired)
    owners = dict(Notification.objects.values_list("id", "user__email"))
    queued = [
        i
        for _, args in queued_tasks(clean_redis)
        for i in (args[0] if isinstance(args[0], list) else [args[0]])
    ]
    assert queued == ids
    order = [owners[i][0] for i in queued]  # a, b, c: the users' initials
    assert order == ["a", "b", "c"] * 4


# Committed rows: the heartbeat renews from a thread with its own connection. Serialized
# rollback, as the other transactional tests: the flush must leave the content types.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestDeadWorker:
    def test_what_a_dead_worker_held_is_handed_on_once_its_lease_runs_out(
        self, alice, mail, settings, clean_redis, make_notification
    ):
        settings.ALERTS_NOTIFY_LEASE_SECONDS = 0.5
        ids = [make_notification(alice).pk for _ in range(5)]
        # A worker claims them and dies before sending: nobody renews its leases.
        assert len(claim_notifications(ids, expected_attempts=0)) == 5
        assert tasks.requeue_expired_leases() == 0  # still leased
        time.sleep(0.7)
        assert tasks.requeue_expired_leases() == 5
        assert tasks.requeue_expired_leases() == 0  # handed on once
        for name, args in queued_tasks(clean_redis):
            getattr(delivery_tasks, name.rsplit(".", 1)[1]).apply(args=args).get()
        assert sorted(message_ids(mail)) == sorted(f"<pricealert.notification.{i}@localhost>" for i in ids)
        assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 2)}

    def test_a_live_batch_keeps_its_claims_however_long_a_send_takes(
        self, alice, mail, settings, clean_redis, make_notification
    ):
        settings.ALERTS_NOTIFY_LEASE_SECONDS = 0.6
        ids = [make_notification(alice).pk for _ in range(3)]
        batch = send.deliver_many(ids, 0)
        assert next(batch)[1].outcome == "sent"
        time.sleep(1.5)  # the batch stalls (a slow SMTP server) for more than two leases
        assert tasks.requeue_expired_leases() == 0  # its heartbeat renewed them
        assert [delivery.outcome for _, delivery in batch] == ["sent", "sent"]
        assert len(mail.wait_for(3)) == 3


@pytest.fixture
def heartbeat_connects():
    """What ``now()`` said each time a heartbeat thread opened its database connection."""
    opened: list = []
    now = [lambda: "opened"]

    def record(sender, connection, **kwargs):
        if threading.current_thread().name == "lease-heartbeat":
            opened.append(now[0]())

    connection_created.connect(record)
    yield opened, now
    connection_created.disconnect(record)


@pytest.mark.django_db
class TestHeartbeatConnection:
    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's heartbeat connects at its start")
    def test_a_batch_of_emails_sent_within_a_beat_starts_no_database_connection(
        self, alice, mail, make_notification, heartbeat_connects
    ):
        opened, _ = heartbeat_connects
        ids = [make_notification(alice).pk for _ in range(5)]
        assert delivery_tasks.send_notifications.apply(args=(ids, 0)).get() == {"sent": 5}
        assert len(mail.wait_for(5)) == 5
        assert opened == []

    def test_a_batch_with_a_webhook_connects_its_heartbeat_before_it_sends_anything(
        self, alice, allow_local_delivery, make_triggered_alert, heartbeat_connects
    ):
        opened, now = heartbeat_connects
        with HookServer() as server:
            ids = webhook_notifications(alice, server.url, 2, make_triggered_alert)
            now[0] = lambda: f"{len(server.received)} requests received"
            assert delivery_tasks.send_notifications.apply(args=(ids, 0)).get() == {"sent": 2}
            assert len(server.received) == 2
        assert opened == ["0 requests received"]

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's heartbeat connects at its start")
    def test_a_connect_asked_after_the_first_beat_finds_the_thread_connected(self, heartbeat_connects):
        opened, _ = heartbeat_connects
        with Heartbeat(interval=0.05) as heartbeat:
            time.sleep(0.2)  # beats with nothing held yet (a slow claim): nothing to renew
            heartbeat.connect()
            assert opened == ["opened"]


def run_queued(client) -> None:
    """Run what the delivery queue holds, as a worker would, and empty it."""
    queued = queued_tasks(client)
    client.delete("celery")
    for name, args in queued:
        getattr(delivery_tasks, name.rsplit(".", 1)[1]).apply(args=args).get()


@pytest.mark.django_db
class TestLostMessages:
    """A worker SIGKILLed after taking a message and before claiming its rows: no lease to time out."""

    def backdate(self, ids, seconds: float) -> None:
        Notification.objects.filter(id__in=ids).update(created_at=timezone.now() - timedelta(seconds=seconds))

    def test_rows_whose_message_died_unclaimed_are_enqueued_again_once_the_queue_is_empty(
        self, alice, mail, settings, clean_redis, make_notification
    ):
        ids = [make_notification(alice).pk for _ in range(5)]
        self.backdate(ids, settings.ALERTS_NOTIFY_LEASE_SECONDS + 1)
        assert tasks.requeue_expired_leases() == 5
        assert queued_tasks(clean_redis) == [("alerts.tasks.send_notifications", [ids, 0])]
        run_queued(clean_redis)
        assert sorted(message_ids(mail)) == sorted(f"<pricealert.notification.{i}@localhost>" for i in ids)
        assert tasks.requeue_expired_leases() == 0  # sent: nothing left to hand on

    def test_nothing_is_decided_while_the_queue_holds_a_backlog(
        self, alice, settings, clean_redis, make_notification
    ):
        ids = [make_notification(alice).pk for _ in range(3)]
        self.backdate(ids, settings.ALERTS_NOTIFY_LEASE_SECONDS + 1)
        delivery_tasks.send_notification.delay(ids[0])  # a backlog: the rows may be in it
        assert tasks.requeue_expired_leases() == 0
        assert len(queued_tasks(clean_redis)) == 1

    def test_rows_just_due_or_due_later_are_left_to_their_messages(
        self, alice, settings, clean_redis, make_notification
    ):
        fresh = make_notification(alice)  # its message is on its way
        retry = make_notification(alice, attempts=1)
        self.backdate([retry.pk], 600)
        retry_at = Notification.objects.filter(pk=retry.pk)
        retry_at.update(next_attempt_at=timezone.now() + timedelta(seconds=30))
        assert tasks.requeue_expired_leases() == 0
        # Its retry time long past and nobody claimed it: the worker holding the retry died.
        retry_at.update(next_attempt_at=timezone.now() - timedelta(seconds=60))
        assert tasks.requeue_expired_leases() == 1
        assert queued_tasks(clean_redis) == [("alerts.tasks.send_notification", [retry.pk, 1])]
        assert fresh.pk not in {args[0] for _, args in queued_tasks(clean_redis)}

    def test_a_message_thought_lost_but_alive_sends_once(
        self, alice, mail, settings, clean_redis, make_notification
    ):
        ids = [make_notification(alice).pk for _ in range(4)]
        self.backdate(ids, settings.ALERTS_NOTIFY_LEASE_SECONDS + 1)
        assert tasks.requeue_expired_leases() == 4
        # The original message was only slow (a busy worker had it): it arrives after all.
        delivery_tasks.send_notifications.apply(args=(ids, 0)).get()
        run_queued(clean_redis)
        time.sleep(0.2)
        assert len(mail.received) == 4
        assert set(Notification.objects.filter(id__in=ids).values_list("status", "attempts")) == {("sent", 1)}


def test_a_settled_notification_is_never_handed_on(db, alice, make_notification):
    notification = make_notification(alice, status="sent")
    Notification.objects.filter(pk=notification.pk).update(leased_until=timezone.now() - timedelta(seconds=5))
    assert tasks.requeue_expired_leases() == 0
    notification.refresh_from_db()
    assert notification.status == "sent"


def test_the_lease_sweeper_runs_every_few_seconds_on_the_engine_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-expired-leases"]
    assert entry["task"] == "alerts.tasks.requeue_expired_leases"
    assert entry["schedule"] <= 5
    assert settings.CELERY_TASK_ROUTES["alerts.tasks.requeue_expired_leases"] == {"queue": "engine"}
    assert settings.ALERTS_NOTIFY_LEASE_SECONDS + entry["schedule"] <= 15
