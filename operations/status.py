"""The operator's snapshot of a deployment: is every part alive and keeping up?

Read by `manage.py pricealert_status`. Each part is read on its own, so a
database outage still reports the feed, and a Redis outage still reports the
alerts waiting in the database.
"""

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.selectors import (
    evaluation_checkpoints,
    evaluation_lag_seconds,
    notification_backlog,
    waiting_alert_counts,
)
from feeds.store import (
    WINDOW_STREAM,
    heartbeats,
    newest_stream_entry,
    redis_client,
    stream_id_ms,
    stream_losses,
)


@dataclass
class Heartbeat:
    connection: str
    age_seconds: float
    stale: bool


@dataclass
class Checkpoint:
    name: str
    stream_id: str
    evaluated_at: datetime | None
    age_seconds: float | None


@dataclass
class Status:
    checked_at: datetime
    database_ok: bool = False
    database_vendor: str = ""
    database_error: str = ""
    unapplied_migrations: int | None = None
    data_error: str = ""
    redis_ok: bool = False
    redis_error: str = ""
    heartbeats: list[Heartbeat] = field(default_factory=list)
    stream_entries: int | None = None
    last_flush_age_seconds: float | None = None
    # evaluator -> when and where it found stream entries lost before it read them (last day)
    stream_losses: dict[str, str] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    waiting_alerts: int | None = None
    waiting_symbols: int | None = None
    pending_notifications: int | None = None
    failed_notifications: int | None = None
    oldest_pending_age_seconds: float | None = None
    newest_stream_id: str | None = None
    evaluation_lag_seconds: float | None = None
    sending_notifications: int | None = None

    @property
    def healthy(self) -> bool:
        """The database and Redis both answer: the exit status operators script against."""
        return self.database_ok and self.redis_ok

    def as_dict(self) -> dict:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


def _age(then: datetime, now: datetime) -> float:
    return max(0.0, (now - then).total_seconds())


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _read_redis(status: Status) -> None:
    client = redis_client()
    client.ping()
    status.redis_ok = True
    now = time.time()
    status.heartbeats = [
        Heartbeat(name, round(max(0.0, now - at), 3), now - at > settings.FEED_STALE_SECONDS)
        for name, at in sorted(heartbeats(client).items())
    ]
    status.stream_entries = client.xlen(WINDOW_STREAM)
    status.stream_losses = stream_losses(client)
    status.newest_stream_id = newest_stream_entry(client)
    if status.newest_stream_id:
        last_ms = stream_id_ms(status.newest_stream_id)
        status.last_flush_age_seconds = round(max(0.0, now - last_ms / 1000), 3)


def _ping_database(status: Status) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    status.database_ok = True
    status.database_vendor = connection.vendor
    executor = MigrationExecutor(connection)
    status.unapplied_migrations = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _read_alert_data(status: Status) -> None:
    now = status.checked_at
    status.checkpoints = [
        Checkpoint(
            cp.name,
            cp.stream_id,
            cp.evaluated_at,
            round(_age(cp.evaluated_at, now), 3) if cp.evaluated_at else None,
        )
        for cp in evaluation_checkpoints()
    ]
    lag = evaluation_lag_seconds(status.newest_stream_id)
    status.evaluation_lag_seconds = None if lag is None else round(lag, 3)
    status.waiting_alerts, status.waiting_symbols = waiting_alert_counts()
    backlog = notification_backlog()
    status.pending_notifications = backlog.pending
    status.sending_notifications = backlog.sending
    status.failed_notifications = backlog.failed
    if backlog.oldest_pending_at:
        status.oldest_pending_age_seconds = round(_age(backlog.oldest_pending_at, now), 3)


def collect_status() -> Status:
    status = Status(checked_at=datetime.now(UTC))
    try:
        _read_redis(status)
    except Exception as error:  # any failure means "not usable", reported, never raised
        status.redis_error = _one_line(error)
    try:
        _ping_database(status)
    except Exception as error:
        status.database_error = _one_line(error)
        return status
    try:
        _read_alert_data(status)
    except Exception as error:  # e.g. tables missing before the first migrate
        status.data_error = _one_line(error)
    return status
