"""The Redis price store: the feeder writes it, the API and the engine read it.

Layout (all under REDIS_URL):
- ``price:{SYMBOL}``: a hash with the latest traded price ``p`` (a decimal
  string, exactly as Binance sent it) and its event time ``E`` in ms.
- ``prices``: one append-only stream; each entry is one flush of the feeder and
  holds one field per symbol that traded: ``SYMBOL -> "high low last first_ms last_ms"``.
  The engine trims it by id up to the oldest committed checkpoint of all its
  evaluators (``trim_stream_before``), never past it; the feeder's own
  ``MAXLEN ~`` cap is only a safety bound on Redis memory (about a day of
  flushes): reaching it means the engine was down that long, and the engine
  reports the entries it lost (``record_stream_loss``).
- ``feed:flushed_through``: the feeder's event-time watermark, in ms: every
  trade it received before that instant is in the stream. Written in the same
  MULTI as the windows (and with the heartbeats while nothing is held), so a
  flush held in a Redis retry holds it back too; alerts expire only up to it.
- ``engine:stream_loss``: a hash of evaluator name -> the last time it found
  entries gone from under its checkpoint, for operators (expires after a day).
- ``feed:heartbeat``: a hash of connection name -> unix time of its last message.
- ``feed:epoch``: the running feeder's marker; missing means Redis restarted empty.
- ``engine:wake``: set (NX) by the feeder when it queued a wake-up tick for the
  engine, cleared by every tick before it reads the stream: while it is set, a
  tick that will read the newest windows is already on its way, so a burst of
  crossings queues one tick, not thousands.
- ``feed:last_ids``: a hash of symbol -> the last aggregate trade id written to
  the stream, in the same MULTI: a restarted feeder backfills from there.
- ``feed:gaps``: a hash of symbol -> the last gap the feeder could not backfill.
- ``hist:s:*``, ``hist:m:*``, ``hist:filled:*``: the per-symbol price history
  (``feeds.history``), written by the feeder in the same MULTI as the windows.
- ``feed:follow``: a pub/sub channel; the alert service publishes the symbols
  of an alert it just created or re-armed, and the feeder follows them at once.
- ``feed:refetch``: a list of spans (``"from_ms until_ms evaluator"``) the engine
  found lost from the stream; the feeder's backfill worker takes them, fetches
  the trades of every followed symbol in the span from REST and writes them to
  the stream again (``feeds.refetch``). Its outcome is reported beside the loss
  in ``engine:stream_loss`` (field ``"<evaluator> refetch"``).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

import redis
from django.conf import settings

from feeds.windows import PriceWindow

logger = logging.getLogger(__name__)

PRICE_KEY = "price:{symbol}"
WINDOW_STREAM = "prices"
HEARTBEAT_KEY = "feed:heartbeat"
# Set by the feeder's first write: gone means Redis lost its data (feeds.feeder.flusher.Flusher).
EPOCH_KEY = "feed:epoch"
LAST_IDS_KEY = "feed:last_ids"
GAPS_KEY = "feed:gaps"
FOLLOW_CHANNEL = "feed:follow"
# The safety bound only (the engine trims what it has read): about a day of
# flushes at 5 per second, so the engine can be down that long and still replay
# every window it missed; past it the engine reports the loss.
WINDOW_STREAM_MAXLEN = 500_000
WATERMARK_KEY = "feed:flushed_through"
# A feeder gone this long stops holding expiry back: alerts expire by the clock again.
WATERMARK_TTL_SECONDS = 600
STREAM_LOSS_KEY = "engine:stream_loss"
REFETCH_KEY = "feed:refetch"
STREAM_LOSS_TTL_SECONDS = 24 * 3600
WAKE_KEY = "engine:wake"
# A wake-up whose tick never came (its message expired unread, no engine is
# running) stops blocking the next one after this long; the beat clears it sooner.
WAKE_FLAG_SECONDS = 30


@dataclass(frozen=True, slots=True)
class LatestPrice:
    symbol: str
    price: Decimal
    event_time: datetime

    @property
    def age_seconds(self) -> float:
        return max(0.0, (datetime.now(UTC) - self.event_time).total_seconds())


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def write_windows(
    windows: list[PriceWindow],
    client: redis.Redis | None = None,
    *,
    latest_prices: bool = True,
    also: Callable | None = None,
) -> str | None:
    """Append one flush of windows to the stream and update the latest prices.

    One round trip (a pipeline in a MULTI): either the whole flush lands or none
    of it, so a caller that gets an exception can keep its windows and retry.
    Returns the stream entry id, or None when there was nothing to write.
    ``latest_prices=False`` leaves the ``price:{SYMBOL}`` hashes alone (older
    windows written again must not replace newer prices). ``also(pipe, windows)``
    queues more commands in the same MULTI (the feeder's history buckets,
    ``feeds.history.queue_windows``).
    """
    if not windows:
        return None
    pipe = (client or redis_client()).pipeline(transaction=True)
    _queue_windows(pipe, windows, latest_prices=latest_prices)
    if also is not None:
        also(pipe, windows)
    return pipe.execute()[0]


def write_windows_marked(
    windows: list[PriceWindow],
    marker: str,
    client: redis.Redis | None = None,
    *,
    through_ms: int | None = None,
    also: Callable | None = None,
) -> tuple[str | None, bool]:
    """``write_windows`` that also tells whether Redis lost its data since the writer's last write.

    The writer's ``marker`` (set once, never expiring) rides in the same MULTI;
    finding it missing means this Redis was restarted empty (or flushed) since:
    returns (entry id, True) then, and the feeder writes its recent windows again.
    ``through_ms``: the watermark these windows complete (every trade received
    before it), moved in the same MULTI; ``also`` as for ``write_windows``.
    """
    pipe = (client or redis_client()).pipeline(transaction=True)
    pipe.set(EPOCH_KEY, marker, nx=True)
    if windows:
        _queue_windows(pipe, windows)
        if also is not None:
            also(pipe, windows)
    if through_ms is not None:
        pipe.set(WATERMARK_KEY, through_ms, ex=WATERMARK_TTL_SECONDS)
    results = pipe.execute()
    return (results[1] if windows else None), bool(results[0])


def _queue_windows(pipe, windows: list[PriceWindow], *, latest_prices: bool = True) -> None:
    pipe.xadd(
        WINDOW_STREAM,
        {w.symbol: w.encode() for w in windows},
        maxlen=WINDOW_STREAM_MAXLEN,
        approximate=True,
    )
    for w in windows if latest_prices else ():
        pipe.hset(PRICE_KEY.format(symbol=w.symbol), mapping={"p": str(w.last), "E": w.last_event_ms})
    last_ids = {w.symbol: w.last_id for w in windows if w.last_id is not None} if latest_prices else {}
    if last_ids:
        pipe.hset(LAST_IDS_KEY, mapping=last_ids)


def write_price(symbol: str, price: Decimal, event_ms: int, client: redis.Redis | None = None) -> str:
    """Record a single trade as its own window (tests, demos and manual fixes)."""
    return write_windows([PriceWindow.opened_by(symbol, price, event_ms)], client=client)


def latest_price(symbol: str, client: redis.Redis | None = None) -> LatestPrice | None:
    client = client or redis_client()
    fields = client.hgetall(PRICE_KEY.format(symbol=symbol.upper()))
    if not fields:
        return None
    return LatestPrice(symbol.upper(), Decimal(fields["p"]), ms_to_datetime(int(fields["E"])))


def read_windows(
    after_id: str, count: int = 1000, client: redis.Redis | None = None
) -> list[tuple[str, list[PriceWindow]]]:
    """Stream entries strictly after ``after_id`` ("0" for the beginning), oldest first."""
    client = client or redis_client()
    entries = client.xrange(WINDOW_STREAM, min=f"({after_id}" if after_id != "0" else "-", count=count)
    return _decoded(entries)


def last_trade_ids(client: redis.Redis | None = None) -> dict[str, int]:
    """The last aggregate trade id written per symbol (``feed:last_ids``)."""
    client = client or redis_client()
    return {symbol: int(agg_id) for symbol, agg_id in client.hgetall(LAST_IDS_KEY).items()}


def record_gap(symbol: str, description: str, client: redis.Redis | None = None) -> None:
    """Record trades the feeder could not backfill, for operators (``feed:gaps``)."""
    client = client or redis_client()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    client.hset(GAPS_KEY, symbol, f"{stamp} {description}")


def announce_symbols(symbols, client: redis.Redis | None = None) -> None:
    """Tell the feeder to follow these symbols now; best effort (its periodic refresh is the backstop)."""
    if symbols:
        try:
            (client or redis_client()).publish(FOLLOW_CHANNEL, " ".join(sorted(symbols)))
        except redis.RedisError as exc:
            logger.warning("could not tell the feeder about %s: %s", ", ".join(sorted(symbols)), exc)


def stream_id_ms(entry_id: str) -> int:
    """The flush time (Unix ms) a stream entry id starts with ("1790000000123-0" -> 1790000000123)."""
    return int(entry_id.split("-", 1)[0])


def newest_stream_entry(client: redis.Redis | None = None) -> str | None:
    """The id of the newest entry in the price stream (its time is ``stream_id_ms``), or None when empty."""
    client = client or redis_client()
    last = client.xrevrange(WINDOW_STREAM, count=1)
    return last[0][0] if last else None


def write_heartbeat(connection: str, at: float, client: redis.Redis | None = None) -> None:
    client = client or redis_client()
    client.hset(HEARTBEAT_KEY, connection, repr(at))


def write_heartbeats(
    beats: dict[str, float], client: redis.Redis | None = None, *, through_ms: int | None = None
) -> None:
    """Several connections' heartbeats in one round trip; ``through_ms``: the watermark (nothing held)."""
    if beats or through_ms is not None:
        pipe = (client or redis_client()).pipeline(transaction=True)
        if beats:
            pipe.hset(HEARTBEAT_KEY, mapping={name: repr(at) for name, at in beats.items()})
        if through_ms is not None:
            pipe.set(WATERMARK_KEY, through_ms, ex=WATERMARK_TTL_SECONDS)
        pipe.execute()


def flushed_through(client: redis.Redis | None = None) -> datetime | None:
    """The feeder's watermark: every trade received before it is in the stream; None: no feeder lately."""
    value = (client or redis_client()).get(WATERMARK_KEY)
    return ms_to_datetime(int(value)) if value else None


def trim_stream_before(min_id: str, client: redis.Redis | None = None) -> int:
    """Remove the stream entries strictly before ``min_id`` (XTRIM MINID, exact); how many went."""
    if min_id == "0":
        return 0
    return (client or redis_client()).xtrim(WINDOW_STREAM, minid=min_id, approximate=False)


# What ``read_batch`` returns: the watermark, the entries (id, windows), the first id left after a loss.
Batch = tuple[datetime | None, list[tuple[str, list[PriceWindow]]], str | None]


def read_batch(checkpoint: str, count: int = 1000, client: redis.Redis | None = None) -> Batch:
    """The watermark (``flushed_through``), the entries after ``checkpoint`` (``read_windows``), and the
    stream's first entry id if the checkpoint entry is gone: one round trip.

    Redis runs a pipeline's commands in order, so the watermark is read before
    the stream: every trade before it is in what the read returns (unless the
    read is cut short at ``count``). The engine never trims its own checkpoint
    entry, so from any checkpoint but "0" the read (inclusive) starts with it;
    when it does not, entries were lost from under the checkpoint (Redis lost
    its data, or the safety bound trimmed them): the third value is the first
    id left (or "" for an empty stream), else None.
    """
    pipe = (client or redis_client()).pipeline(transaction=False)
    pipe.get(WATERMARK_KEY)
    if checkpoint == "0":
        pipe.xrange(WINDOW_STREAM, min="-", count=count)
    else:
        pipe.xrange(WINDOW_STREAM, min=checkpoint, count=count + 1)
    watermark, entries = pipe.execute()
    through = ms_to_datetime(int(watermark)) if watermark else None
    if checkpoint == "0":
        return through, _decoded(entries), None
    if entries and entries[0][0] == checkpoint:
        return through, _decoded(entries[1:]), None
    return through, _decoded(entries[:count]), (entries[0][0] if entries else "")


def _decoded(entries) -> list[tuple[str, list[PriceWindow]]]:
    return [(entry_id, PriceWindow.decode_entry(fields)) for entry_id, fields in entries]


def record_stream_loss(evaluator: str, description: str, client: redis.Redis | None = None) -> None:
    """Record that an evaluator found stream entries lost before it read them (``engine:stream_loss``)."""
    pipe = (client or redis_client()).pipeline(transaction=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    pipe.hset(STREAM_LOSS_KEY, evaluator, f"{stamp} {description}")
    pipe.expire(STREAM_LOSS_KEY, STREAM_LOSS_TTL_SECONDS)
    pipe.execute()


def stream_losses(client: redis.Redis | None = None) -> dict[str, str]:
    """Evaluator name -> its last reported stream loss (within the last day)."""
    return dict((client or redis_client()).hgetall(STREAM_LOSS_KEY))


def clear_heartbeat(connection: str, client: redis.Redis | None = None) -> None:
    client = client or redis_client()
    client.hdel(HEARTBEAT_KEY, connection)


def heartbeats(client: redis.Redis | None = None) -> dict[str, float]:
    client = client or redis_client()
    return {name: float(at) for name, at in client.hgetall(HEARTBEAT_KEY).items()}


def request_wake(client: redis.Redis | None = None) -> bool:
    """Raise the wake-up flag; True when it was down, i.e. the caller must queue the wake-up tick."""
    client = client or redis_client()
    return bool(client.set(WAKE_KEY, "1", nx=True, ex=WAKE_FLAG_SECONDS))


def clear_wake(client: redis.Redis | None = None) -> None:
    """Lower the wake-up flag: a tick does before it reads the stream, a feeder whose send failed too."""
    (client or redis_client()).delete(WAKE_KEY)


def wake_requested(client: redis.Redis | None = None) -> bool:
    return bool((client or redis_client()).exists(WAKE_KEY))


def request_refetch(from_ms: int, until_ms: int, evaluator: str, client: redis.Redis | None = None) -> None:
    """Ask the feeder to fetch the trades of ``[from_ms, until_ms]`` from REST and write them again."""
    (client or redis_client()).rpush(REFETCH_KEY, f"{from_ms} {until_ms} {evaluator}")


def take_refetch_requests(client: redis.Redis | None = None) -> list[tuple[int, int, str]]:
    """Every pending refetch request, oldest first, removed from Redis in the same MULTI."""
    pipe = (client or redis_client()).pipeline(transaction=True)
    pipe.lrange(REFETCH_KEY, 0, -1)
    pipe.delete(REFETCH_KEY)
    requests = []
    for raw in pipe.execute()[0]:
        from_ms, until_ms, evaluator = raw.split(" ", 2)
        requests.append((int(from_ms), int(until_ms), evaluator))
    return requests
