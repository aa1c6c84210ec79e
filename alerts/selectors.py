"""Reads of alerts, and of the engine's progress (what the operations views show)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import redis
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.db import connection, models
from django.db.models import Count, Min, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted

from alerts.cache import cached_alert_page
from alerts.dialect import dialect
from alerts.filters import AlertFilter
from alerts.models import MAX_DB_ID, Alert, EvaluationCheckpoint, Notification
from feeds.selectors import symbol_statuses
from feeds.store import stream_id_ms

logger = logging.getLogger(__name__)

UNKNOWN_SYMBOL_STATUS = "UNKNOWN"
# What a cached list page holds per alert: plain values, cheap to store as JSON.
LIST_FIELDS = (
    "id",
    "symbol",
    "direction",
    "crossing",
    "target_price",
    "reference_price",
    "change_percent",
    "status",
    "repeat",
    "cooldown_seconds",
    "rearm_percent",
    "created_at",
    "armed_at",
    "triggered_at",
    "triggered_price",
    "last_triggered_at",
    "trigger_count",
    "expires_at",
    "note",
    # Window kinds (issue 18).
    "kind",
    "window_seconds",
    "move_percent",
    "move_direction",
    "volume_quote",
)
CACHE_ERRORS = (ConnectionInterrupted, redis.RedisError, OSError)
# The list fields JSON has no type for: cached as their exact text (str(Decimal),
# isoformat()), so a page read from the cache renders byte for byte as a fresh one.
DECIMAL_FIELDS = frozenset(
    f for f in LIST_FIELDS if isinstance(Alert._meta.get_field(f), models.DecimalField)
)
DATETIME_FIELDS = frozenset(
    f for f in LIST_FIELDS if isinstance(Alert._meta.get_field(f), models.DateTimeField)
)


class WaitingSymbols(set):
    """The waited symbols (a set, as ever) and, in ``armed_since``, the earliest armed_at of each.

    The feeder backfills a newly followed symbol from there (feeds never
    imports alerts: it reads the attribute if the symbol source has it).
    """

    armed_since: dict[str, datetime]


def waiting_symbols() -> WaitingSymbols:
    """Symbols with an alert waiting to fire or re-arm, not past its expiry: what the feeder follows."""
    not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    active = Alert.objects.filter(not_expired, status__in=Alert.ACTIVE_STATUSES)
    rows = list(active.values("symbol").annotate(since=Min("armed_at")).order_by())
    symbols = WaitingSymbols(row["symbol"] for row in rows)
    symbols.armed_since = {row["symbol"]: row["since"] for row in rows}
    return symbols


# The partial index's condition, stated literally: SQLite uses a partial index
# only for a query that states its condition (a bound parameter does not count).
_ACTIVE = "(" + ", ".join(f"'{status}'" for status in Alert.ACTIVE_STATUSES) + ")"


def _nearest(watch: str, order: str, now_ms: str) -> str:
    """SQL: the nearest price alerts of ``s.symbol`` watch in ``watch``: one probe of alert_watch_idx.

    A re-arming alert counts once its cooldown is over (as the engine's own
    probe counts it), so a price hovering past the re-arm band during the
    cooldown wakes nobody.
    """
    return f"""(SELECT a.watch_price FROM {Alert._meta.db_table} a
            WHERE a.status IN {_ACTIVE} AND a.symbol = s.symbol AND a.watch_direction = '{watch}'
              AND (a.status = 'created' OR a.rearm_after_ms < {now_ms})
            ORDER BY a.watch_price {order} LIMIT 1)"""


class WaitingFrontiers(dict):
    """symbol -> frontier, and in ``armed_since`` the earliest armed_at of each (as WaitingSymbols)."""

    armed_since: dict[str, datetime]


def waiting_frontiers() -> WaitingFrontiers:
    """``waiting_symbols``, each with its frontier: what the feeder follows, where a trade wakes the engine.

    symbol -> (above, below): the lowest price an alert of the symbol watches
    from below (a trade at or over it may fire one, or re-arm one whose
    cooldown is over) and the highest one watched from above; None when
    nothing waits on that side. Two index probes per symbol, in one statement
    (``feeds.feeder.frontier`` explains what the feeder does with them).
    """
    waiting = waiting_symbols()
    frontiers = WaitingFrontiers()
    frontiers.armed_since = waiting.armed_since
    symbols = sorted(waiting)
    if not symbols:
        return frontiers
    moved, params = dialect().rows(("text",), (symbols,))
    now_ms = int(timezone.now().timestamp() * 1000)
    sql = f"""
        WITH s(symbol) AS ({moved})
        SELECT s.symbol, {_nearest("above", "ASC", "%s")}, {_nearest("below", "DESC", "%s")} FROM s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now_ms, now_ms])
        rows = cursor.fetchall()
    frontiers.update((symbol, (_price(above), _price(below))) for symbol, above, below in rows)
    return frontiers


def _price(value) -> Decimal | None:
    # SQLite hands numeric columns back as int or float: their shortest repr is the stored value.
    return None if value is None else value if isinstance(value, Decimal) else Decimal(repr(value))


@dataclass(frozen=True, slots=True)
class AlertPage:
    count: int
    number: int
    num_pages: int
    alerts: list[dict]

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.number < self.num_pages else None

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    def to_json(self) -> dict:
        """The page as JSON values, for the cache."""
        alerts = [{name: _as_json(value) for name, value in alert.items()} for alert in self.alerts]
        return {"count": self.count, "number": self.number, "num_pages": self.num_pages, "alerts": alerts}

    @classmethod
    def from_json(cls, data: dict) -> "AlertPage":
        """The page ``to_json`` stored; anything else raises (see alerts.cache.NOT_A_PAGE)."""
        alerts = [{name: _typed(name, alert[name]) for name in LIST_FIELDS} for alert in data["alerts"]]
        return cls(int(data["count"]), int(data["number"]), int(data["num_pages"]), alerts)


def _as_json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _typed(name: str, value):
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return Decimal(value)
    if name in DATETIME_FIELDS:
        return datetime.fromisoformat(value)
    return value


def _alert_filter(user, filters: Mapping | None) -> AlertFilter:
    filterset = AlertFilter(filters or {}, queryset=Alert.objects.filter(user=user))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset


def alert_list(*, user, filters: Mapping | None = None) -> QuerySet[Alert]:
    """The user's alerts, newest first; ``filters`` as in the API (?status=, ?symbol=).

    Deleted alerts are left out unless ``status`` is "deleted".
    """
    return _alert_filter(user, filters).qs.order_by("-created_at", "-id")


def alert_list_page(*, user, filters: Mapping | None, page: int, per_page: int) -> AlertPage:
    """One page of ``alert_list``, served from the per-user cache when it can be.

    The cache is an optimisation only: when Redis fails, the page comes from
    the database.
    """
    filterset = _alert_filter(user, filters)
    cleaned = filterset.form.cleaned_data
    # "fields=3": pages cached before the alert gained its window-kind fields are never read.
    query = "fields=3&status={}&symbol={}&page={}&per_page={}".format(
        cleaned.get("status") or "", (cleaned.get("symbol") or "").strip().upper(), page, per_page
    )

    def compute() -> AlertPage:
        queryset = filterset.qs.order_by("-created_at", "-id").values(*LIST_FIELDS)
        paginator = Paginator(queryset, per_page)
        try:
            current = paginator.page(page)
        except EmptyPage:
            raise Http404("Invalid page.") from None
        return AlertPage(paginator.count, page, paginator.num_pages, list(current.object_list))

    try:
        return cached_alert_page(user.pk, query, compute, dump=AlertPage.to_json, load=AlertPage.from_json)
    except CACHE_ERRORS:
        logger.warning("alert list cache unavailable; reading from the database", exc_info=True)
        return compute()


def alert_get(*, user, alert_id: int) -> Alert | None:
    """The user's alert with this id (deleted ones too), with its symbol's catalogue status.

    None when there is no such alert or it belongs to someone else: callers answer
    404 either way, so nobody learns which ids exist.
    """
    if not 0 < alert_id <= MAX_DB_ID:
        return None
    alert = Alert.objects.filter(user=user, pk=alert_id).prefetch_related("channels").first()
    if alert is not None:
        alert.symbol_status = symbol_statuses([alert.symbol]).get(alert.symbol, UNKNOWN_SYMBOL_STATUS)
    return alert


def alert_owned(*, user, alert_id: int) -> Alert | None:
    """The user's alert with this id, its own columns only: one query.

    For writes that need nothing but the row (delete), where ``alert_get``'s
    catalogue status would be a wasted query. None as in ``alert_get``.
    """
    if not 0 < alert_id <= MAX_DB_ID:
        return None
    return Alert.objects.filter(user=user, pk=alert_id).first()


# --- Read by the operations room (/health, pricealert_status) ------------------


def last_evaluated_at(name: str = EvaluationCheckpoint.DEFAULT) -> datetime | None:
    """When this evaluator last ran a tick (shown by /health)."""
    return EvaluationCheckpoint.objects.filter(name=name).values_list("evaluated_at", flat=True).first()


def evaluation_checkpoints() -> list[EvaluationCheckpoint]:
    """Every evaluator's checkpoint, by name: its place in the price stream and when it last ran."""
    return list(EvaluationCheckpoint.objects.order_by("name"))


def oldest_checkpoint() -> str | None:
    """The stream id every evaluator has read up to (committed); "0": one read nothing; None: no evaluator."""
    ids = list(EvaluationCheckpoint.objects.values_list("stream_id", flat=True))
    if not ids:
        return None
    return min(ids, key=lambda stream_id: tuple(int(part) for part in [*stream_id.split("-"), "0"][:2]))


def waiting_alert_counts() -> tuple[int, int]:
    """Alerts waiting to fire or to re-arm (as the feeder counts them), and the symbols they wait on."""
    waiting = Alert.objects.filter(status__in=Alert.ACTIVE_STATUSES)
    counts = waiting.aggregate(alerts=Count("id"), symbols=Count("symbol", distinct=True))
    return counts["alerts"], counts["symbols"]


@dataclass(frozen=True, slots=True)
class NotificationBacklog:
    pending: int
    failed: int
    oldest_pending_at: datetime | None
    sending: int = 0  # pending ones a worker holds right now (a lease)


def notification_backlog() -> NotificationBacklog:
    """The outbox's unfinished work: notifications pending (and since when) or failed for good."""
    pending, failed = Notification.Status.PENDING, Notification.Status.FAILED
    unfinished = Notification.objects.filter(status__in=[pending, failed])
    counts = dict(unfinished.values_list("status").annotate(n=Count("id")))
    queued = Notification.objects.filter(status=pending).aggregate(
        at=Min("created_at"), sending=Count("id", filter=Q(leased_until__isnull=False))
    )
    return NotificationBacklog(counts.get(pending, 0), counts.get(failed, 0), queued["at"], queued["sending"])


def evaluation_lag_seconds(
    newest_stream_id: str | None, name: str = EvaluationCheckpoint.DEFAULT
) -> float | None:
    """How far this evaluator's committed checkpoint is behind the newest price-stream entry, in seconds.

    Stream ids start with the flush time in ms; 0 when it is caught up, None when
    the stream is empty or the evaluator never ran.
    """
    checkpoint = EvaluationCheckpoint.objects.filter(name=name).values_list("stream_id", flat=True).first()
    if newest_stream_id is None or checkpoint is None or checkpoint == "0":
        return None
    return max(0.0, (stream_id_ms(newest_stream_id) - stream_id_ms(checkpoint)) / 1000)
