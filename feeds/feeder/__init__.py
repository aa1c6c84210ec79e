"""The feeder loop: Binance connections in, per-symbol windows out to the Redis price store.

Three kinds of objects, each with one job and one module:

- ``Connection`` (``connection.py``, a thread per WebSocket): connects to the
  combined-stream endpoint, keeps its subscriptions equal to the streams it is
  told to follow (``subscriptions.py``: SUBSCRIBE/UNSUBSCRIBE in batches,
  within Binance's control-message rate), answers pings, folds every trade
  into a ``PriceWindow`` per symbol, and hands its windows to the flusher
  every ``flush_interval``. After a drop it reconnects with backoff
  (``pacing.py``) and resubscribes everything.
- ``Flusher`` (``flusher.py``, one thread): merges the windows it is handed and
  writes them with ``store.write_windows`` (one stream entry per flush, plus
  the latest prices), and the connections' heartbeats. A Redis failure never
  drops a window, and receiving never waits for Redis. Windows with a trade
  past the ``Frontier`` (``frontier.py``: per symbol, the nearest prices an
  alert watches) are written at once, and then the engine is woken.
- ``Feeder`` (``controller.py``): the controller. ``follow(symbols)`` shards the
  streams over connections; ``maintain()`` replaces a connection before
  Binance's 24-hour limit or after a ``serverShutdown`` event,
  make-before-break.

``FeederConfig`` (``config.py``) holds the limits and timings. ``manage.py
runfeeder`` drives a ``Feeder``; tests and the benchmark do too.
"""

from feeds.feeder.config import FeederConfig
from feeds.feeder.controller import Feeder

__all__ = ["Feeder", "FeederConfig"]
