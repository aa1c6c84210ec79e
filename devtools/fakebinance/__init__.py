"""A faithful fake of Binance's spot WebSocket market streams, for tests, benchmarks and demos.

A development tool (``devtools``): production code never imports it.

Real sockets, real WebSocket protocol (the ``websockets`` asyncio server in a
background thread), Binance's endpoints, control requests, limits and frame
formats as Binance's spot docs (web-socket-streams.md) describe them; the
project's protocol notes are ../shared/binance/PROTOCOL.md. It needs no Django.

Use from Python (tests, benchmarks, the demo's market simulator)::

    from devtools.fakebinance import FakeBinance

    with FakeBinance(ping_interval=20, pong_timeout=60) as binance:   # or .start() / .stop()
        settings.BINANCE_WS_URL = binance.url          # "ws://127.0.0.1:<port>"
        ... start `manage.py runfeeder` (subprocess) or a feeds.feeder.Feeder ...
        binance.wait_for_subscription("btcusdt@aggTrade", timeout=10)
        binance.publish_trade("BTCUSDT", "70000.01")   # aggTrade/trade/kline_1s to subscribers
        binance.drop_all()                             # every connection cut (TCP reset)
        binance.send_server_shutdown()                 # the serverShutdown event
        binance.subscriptions()                        # [set of streams] per open connection
        binance.rate_violations                        # clients closed for > 5 messages/s
        settings.BINANCE_API_URL = binance.api_url      # REST on the same port: "http://127.0.0.1:<port>"
        binance.lose_trades([("BTCUSDT", "1", None)])    # a trade whose frame reaches nobody (an id gap)
        binance.queue_rest_failure(429, retry_after=2)  # the next REST answer
        binance.trades("BTCUSDT"), binance.rest_requests()

The whole public surface:

- lifecycle: ``start()``, ``stop()``, context manager, ``url``, ``port``;
- events: ``publish_trade(symbol, price, qty="1", event_ms=None, buyer_is_maker=None)``,
  ``publish_trades([(symbol, price), ...], event_ms=None)`` (one write per socket),
  ``prepare_trades(...)`` + ``send_prepared(...)`` (encode first, send later: benchmarks),
  ``publish_raw(text)`` (any frame, e.g. malformed JSON), ``send_server_shutdown(close_after=None)``,
  ``start_random_walk(rate=2.0, step=0.001, start_prices=None, seed=None)``, ``stop_random_walk()``;
- faults: ``drop_all()``;
- observation: ``subscriptions()``, ``all_subscriptions()``, ``connection_count``,
  ``connections_accepted``, ``control_message_counts`` (client id -> requests),
  ``rate_violations``, ``stream_limit_violations``, ``pong_timeouts``, ``close_codes``;
- waiting (no sleeps: woken by every state change): ``wait_until(predicate)``,
  ``wait_for_subscription(stream)``, ``wait_for_unsubscription(stream)``,
  ``wait_for_connections(count)``; each returns False on timeout.

Or from a shell (``make demo``'s market)::

    python -m devtools.fakebinance --port 9443 --random-walk --rate 2 --price BTCUSDT=60000

What it serves (PROTOCOL.md sections 1-4), one module each: ``connections``
(endpoints), ``control`` (requests and replies), ``wire`` and ``market``
(events), ``server`` (limits, keepalive, the public API):

- ``/ws`` and ``/ws/<s1>/<s2>`` (raw payloads), ``/stream`` and
  ``/stream?streams=<s1>/<s2>`` (payloads wrapped as ``{"stream","data"}``);
  any other path gets HTTP 404, a malformed stream name in the URL HTTP 400.
- ``SUBSCRIBE``, ``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY``,
  ``GET_PROPERTY ["combined"]`` with Binance's replies ``{"result":...,"id":...}``
  and errors ``{"error":{"code","msg"},"id":...}`` (codes 0-3 of the docs'
  table). A well-formed stream of an unknown symbol is acked and stays silent,
  like Binance.
- Limits: a connection that sends more than ``max_messages_per_second``
  (5) messages within one second - text, binary, ping and pong frames all
  count - is closed (code 1008) and recorded in ``rate_violations``. At most
  ``max_streams_per_connection`` (1024) streams: a SUBSCRIBE past that gets
  an error reply and is recorded in ``stream_limit_violations``.
- Keepalive: a ping (random 4-byte payload) every ``ping_interval`` seconds
  (Binance: 20); a client that does not pong within ``pong_timeout``
  (Binance: 60) is dropped and counted in ``pong_timeouts``.
- Events: ``aggTrade``, ``trade`` and ``kline_1s`` with the key order and
  formatting of the recorded frames (prices and quantities as strings with 8
  decimals, e.g. ``"58001.03000000"``). kline_1s updates are sent on trades
  (the candle of the previous second is sent closed, ``"x":true``, when the
  first trade of a new second arrives), not on a timer.

- REST (``rest``): ``GET /api/v3/aggTrades`` (weight 4; ``fromId``,
  ``startTime``, ``endTime`` inclusive, ``limit`` <= 1000) and
  ``GET /api/v3/ticker/price`` (weight 2) from every trade the market made per
  symbol (consecutive aggregate ids, kept whether anyone was subscribed or
  not), ``X-MBX-USED-WEIGHT-1M`` per clock minute, 429 past the limit and 418
  to a client asking again before ``Retry-After``. Any other path: 404.

Choices where Binance's docs are silent (documented so tests do not over-trust
them): the close code for a rate violation (1008) and the error message for
too many streams.
"""

from devtools.fakebinance.server import FakeBinance, PreparedFrames

__all__ = ["FakeBinance", "PreparedFrames"]
