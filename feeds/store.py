"""The Redis price store: the feeder writes it, the API and the engine read it.

Layout (all under REDIS_URL):
- ``price:{SYMBOL}``: a hash with the latest traded price ``p`` (a decimal
  string, exactly as Binance sent it) and its event time ``E`` in ms.
- ``prices``: one append-only stream; each entry is one flush of the feeder and
  holds one field per symbol that traded: ``SYMBOL -> "high low last first_ms last_ms"``.
  Capped with ``MAXLEN ~`` so Redis memory stays bounded.
- ``feed:heartbeat``: a hash of connection name -> unix time of its last message.
- ``feed:epoch``: the running feeder's marker; missing means Redis restarted empty.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

import redis
from django.conf import settings

from feeds.windows import PriceWindow

PRICE_KEY = "price:{symbol}"
WINDOW_STREAM = "prices"
HEARTBEAT_KEY = "feed:heartbeat"
# Set by the feeder's first write: gone means Redis lost its data (feeds.feeder.flusher.Flusher).
EPOCH_KEY = "feed:epoch"
# About a day of flushes at 5 per second: the engine can be down that long and
# still replay every window it missed.
WINDOW_STREAM_MAXLEN = 500_000


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
    windows: list[PriceWindow], client: redis.Redis | None = None, *, latest_prices: bool = True
) -> str | None:
    """Append one flush of windows to the stream and update the latest prices.

    One round trip (a pipeline in a MULTI): either the whole flush lands or none
    of it, so a caller that gets an exception can keep its windows and retry.
    Returns the stream entry id, or None when there was nothing to write.
    ``latest_prices=False`` leaves the ``price:{SYMBOL}`` hashes alone (older
    windows written again must not replace newer prices).
    """
    if not windows:
        return None
    pipe = (client or redis_client()).pipeline(transaction=True)
    _queue_windows(pipe, windows, latest_prices=latest_prices)
    return pipe.execute()[0]


def write_windows_marked(
    windows: list[PriceWindow], marker: str, client: redis.Redis | None = None
) -> tuple[str | None, bool]:
    """``write_windows`` that also tells whether Redis lost its data since the writer's last write.

    The writer's ``marker`` (set once, never expiring) rides in the same MULTI;
    finding it missing means this Redis was restarted empty (or flushed) since:
    returns (entry id, True) then, and the feeder writes its recent windows again.
    """
    pipe = (client or redis_client()).pipeline(transaction=True)
    pipe.set(EPOCH_KEY, marker, nx=True)
    if windows:
        _queue_windows(pipe, windows)
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
    return [
        (entry_id, [PriceWindow.decode(symbol, encoded) for symbol, encoded in fields.items()])
        for entry_id, fields in entries
    ]


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


def write_heartbeats(beats: dict[str, float], client: redis.Redis | None = None) -> None:
    """Several connections' heartbeats in one round trip."""
    if beats:
        client = client or redis_client()
        client.hset(HEARTBEAT_KEY, mapping={name: repr(at) for name, at in beats.items()})


def clear_heartbeat(connection: str, client: redis.Redis | None = None) -> None:
    client = client or redis_client()
    client.hdel(HEARTBEAT_KEY, connection)


def heartbeats(client: redis.Redis | None = None) -> dict[str, float]:
    client = client or redis_client()
    return {name: float(at) for name, at in client.hgetall(HEARTBEAT_KEY).items()}
