"""The feeder's controller: shards the streams over connections and replaces them before Binance does.

``follow(symbols)`` shards the streams over connections (at most
``max_streams_per_connection`` each); ``maintain()`` replaces a connection
before Binance's 24-hour limit or after a ``serverShutdown`` event,
make-before-break: the successor subscribes first, then the old one closes
(duplicate trades fold idempotently into windows).
"""

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping

import redis

from feeds import store
from feeds.backfill import Backfiller
from feeds.binance import stream_name, symbol_of
from feeds.feeder.config import FeederConfig
from feeds.feeder.connection import Connection
from feeds.feeder.flusher import Flusher
from feeds.feeder.frontier import Bounds
from feeds.rest import BinanceRest

# One logger for the whole feeder: its log lines keep the name operators know.
logger = logging.getLogger("feeds.feeder")


class _Shard:
    """A slice of at most max_streams_per_connection streams and the connection(s) carrying it."""

    def __init__(self, index: int, name: str):
        self.index = index
        self.name = name
        self.streams: set[str] = set()
        self.connection: Connection | None = None
        self.successor: Connection | None = None

    def connections(self) -> list[Connection]:
        return [c for c in (self.connection, self.successor) if c is not None]

    def push_streams(self) -> None:
        frozen = frozenset(self.streams)
        for connection in self.connections():
            connection.set_streams(frozen)


class Feeder:
    """Follows a set of symbols over as many connections as Binance's limits require."""

    def __init__(
        self,
        config: FeederConfig,
        redis_client: redis.Redis | None = None,
        wake: Callable[[], None] | None = None,
    ):
        self.config = config
        # wake: what a crossing calls once its windows are written (default: the engine's task by name).
        self.flusher = Flusher(
            config, self.heartbeats, client=redis_client, wake=wake, incomplete_since=self.incomplete_since
        )
        self.backfiller = make_backfiller(config, redis_client)
        # The previous feeder's watermark: every trade before it is in the stream already.
        self._complete_before_start_ms = 0
        self._shards: list[_Shard] = []
        self._assigned: dict[str, _Shard] = {}
        self._retired: list[Connection] = []
        self._started = False

    def start(self) -> "Feeder":
        if self.backfiller is not None:
            try:
                previous = store.flushed_through(client=self.flusher.client)
            except redis.RedisError:
                previous = None
            if previous is not None:
                self._complete_before_start_ms = int(previous.timestamp() * 1000)
        self.flusher.start()
        if self.backfiller is not None:
            self.backfiller.load_last_ids()
            self.backfiller.start()
        self._started = True
        for connection in self.connections:  # shards made by a follow() before start()
            connection.start()
        self._shard_with_room()  # one connection even with nothing to follow: pings keep the heartbeat fresh
        return self

    @property
    def symbols(self) -> set[str]:
        return {symbol_of(stream) for stream in self._assigned}

    @property
    def connections(self) -> list[Connection]:
        return [c for shard in self._shards for c in shard.connections()]

    def follow(
        self,
        symbols: Iterable[str],
        frontier: Mapping[str, Bounds] | None = None,
        armed_since: dict[str, int] | None = None,
    ) -> bool:
        """Follow exactly these symbols from now on; returns whether the symbol set changed.

        ``frontier`` (symbol -> (above, below), ``frontier.py``), when given,
        replaces the one trades are tested against: a symbol left out of it
        never wakes the engine, its windows wait for the regular flush.
        ``armed_since``: the earliest armed_at (ms) of each symbol's waiting
        alerts; a newly followed symbol is backfilled from there.
        """
        if frontier is not None:
            self.flusher.frontier.replace(frontier)
        if self.backfiller is not None and armed_since is not None:
            self.backfiller.armed_since = dict(armed_since)
        wanted = {stream_name(symbol) for symbol in symbols}
        removed = self._assigned.keys() - wanted
        added = sorted(wanted - self._assigned.keys())
        if not removed and not added:
            return False
        touched: set[int] = set()
        for stream in removed:
            shard = self._assigned.pop(stream)
            shard.streams.discard(stream)
            touched.add(shard.index)
        for stream in added:
            shard = self._shard_with_room()
            shard.streams.add(stream)
            self._assigned[stream] = shard
            touched.add(shard.index)
        for shard in list(self._shards):
            if shard.index in touched:
                shard.push_streams()
            if not shard.streams and shard.index != 0:
                self._remove_shard(shard)
        logger.info(
            "following %d symbols (+%d, -%d) on %d connection(s)",
            len(self._assigned),
            len(added),
            len(removed),
            len(self._shards),
        )
        return True

    def maintain(self) -> None:
        """Replace connections near Binance's 24-hour limit or after serverShutdown (make-before-break)."""
        for shard in self._shards:
            current, successor = shard.connection, shard.successor
            if successor is None:
                if current.needs_replacement():
                    reason = (
                        "server shutdown announced" if current.shutdown_announced else "24-hour limit near"
                    )
                    logger.info("%s: %s: opening a successor connection", shard.name, reason)
                    current.retiring = True
                    shard.successor = self._start_connection(shard)
            elif successor.is_fully_subscribed() or not current.is_alive():
                logger.info("%s: successor subscribed; closing the old connection", shard.name)
                current.stop()
                self._retired.append(current)
                shard.connection, shard.successor = successor, None
        self._retired = [c for c in self._retired if c.is_alive()]

    def heartbeats(self) -> dict[str, float]:
        beats = {}
        for shard in self._shards:
            times = [c.last_message_at for c in shard.connections() if c.last_message_at is not None]
            if times:
                beats[shard.name] = max(times)
        return beats

    def incomplete_since(self) -> int | None:
        """The earliest event time (ms) from which a followed symbol's trades may still be missing.

        A symbol counts when no connection of its shard has all of its trades in
        hand (``Connection.unsatisfied_symbols``) and it has waiting alerts (only
        those can expire on it). Its missing trades come after the latest of: its
        last trade written, its alerts' earliest arming, the previous feeder's
        watermark, and the backfill cap (older ones are reported, never fetched).
        None: nothing is missing; without a backfiller nothing missed ever comes.
        """
        backfiller = self.backfiller
        if backfiller is None:
            return None
        armed_since, last_event_ms = backfiller.armed_since, self.flusher.last_event_ms
        floor_ms = max(int((time.time() - backfiller.cap_seconds) * 1000), self._complete_before_start_ms)
        earliest = None
        for shard in list(self._shards):
            unsatisfied = [connection.unsatisfied_symbols() for connection in shard.connections()]
            if not unsatisfied or not all(unsatisfied):
                continue  # one connection of the shard has everything (a successor may be subscribing)
            for symbol in set.intersection(*unsatisfied):
                armed = armed_since.get(symbol)
                if armed is None:
                    continue
                since = max(floor_ms, armed, last_event_ms.get(symbol, 0))
                earliest = since if earliest is None else min(earliest, since)
        return earliest

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, flush what they hold, clear the heartbeats."""
        connections = self.connections + self._retired
        for connection in connections:
            connection.stop()
        deadline = time.monotonic() + timeout
        for connection in connections:
            connection.join(max(0.0, deadline - time.monotonic()))
        if self._started:
            self.flusher.stop(max(1.0, deadline - time.monotonic()) + self.config.shutdown_flush_timeout)
            if self.backfiller is not None:
                self.backfiller.stop()
        for shard in self._shards:
            self._clear_heartbeat(shard.name)
        logger.info("feeder stopped")

    def _shard_with_room(self) -> _Shard:
        for shard in self._shards:
            if len(shard.streams) < self.config.max_streams_per_connection:
                return shard
        used = {shard.index for shard in self._shards}
        index = next(i for i in itertools.count() if i not in used)
        shard = _Shard(index, f"{self.config.name}/{index}")
        self._shards.append(shard)
        self._shards.sort(key=lambda s: s.index)
        shard.connection = self._start_connection(shard)
        return shard

    def _start_connection(self, shard: _Shard) -> Connection:
        connection = Connection(shard.name, self.config, self.flusher, shard.streams, self.backfiller)
        if self._started:
            connection.start()
        return connection

    def _remove_shard(self, shard: _Shard) -> None:
        for connection in shard.connections():
            connection.stop()
            self._retired.append(connection)
        self._shards.remove(shard)
        self._clear_heartbeat(shard.name)

    def _clear_heartbeat(self, name: str) -> None:
        try:
            store.clear_heartbeat(name, client=self.flusher.client)
        except redis.RedisError as exc:
            logger.debug("heartbeat %s not cleared: %s", name, exc)


def make_backfiller(config: FeederConfig, redis_client: redis.Redis | None) -> Backfiller | None:
    if not config.api_url:
        return None
    rest = BinanceRest(config.api_url, weight_share=config.rest_weight_share)
    return Backfiller(
        rest,
        cap_seconds=config.backfill_cap_seconds,
        hold_seconds=config.backfill_hold_seconds,
        redis_client=redis_client,
    )
