"""The Celery app: `celery -A pricealert worker` and `celery -A pricealert beat`.

Broker is Redis (REDIS_URL); configuration comes from Django settings
(CELERY_* names), the beat schedule included. Database connections live from
task to task as Django's CONN_MAX_AGE says (``close_old_database_connections``).
"""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")

app = Celery("pricealert")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _fail_like_a_lost_connection(connparams):
    """kombu's Redis Channel._connparams, raising ConnectionError once the channel's connection is gone.

    When the broker (Redis) restarts, celery's consumer collects the dead
    connection, which drops the transport's client, and reconnects. Whatever
    still touches a channel of the old connection afterwards (closing it puts
    its unacknowledged messages back; acking or rejecting a task that was
    running across the restart) needs a new Redis client, reads
    ``transport.client.hostname`` and raises AttributeError, which celery does
    not expect: the worker exits with "Unrecoverable error" (found by the chaos
    suite, tests/chaos). A ConnectionError is what celery handles there: it
    logs it and goes on with the new connection. The messages left unacked
    stay in Redis (restored after the visibility timeout), and the
    notification outbox's sweeper resends anything a restarted Redis lost.
    """

    def guarded(self, asynchronous=False):
        transport = getattr(self, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("this channel's broker connection was closed (the broker restarted)")
        return connparams(self, asynchronous=asynchronous)

    guarded.wrapped_by_pricealert = True
    return guarded


def _patch_kombu_redis() -> None:
    from kombu.transport import redis as redis_transport

    channel = redis_transport.Channel
    if not getattr(channel._connparams, "wrapped_by_pricealert", False):
        channel._connparams = _fail_like_a_lost_connection(channel._connparams)


_patch_kombu_redis()


@setup_logging.connect
def use_django_logging(**kwargs):
    """Worker and beat log like every other process: settings.LOGGING's one-line format and level.

    Connecting this signal stops Celery from installing its own handlers and format.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def close_old_database_connections(sender=None, **kwargs):
    """At each task's start and end, Django's rule for a web request: close_old_connections().

    A connection past CONN_MAX_AGE, or one that failed and is no longer usable, is
    closed; any other is kept for the next task (and checked first, CONN_HEALTH_CHECKS).
    Celery's own fixup would close them all (settings.CELERY_DB_REUSE_MAX says why
    not). A task run in place (``apply()``, CELERY_TASK_ALWAYS_EAGER) is part of its
    caller, whose connection is not this task's to close.
    """
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


task_prerun.connect(close_old_database_connections, weak=False)
task_postrun.connect(close_old_database_connections, weak=False)
