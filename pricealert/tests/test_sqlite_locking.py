"""SQLite shared by several processes: a transaction that reads, then writes, waits for another writer.

Regression (found by the chaos suite on SQLite): POST /register answered 500
"database is locked" while the alert engine held the write lock, because a
deferred transaction that read first cannot wait to upgrade to a writer.
settings.SQLITE_OPTIONS begins every transaction with the write lock.
"""

import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections, transaction

ALIAS = "sqlite_locking_test"


@pytest.fixture
def shared_file(django_db_blocker):
    """A second database alias: a SQLite file with the project's options (each thread connects apart)."""
    path = Path(tempfile.mkdtemp(prefix="pricealert-sqlite-")) / "shared.sqlite3"
    connections.settings[ALIAS] = {
        **connections.settings["default"],  # complete: Django filled in its defaults
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {**settings.SQLITE_OPTIONS, "timeout": 10},
        "CONN_MAX_AGE": 0,
        "TEST": {},
    }
    with django_db_blocker.unblock():
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("CREATE TABLE counter (n INTEGER)")
            cursor.execute("INSERT INTO counter VALUES (0)")
        yield path
        connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]


def test_a_read_then_write_transaction_waits_for_another_writer_instead_of_failing(shared_file):
    writing, errors = threading.Event(), []

    def another_process_writes():
        try:
            with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                cursor.execute("UPDATE counter SET n = n + 1")
                writing.set()
                time.sleep(0.5)  # holds the write lock while the other transaction reads
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            writing.set()
            connections[ALIAS].close()

    writer = threading.Thread(target=another_process_writes)
    writer.start()
    try:
        assert writing.wait(10)
        with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
            cursor.execute("SELECT n FROM counter")
            cursor.fetchone()
            cursor.execute("UPDATE counter SET n = n + 1")
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("SELECT n FROM counter")
            assert cursor.fetchone()[0] == 2
    finally:
        writer.join(10)
    assert not errors
