"""Engine ticks travel on their own queue, so an email backlog cannot starve them.

Found by the chaos run: with one shared queue, thousands of queued email sends
and retries during an SMTP outage sat ahead of every tick until it expired, and
alerts fired about 100 s late.
"""

from alerts import tasks
from pricealert.celery import app
from tests.support.broker import queued_tasks


def test_ticks_and_the_sweeper_are_queued_on_the_engine_queue(clean_redis):
    tasks.evaluate_alerts.apply_async(expires=2)
    tasks.requeue_stuck_notifications.apply_async()
    tasks.send_notification.delay(1)

    assert queued_tasks(clean_redis, "engine") == [
        ("alerts.tasks.evaluate_alerts", []),
        ("alerts.tasks.requeue_stuck_notifications", []),
    ]
    assert queued_tasks(clean_redis, "celery") == [("alerts.tasks.send_notification", [1])]


def test_a_worker_started_without_queue_options_consumes_both_queues():
    # `celery -A pricealert worker` (Procfile, compose) consumes every queue in
    # task_queues when no -Q is given.
    assert set(app.amqp.queues) == {"celery", "engine"}


def test_a_tick_queued_behind_an_email_backlog_is_taken_within_two_messages(clean_redis):
    for notification_id in range(1000):
        tasks.send_notification.delay(notification_id)
    tasks.evaluate_alerts.apply_async(expires=2)

    # A consumer of both queues, as a worker is: kombu's Redis transport takes
    # from them in turn, so the tick waits behind at most one send, not a thousand.
    taken = []
    with app.connection_for_read() as connection:
        queues = [queue(connection.default_channel) for queue in app.amqp.queues.values()]
        with connection.Consumer(
            queues, callbacks=[lambda body, message: taken.append(message.headers["task"])], no_ack=True
        ):
            while len(taken) < 2:
                connection.drain_events(timeout=5)
    assert "alerts.tasks.evaluate_alerts" in taken
