"""Reads of alerts, and of the engine's progress (what the operations views show)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import redis
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.db import connection, models
from django.db.models import Count, F, Min, Q, QuerySet, Window, prefetch_related_objects
from django.db.models.functions import RowNumber, TruncMinute
from django.http import Http404
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted

from alerts.cache import cached_alert_page
from alerts.dialect import dialect
from alerts.filters import AlertFilter
from alerts.models import MAX_DB_ID, Alert, Channel, EvaluationCheckpoint, Notification
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
    "group_id",
    "snoozed_until",
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
# A cached page holds each alert's channel ids too (read with the page, one query for all of
# them; every change of an alert's channels bumps the cache). ``symbol_status`` is never
# cached: the catalogue changes without touching alerts, so it is read fresh for each page.
PAGE_FIELDS = (*LIST_FIELDS, "channels")


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
        alerts = [{name: _typed(name, alert[name]) for name in PAGE_FIELDS} for alert in data["alerts"]]
        return cls(int(data["count"]), int(data["number"]), int(data["num_pages"]), alerts)


def _as_json(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _typed(name: str, value):
    if name == "channels":
        if not isinstance(value, list):
            raise TypeError("channels is not a list of ids")
        return [int(channel_id) for channel_id in value]
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
    # "fields=5": pages cached before they held the window-kind fields (4: the group and snooze
    # fields; 3: the channels; 2: the repeat, expiry and percent fields) are never read.
    query = "fields=5&status={}&symbol={}&page={}&per_page={}".format(
        cleaned.get("status") or "", (cleaned.get("symbol") or "").strip().upper(), page, per_page
    )

    def compute() -> AlertPage:
        queryset = filterset.qs.order_by("-created_at", "-id").values(*LIST_FIELDS)
        paginator = Paginator(queryset, per_page)
        try:
            current = paginator.page(page)
        except EmptyPage:
            raise Http404("Invalid page.") from None
        alerts = list(current.object_list)
        _add_channel_ids(alerts)
        return AlertPage(paginator.count, page, paginator.num_pages, alerts)

    try:
        found = cached_alert_page(user.pk, query, compute, dump=AlertPage.to_json, load=AlertPage.from_json)
    except CACHE_ERRORS:
        logger.warning("alert list cache unavailable; reading from the database", exc_info=True)
        found = compute()
    _add_symbol_statuses(found.alerts)
    return found


def _add_channel_ids(alerts: list[dict]) -> None:
    """Each alert's chosen channel ids, sorted (empty: all enabled ones): one query for the page."""
    chosen: dict[int, list[int]] = {alert["id"]: [] for alert in alerts}
    if chosen:
        links = Alert.channels.through.objects.filter(alert_id__in=list(chosen)).order_by("channel_id")
        for alert_id, channel_id in links.values_list("alert_id", "channel_id"):
            chosen[alert_id].append(channel_id)
    for alert in alerts:
        alert["channels"] = chosen[alert["id"]]


def _add_symbol_statuses(alerts: list[dict]) -> None:
    """Each alert's symbol's catalogue status, as ``alert_get`` gives it: one query for the page."""
    if not alerts:
        return
    statuses = symbol_statuses(sorted({alert["symbol"] for alert in alerts}))
    for alert in alerts:
        alert["symbol_status"] = statuses.get(alert["symbol"], UNKNOWN_SYMBOL_STATUS)


def alert_with_details(alert: Alert) -> Alert:
    """The alert with what its API answer shows beside its columns: its channels and its
    symbol's catalogue status (two queries; the create answer reads them like ``alert_get``)."""
    return alerts_with_details([alert])[0]


def alerts_with_details(alerts: list[Alert]) -> list[Alert]:
    """``alert_with_details`` for several alerts (a watchlist's) in the same two queries."""
    prefetch_related_objects(alerts, "channels")
    statuses = symbol_statuses(sorted({alert.symbol for alert in alerts})) if alerts else {}
    for alert in alerts:
        alert.symbol_status = statuses.get(alert.symbol, UNKNOWN_SYMBOL_STATUS)
    return alerts


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
    # Per symbol, then summed here: symbol is the only column read, which alert_watch_idx holds
    # (an index-only scan, hashed), where COUNT(DISTINCT symbol) sorted every waiting alert.
    per_symbol = list(waiting.values_list("symbol").annotate(n=Count("*")).values_list("n", flat=True))
    return sum(per_symbol), len(per_symbol)


@dataclass(frozen=True, slots=True)
class NotificationBacklog:
    pending: int
    failed: int
    oldest_pending_at: datetime | None
    sending: int = 0  # pending ones a worker holds right now (a lease)


def notification_backlog() -> NotificationBacklog:
    """The outbox's unfinished work: notifications pending (and since when) or failed for good."""
    pending, failed = Notification.Status.PENDING, Notification.Status.FAILED
    # One status per statement: each is answered by its partial index (notification_pending_idx,
    # notification_failed_idx), where "status IN (both)" read the whole table.
    queued = Notification.objects.filter(status=pending).aggregate(
        n=Count("id"), at=Min("created_at"), sending=Count("id", filter=Q(leased_until__isnull=False))
    )
    given_up = Notification.objects.filter(status=failed).count()
    return NotificationBacklog(queued["n"], given_up, queued["at"], queued["sending"])


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


# --- Read by the admin's operations page (operations/dashboard.py) -------------


def recent_failures_by_kind(*, since: datetime) -> dict[str, int]:
    """Notifications given up on since then, by channel kind: every kind, 0 included."""
    failed = Notification.objects.filter(status=Notification.Status.FAILED, failed_at__gte=since)
    counts = dict(failed.values_list("channel").annotate(n=Count("id")).order_by())
    return {kind: counts.pop(kind, 0) for kind in Channel.Kind.values} | counts


@dataclass(frozen=True, slots=True)
class FailingChannel:
    channel_id: int | None  # None: the user had no enabled channel at all
    kind: str
    name: str
    user_id: int | None
    user_email: str
    enabled: bool | None  # None: no channel (or one deleted since)
    disabled_reason: str
    failures: int
    last_failed_at: datetime
    last_error: str


def failing_channels(*, since: datetime, limit: int = 10) -> list[FailingChannel]:
    """The channels with the most notifications given up on since then, worst first, each with
    its latest failure's time and error: one query (window functions over the failures)."""
    group = [F("via_id"), F("user_id")]
    latest_first = [F("failed_at").desc(), F("id").desc()]
    rows = (
        Notification.objects.filter(status=Notification.Status.FAILED, failed_at__gte=since)
        .annotate(
            failures=Window(Count("id"), partition_by=group),
            rank=Window(RowNumber(), partition_by=group, order_by=latest_first),
        )
        .filter(rank=1)
        .order_by("-failures", "-failed_at", "-id")
        .values(
            "via_id",
            "channel",
            "user_id",
            "user__email",
            "via__name",
            "via__enabled",
            "via__disabled_reason",
            "failures",
            "failed_at",
            "last_error",
        )[:limit]
    )
    return [
        FailingChannel(
            channel_id=row["via_id"],
            kind=row["channel"],
            name=row["via__name"] or "",
            user_id=row["user_id"],
            user_email=row["user__email"] or "",
            enabled=row["via__enabled"],
            disabled_reason=row["via__disabled_reason"] or "",
            failures=row["failures"],
            last_failed_at=row["failed_at"],
            last_error=row["last_error"],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class WatchedSymbol:
    symbol: str
    alerts: int
    users: int


def most_watched_symbols(*, limit: int = 10) -> list[WatchedSymbol]:
    """The symbols with the most alerts waiting to fire or re-arm, and how many users wait on each.

    Counted per (symbol, user) first, then per symbol: two hash aggregates, where
    COUNT(DISTINCT user_id) sorted every waiting alert (on disk at 90k of them).
    """
    sql = f"""
        SELECT symbol, SUM(n), COUNT(*) FROM (
            SELECT symbol, user_id, COUNT(*) AS n FROM {Alert._meta.db_table}
            WHERE status IN {_ACTIVE} GROUP BY symbol, user_id
        ) per_user
        GROUP BY symbol ORDER BY 2 DESC, 1 LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        return [WatchedSymbol(symbol, int(alerts), users) for symbol, alerts, users in cursor.fetchall()]


FIRING_WRITE_SLACK = timedelta(hours=1)


def _first_id_written_since(moment: datetime) -> int:
    """The first notification id written at or after ``moment`` (0: none older).

    Ids are given in the order rows are written, so this reads the primary key backwards
    from the newest row to the first older one: the rows since then, never the whole table
    (created_at has no index: each would cost every firing an index entry).
    """
    older = Notification.objects.filter(created_at__lt=moment).order_by("-id").values_list("id", flat=True)
    last_older = older.first()
    return 0 if last_older is None else last_older + 1


@dataclass(frozen=True, slots=True)
class MinuteActivity:
    minute: datetime  # the minute's start
    firings: int
    deliveries: int


def activity_per_minute(*, since: datetime, until: datetime) -> list[MinuteActivity]:
    """Alert firings and notifications sent in each whole minute from ``since`` to ``until``.

    A firing is counted from its notification rows (each firing writes at least one, also
    when over the cap or with no channel), by the firing's time; an alert fires at most
    once a minute (MIN_COOLDOWN_SECONDS), so distinct alerts per minute are its firings.
    Deliveries are read by notification_via_sent_idx.
    """
    start = since.replace(second=0, microsecond=0)
    # Rows written in the firing's transaction, so only those written since an hour before the
    # window can hold a firing in it (an hour covers any evaluation lag): read those by id.
    recent = _first_id_written_since(start - FIRING_WRITE_SLACK)
    fired = (
        Notification.objects.filter(id__gte=recent, triggered_at__gte=start, triggered_at__lt=until)
        .annotate(minute=TruncMinute("triggered_at"))
        .values_list("minute")
        .annotate(n=Count("alert_id", distinct=True))
        .order_by()
    )
    sent = (
        Notification.objects.filter(status=Notification.Status.SENT, sent_at__gte=start, sent_at__lt=until)
        .annotate(minute=TruncMinute("sent_at"))
        .values_list("minute")
        .annotate(n=Count("id"))
        .order_by()
    )
    firings, deliveries = dict(fired), dict(sent)
    minutes = []
    minute = start
    while minute < until:
        minutes.append(MinuteActivity(minute, firings.get(minute, 0), deliveries.get(minute, 0)))
        minute += timedelta(minutes=1)
    return minutes
