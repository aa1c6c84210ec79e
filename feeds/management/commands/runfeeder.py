"""manage.py runfeeder: follow Binance's trades for every symbol that has waiting alerts.

Thin on purpose: it reads the settings, installs the SIGTERM/SIGINT handlers,
re-reads the symbol set every FEEDER_REFRESH_SECONDS from the callable named by
FEEDER_SYMBOLS_SOURCE (feeds never imports alerts), keeps only the symbols the
catalogue lists as TRADING, and hands them to ``feeds.feeder.Feeder``. A source
that returns a mapping (symbol -> (above, below)) gives the frontier too, and
crossing trades wake the engine (``feeds.feeder.frontier``); a plain set of
symbols leaves evaluation to the beat tick.
A symbol stays followed FEEDER_LINGER_SECONDS after its last waiting alert is
gone (no unsubscribe/subscribe flapping), and a push on the ``feed:follow``
Redis channel (the alert service, on commit) makes it re-read the set at once.
"""

import logging
import signal
import threading
import time
from collections.abc import Mapping

import redis
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string

from feeds import store
from feeds.binance import MAX_STREAMS_PER_CONNECTION
from feeds.feeder import Feeder, FeederConfig
from feeds.models import Symbol
from feeds.selectors import symbol_statuses

logger = logging.getLogger("feeds.runfeeder")

NOT_IN_CATALOGUE = "not in the catalogue"


class Command(BaseCommand):
    help = "Stream Binance trades for the symbols with waiting alerts into the Redis price store."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shutdown = threading.Event()

    def add_arguments(self, parser):
        parser.add_argument("--flush-interval", type=float, help="seconds between flushes to Redis")
        parser.add_argument("--refresh-interval", type=float, help="seconds between symbol-set reads")
        parser.add_argument("--max-connection-age", type=float, help="replace a connection after this many s")
        parser.add_argument("--reconnect-max", type=float, help="cap of the reconnect backoff in seconds")
        parser.add_argument("--streams-per-connection", type=int, help="at most 1024 (Binance's limit)")
        parser.add_argument("--batch-size", type=int, help="streams per SUBSCRIBE/UNSUBSCRIBE message")
        parser.add_argument("--name", help="connection name prefix in heartbeats (default: the host name)")

    def handle(self, *args, **options):
        self._unfollowable: dict[str, str] = {}
        self._wanted_at: dict[str, float] = {}
        self._pubsub = None
        self.armed_since: dict[str, int] = {}
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.on_signal)
            signal.signal(signal.SIGINT, self.on_signal)
        config = self.feeder_config(options)
        refresh_interval = options["refresh_interval"] or settings.FEEDER_REFRESH_SECONDS
        self.symbols_source = import_string(settings.FEEDER_SYMBOLS_SOURCE)
        logger.info(
            "runfeeder: %s, symbols from %s every %.1fs, flush every %.2fs",
            config.ws_url,
            settings.FEEDER_SYMBOLS_SOURCE,
            refresh_interval,
            config.flush_interval,
        )
        self.feeder = Feeder(config).start()
        try:
            # Listen for pushes before the first read of the symbol set, so that an alert
            # committed in between is not left to the next periodic refresh.
            self.wait_for_push(0)
            next_refresh = 0.0
            while not self.shutdown.is_set():
                if time.monotonic() >= next_refresh:
                    self.refresh_symbols()
                    next_refresh = time.monotonic() + refresh_interval
                self.feeder.maintain()
                if self.wait_for_push(min(0.1, refresh_interval)):
                    next_refresh = 0.0
        finally:
            logger.info("runfeeder: shutting down")
            if self._pubsub is not None:
                self._pubsub.close()
            self.feeder.stop()
            if threading.current_thread() is not threading.main_thread():
                connections.close_all()  # a thread's connections would outlive it

    def on_signal(self, signum, frame):
        logger.info("runfeeder: received %s", signal.Signals(signum).name)
        self.shutdown.set()

    @staticmethod
    def feeder_config(options) -> FeederConfig:
        overrides = {
            "flush_interval": options["flush_interval"] or settings.FEEDER_FLUSH_SECONDS,
            "max_connection_age": options["max_connection_age"] or settings.FEEDER_MAX_CONNECTION_AGE_SECONDS,
            "reconnect_max": options["reconnect_max"] or settings.FEEDER_RECONNECT_MAX_SECONDS,
        }
        if options["streams_per_connection"]:
            streams = options["streams_per_connection"]
            overrides["max_streams_per_connection"] = min(MAX_STREAMS_PER_CONNECTION, streams)
        if options["batch_size"]:
            overrides["max_params_per_request"] = options["batch_size"]
        if options["name"]:
            overrides["name"] = options["name"]
        return FeederConfig(
            ws_url=settings.BINANCE_WS_URL,
            api_url=settings.BINANCE_API_URL,
            backfill_cap_seconds=settings.FEEDER_BACKFILL_CAP_SECONDS,
            backfill_hold_seconds=settings.FEEDER_BACKFILL_HOLD_SECONDS,
            rest_weight_share=settings.FEEDER_REST_WEIGHT_SHARE,
            **overrides,
        )

    def wait_for_push(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a ``feed:follow`` push; True if one came."""
        try:
            if self._pubsub is None:
                self._pubsub = store.redis_client().pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(store.FOLLOW_CHANNEL)
            pushed = self._pubsub.get_message(timeout=timeout) is not None
            while self._pubsub.get_message(timeout=0) is not None:  # one refresh for a burst
                pushed = True
            return pushed
        except redis.RedisError as exc:
            logger.debug("runfeeder: no push channel (%s); the periodic refresh goes on", exc)
            self._pubsub = None
            self.shutdown.wait(timeout)
            return False

    def refresh_symbols(self) -> bool:
        """Follow the TRADING symbols that have waiting alerts; on any read error keep the current set."""
        close_old_connections()
        try:
            found = self.symbols_source()
            wanted = {symbol.upper() for symbol in found}
            frontier = {s.upper(): bound for s, bound in found.items()} if isinstance(found, Mapping) else {}
            # The earliest armed_at per symbol, if the source tells it: where a new subscription's
            # backfill starts.
            self.armed_since = {
                symbol.upper(): int(since.timestamp() * 1000)
                for symbol, since in getattr(found, "armed_since", {}).items()
                if since is not None
            }
            statuses = symbol_statuses(sorted(wanted))
        except Exception:
            logger.exception(
                "runfeeder: could not read the symbol set; still following %d", len(self.feeder.symbols)
            )
            return False
        finally:
            close_old_connections()
        trading = {symbol for symbol in wanted if statuses.get(symbol) == Symbol.TRADING}
        self.report_unfollowable(
            {symbol: statuses.get(symbol, NOT_IN_CATALOGUE) for symbol in wanted - trading}
        )
        followed = self.lingering(trading)
        # A lingering symbol (no alert waits on it) has no frontier: it never wakes the engine.
        bounds = {s: frontier[s] for s in followed if s in frontier}
        return self.feeder.follow(followed, bounds, armed_since=self.armed_since)

    def lingering(self, trading: set[str]) -> set[str]:
        """``trading`` plus the symbols wanted within the last FEEDER_LINGER_SECONDS."""
        now = time.monotonic()
        for symbol in trading:
            self._wanted_at[symbol] = now
        linger = settings.FEEDER_LINGER_SECONDS
        self._wanted_at = {s: at for s, at in self._wanted_at.items() if now - at < linger}
        return trading | self._wanted_at.keys()

    def report_unfollowable(self, unfollowable: dict[str, str]) -> None:
        """Log each symbol with waiting alerts that is not followed, once per status change."""
        news = {
            symbol: status
            for symbol, status in unfollowable.items()
            if self._unfollowable.get(symbol) != status
        }
        if news:
            listed = ", ".join(f"{symbol} ({status})" for symbol, status in sorted(news.items()))
            logger.warning(
                "runfeeder: not following %d symbol(s) with waiting alerts, not TRADING: %s",
                len(news),
                listed,
            )
        self._unfollowable = unfollowable
