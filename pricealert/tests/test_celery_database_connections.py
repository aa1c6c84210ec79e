"""A worker keeps its PostgreSQL connection from task to task, and Django's CONN_MAX_AGE still retires it.

Celery's Django fixup closes every connection before and after each task unless
CELERY_DB_REUSE_MAX is set: a crash day's hundred send batches opened a hundred
PostgreSQL backends. pricealert.celery applies Django's rule at each task instead
(``close_old_connections``). The tasks here run through Celery's own tracer, as a
worker runs them (``eager=False``: the prerun and postrun signals, the fixup's
handlers), with the fixup installed as a worker installs it.
"""

import time
import uuid

import pytest
from celery.app.trace import build_tracer
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from pricealert.celery import app

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite's connections are never kept"),
    # Autocommit, as in a worker: Django closes a connection left inside a transaction. Serialized
    # rollback, as the other transactional tests: the flush must leave the content types.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@app.task(name="tests.database_connection_in_use")
def database_connection_in_use():
    connection.ensure_connection()
    return connection.connection


@pytest.fixture
def as_a_worker():
    """Run a task as a worker process does: Celery's tracer, the Django fixup's handlers."""
    fixup = DjangoWorkerFixup(app).install()
    tracer = build_tracer(database_connection_in_use.name, database_connection_in_use, app=app, eager=False)
    yield lambda: tracer(str(uuid.uuid4()), (), {}, {}).retval
    task_prerun.disconnect(fixup.on_task_prerun)
    task_postrun.disconnect(fixup.on_task_postrun)


def test_a_worker_keeps_its_database_connection_from_task_to_task(as_a_worker):
    first = as_a_worker()
    assert as_a_worker() is first
    assert as_a_worker() is first
    assert not first.closed


def test_a_connection_past_conn_max_age_is_closed_at_the_next_task(as_a_worker):
    first = as_a_worker()
    connection.close_at = time.monotonic() - 1  # opened CONN_MAX_AGE seconds ago
    second = as_a_worker()
    assert first.closed
    assert second is not first and not second.closed
