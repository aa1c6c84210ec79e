"""The feeder's settings: Binance's limits and the flush, reconnect and retry timings."""

import socket
from dataclasses import dataclass

from feeds.binance import MAX_INCOMING_MESSAGES_PER_SECOND, MAX_STREAMS_PER_CONNECTION

TWENTY_FOUR_HOURS_LESS_TEN_MINUTES = 23 * 3600 + 50 * 60


@dataclass(frozen=True)
class FeederConfig:
    ws_url: str
    # How often windows go to Redis (and subscriptions are reconciled).
    flush_interval: float = 0.2
    max_streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    # Binance answers "too many parameters" past some undocumented size: stay well below it.
    max_params_per_request: int = 200
    # Binance counts pongs among the incoming messages it allows per second; one is kept as margin.
    control_messages_per_second: int = MAX_INCOMING_MESSAGES_PER_SECOND - 1
    reconnect_base: float = 1.0
    reconnect_max: float = 60.0
    # A connection that lived this long resets the backoff.
    healthy_after: float = 60.0
    max_connection_age: float = TWENTY_FOUR_HOURS_LESS_TEN_MINUTES
    ack_timeout: float = 10.0
    connect_timeout: float = 10.0
    redis_retry_max: float = 5.0
    heartbeat_interval: float = 1.0
    # Seconds the flusher keeps retrying Redis at shutdown before giving up.
    shutdown_flush_timeout: float = 5.0
    # Windows written in this many seconds are written again if Redis comes back
    # empty: the engine may not have read them yet (far more than a tick's lag).
    replay_seconds: float = 30.0
    # The wake-up after a crossing: this task, by name, on this queue (the engine's own);
    # a wake-up nobody ran this soon is dropped (the beat tick has evaluated by then).
    wake_task: str = "alerts.tasks.evaluate_alerts"
    wake_queue: str = "engine"
    wake_expires: float = 5.0
    # Binance's REST base URL for backfills (BINANCE_API_URL); None: no backfill, gaps unseen.
    api_url: str | None = None
    # Backfill nothing older than this; an older gap is logged and recorded in Redis.
    backfill_cap_seconds: float = 600.0
    # How long a symbol's live frames wait for its backfill before the gap is reported and they go on.
    backfill_hold_seconds: float = 10.0
    # The share of Binance's REST request-weight limit backfills may use.
    rest_weight_share: float = 0.5
    # Connection names (heartbeats) are "<name>/<shard>".
    name: str = socket.gethostname()
