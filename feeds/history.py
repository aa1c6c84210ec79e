"""Per-symbol price history in Redis: 1-second buckets for 15 minutes, 1-minute buckets for 24 hours.

The feeder folds every aggregate trade it folds into a window (live or
backfilled, in aggregate-id order, each exactly once) into buckets too, and
writes them in the same MULTI as the windows and ``feed:last_ids``
(``feeds.store``): after a restart the backfill starts after the last id
written, so the history holds every trade exactly once, as an uninterrupted
connection would have folded it. Minute buckets of a newly followed symbol are
filled from REST klines (``fill_minutes``).

A bucket holds open, high, low, close and quote volume (the sum of price x
quantity, exact: nothing is rounded) of the trades whose exchange event time
``T`` falls in ``[start, start + resolution)``; a bucket with no trade is absent.

Layout (compact and self-trimming): buckets are grouped in chunk hashes, each
under 128 fields, and each expiring (EXPIREAT) once its newest bucket is
older than the retention plus ``RETENTION_SLACK_S`` (3 minutes: the engine
may judge a second that late and still find its whole window):

- ``hist:s:{SYMBOL}:{minute start, unix s}``: field ``0``..``59`` (second in
  the minute) -> ``"open high low close quote_volume first last"`` (``first`` and
  ``last``: the ms offsets of the bucket's first and last trade, so that two
  writes of one bucket merge exactly; a minute filled from a kline ends in
  ``"0 0 k"``), plus ``a`` -> ``"high low quote_volume"`` over the whole chunk;
- ``hist:m:{SYMBOL}:{hour start, unix s}``: the same for minutes in the hour;
- ``hist:si:{SYMBOL}`` and ``hist:mi:{SYMBOL}``: each chunk's aggregate again,
  field = chunk start, so one HGETALL reads all of a symbol's (the engine's
  bound, ``feeds.aggregates``); and ``N`` (the newest chunk's start and
  aggregate), ``c`` (a count bumped whenever any other field changes) and ``e``
  (when the hash began), so that a reader can keep the closed chunks' fold
  and read only those three while the count stays.

Writes merge in Redis (one Lua script, exact decimal arithmetic on the
strings), so a bucket written in several flushes, or by a restarted feeder,
adds up. ``record_trades`` is therefore NOT idempotent: the same trades
recorded twice count their volume twice (the feeder records each aggregate
trade id once). ``fill_minutes`` (klines) is idempotent.

The chunk aggregates let a window read cheaply: whole chunks inside the window
are read as one ``a`` field, only the two edge chunks bucket by bucket
(``window_summary``).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import redis

from feeds import store
from feeds.buckets import WIDE, Bucket, fold_seconds, merge_buckets

__all__ = [
    "WIDE",
    "Bucket",
    "Candle",
    "Summary",
    "fold_seconds",
    "merge_buckets",
    "minute_candles",
    "second_buckets",
]

SECOND_PREFIX = "hist:s:"
MINUTE_PREFIX = "hist:m:"
SECOND_RETENTION_S = 15 * 60
MINUTE_RETENTION_S = 24 * 3600
# Kept this much longer than the retention: the engine judges a second up to this late
# (a busy tick) with its whole 15-minute or 24-hour window still there.
RETENTION_SLACK_S = 180
SECOND_CHUNK_S = 60  # one hash per minute of seconds
MINUTE_CHUNK_S = 3600  # one hash per hour of minutes
# Set when a symbol's minutes were filled from klines (its first follow); lives as long as the minutes.
FILLED_KEY = "hist:filled:{symbol}"
AGGREGATE_FIELD = "a"

# Exact, unbounded decimal arithmetic on non-negative decimal strings (Lua numbers are doubles).
MERGE_SCRIPT = """
local function split(s)
  local i, f = string.match(s, "^(%d*)%.?(%d*)$")
  i = string.gsub(i, "^0+", "")
  f = string.gsub(f, "0+$", "")
  return i, f
end
local function pad(af, bf)
  local n = math.max(#af, #bf)
  return af .. string.rep("0", n - #af), bf .. string.rep("0", n - #bf), n
end
local function cmp(a, b)
  local ai, af = split(a)
  local bi, bf = split(b)
  if #ai ~= #bi then return (#ai < #bi) and -1 or 1 end
  if ai ~= bi then return (ai < bi) and -1 or 1 end
  af, bf = pad(af, bf)
  if af == bf then return 0 end
  return (af < bf) and -1 or 1
end
local function add(a, b)
  local ai, af = split(a)
  local bi, bf = split(b)
  local n
  af, bf, n = pad(af, bf)
  local x, y = ai .. af, bi .. bf
  local m = math.max(#x, #y)
  x = string.rep("0", m - #x) .. x
  y = string.rep("0", m - #y) .. y
  local out, carry = {}, 0
  for k = m, 1, -1 do
    local d = string.byte(x, k) + string.byte(y, k) - 96 + carry
    if d >= 10 then d = d - 10; carry = 1 else carry = 0 end
    out[#out + 1] = string.char(48 + d)
  end
  if carry == 1 then out[#out + 1] = "1" end
  local s = string.reverse(table.concat(out))
  local ip = string.gsub(string.sub(s, 1, #s - n), "^0+", "")
  local fp = string.gsub(string.sub(s, #s - n + 1), "0+$", "")
  if ip == "" then ip = "0" end
  if fp == "" then return ip end
  return ip .. "." .. fp
end
local function fields(s)
  local t = {}
  for w in string.gmatch(s, "%S+") do t[#t + 1] = w end
  return t
end
-- Each chunk's aggregate is also kept in its symbol's index hash (hist:si:SYM / hist:mi:SYM,
-- field = chunk start): one HGETALL reads a symbol's aggregates. Stale fields go when a chunk opens.
-- Three more fields let a reader keep the closed chunks between reads (feeds.aggregates): "N", the
-- newest chunk as "start high low quote_volume"; "c", a count bumped whenever anything else changes
-- (a chunk closed by a newer one, a closed chunk written, a chunk dropped); "e", when the hash began.
local function newest_of(ikey)
  local n = redis.call("HGET", ikey, "N")
  if n then return tonumber(string.match(n, "^%d+")), true end
  local newest = nil  -- a hash written before "N" was kept
  for _, f in ipairs(redis.call("HKEYS", ikey)) do
    local s = tonumber(f)
    if s and (newest == nil or s > newest) then newest = s end
  end
  return newest, false
end
local function changed(ikey)
  redis.call("HSETNX", ikey, "e", table.concat(redis.call("TIME"), "."))
  redis.call("HINCRBY", ikey, "c", 1)
end
local function index(key, value, expire_at)
  local prefix, sym, chunk = string.match(key, "^(hist:%a):(.+):(%d+)$")
  local ikey = prefix .. "i:" .. sym
  local start = tonumber(chunk)
  local now = tonumber(redis.call("TIME")[1])
  local newest, known = newest_of(ikey)
  if tonumber(expire_at) <= now then
    -- older than the retention: the chunk is gone already
    if redis.call("HDEL", ikey, chunk) == 1 then
      if start == newest then redis.call("HDEL", ikey, "N") end
      changed(ikey)
    end
    return
  end
  local fresh = redis.call("HSET", ikey, chunk, value)
  if newest == nil or start >= newest then
    redis.call("HSET", ikey, "N", chunk .. " " .. value)
  end
  local dirty = newest == nil or start ~= newest or not known
  if fresh == 1 then
    local keep = KEEP_MINUTES
    if prefix == "hist:s" then keep = KEEP_SECONDS end
    local oldest = start - keep
    for _, other in ipairs(redis.call("HKEYS", ikey)) do
      local s = tonumber(other)
      if s and s < oldest then
        redis.call("HDEL", ikey, other)
        dirty = true
      end
    end
  end
  if dirty then changed(ikey) end
  local ttl = redis.call("TTL", ikey)
  if ttl < 0 or ttl < tonumber(expire_at) - now then
    redis.call("EXPIREAT", ikey, expire_at)
  end
end
local klines = ARGV[1] == "klines"
local touched = {}
local i = 2
while i <= #ARGV do
  local key = KEYS[tonumber(ARGV[i])]
  local field, o, h, l, c, qv = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local f, t, expire_at = tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8]), ARGV[i + 9]
  i = i + 10
  if klines then
    -- A closed minute's kline holds every trade of it: it replaces what trades built.
    redis.call("HSET", key, field, o .. " " .. h .. " " .. l .. " " .. c .. " " .. qv .. " 0 0 k")
    redis.call("EXPIREAT", key, expire_at)
    touched[key] = true
  else
    local old = redis.call("HGET", key, field)
    local write = true
    if old then
      local b = fields(old)
      if b[8] == "k" then
        write = false  -- already counted in the kline
      else
        local bf, bt = tonumber(b[6]), tonumber(b[7])
        if f >= bf then o = b[1]; f = bf end
        if t < bt then c = b[4]; t = bt end
        if cmp(b[2], h) > 0 then h = b[2] end
        if cmp(b[3], l) < 0 then l = b[3] end
        qv = add(b[5], qv)
      end
    end
    if write then
      local value = o .. " " .. h .. " " .. l .. " " .. c .. " " .. qv
      redis.call("HSET", key, field, value .. " " .. f .. " " .. t)
      local ah, al, aq = ARGV[i - 7], ARGV[i - 6], ARGV[i - 4]
      local agg = redis.call("HGET", key, "a")
      if agg then
        local a = fields(agg)
        if cmp(a[1], ah) > 0 then ah = a[1] end
        if cmp(a[2], al) < 0 then al = a[2] end
        aq = add(a[3], aq)
      end
      redis.call("HSET", key, "a", ah .. " " .. al .. " " .. aq)
      redis.call("EXPIREAT", key, expire_at)
      index(key, ah .. " " .. al .. " " .. aq, expire_at)
    end
  end
end
-- Replaced buckets: the chunk's aggregate again from all its buckets.
for key, _ in pairs(touched) do
  local all = redis.call("HGETALL", key)
  local ah, al, aq = nil, nil, "0"
  for j = 1, #all, 2 do
    if all[j] ~= "a" then
      local b = fields(all[j + 1])
      if ah == nil or cmp(b[2], ah) > 0 then ah = b[2] end
      if al == nil or cmp(b[3], al) < 0 then al = b[3] end
      aq = add(aq, b[5])
    end
  end
  if ah then
    redis.call("HSET", key, "a", ah .. " " .. al .. " " .. aq)
    index(key, ah .. " " .. al .. " " .. aq, redis.call("EXPIRETIME", key))
  end
end
return 1
"""
# The index hashes keep a chunk's field as long as the chunk itself lives.
MERGE_SCRIPT = MERGE_SCRIPT.replace(
    "KEEP_SECONDS", str(SECOND_RETENTION_S + RETENTION_SLACK_S + SECOND_CHUNK_S)
).replace("KEEP_MINUTES", str(MINUTE_RETENTION_S + RETENTION_SLACK_S + MINUTE_CHUNK_S))


@dataclass(frozen=True, slots=True)
class Candle:
    """One bucket: the trades with exchange event time in ``[start, start + resolution)``."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    quote_volume: Decimal


@dataclass(frozen=True, slots=True)
class Summary:
    """High, low and quote volume of the trades in a range of buckets (None: no trade in it)."""

    high: Decimal
    low: Decimal
    quote_volume: Decimal
    # The close of the newest bucket, when the range was read bucket by bucket (else None).
    close: Decimal | None = field(default=None, compare=False)


def _text(value: Decimal) -> str:
    """The shortest exact decimal string (no exponent, no trailing zeros)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _minutes_of(seconds: Sequence[Bucket]) -> list[Bucket]:
    minutes: list[Bucket] = []
    for second in seconds:
        start = second.start_ms - second.start_ms % 60_000
        if minutes and minutes[-1].start_ms == start:
            minutes[-1].merge(second)
        else:
            minute = second.copy()
            minute.start_ms = start
            minutes.append(minute)
    return minutes


def _entries(
    keys: dict[str, int], args: list, prefix: str, symbol: str, buckets, resolution_s, chunk_s, keep_s
):
    for bucket in buckets:
        start_s = bucket.start_ms // 1000
        chunk = start_s - start_s % chunk_s
        key = f"{prefix}{symbol}:{chunk}"
        index = keys.setdefault(key, len(keys) + 1)
        args += [
            index,
            (start_s - chunk) // resolution_s,
            _text(bucket.open),
            _text(bucket.high),
            _text(bucket.low),
            _text(bucket.close),
            _text(bucket.quote_volume),
            bucket.first_ms - bucket.start_ms,
            bucket.last_ms - bucket.start_ms,
            chunk + chunk_s + keep_s,
        ]


def queue_seconds(pipe, by_symbol: Iterable[tuple[str, Sequence[Bucket]]]) -> None:
    """Queue, as one script call, the merge of these symbols' 1-second buckets and the minutes they make."""
    keys: dict[str, int] = {}
    args: list = ["merge"]
    for symbol, seconds in by_symbol:
        if not seconds:
            continue
        keep_seconds, keep_minutes = (
            SECOND_RETENTION_S + RETENTION_SLACK_S,
            MINUTE_RETENTION_S + RETENTION_SLACK_S,
        )
        _entries(keys, args, SECOND_PREFIX, symbol, seconds, 1, SECOND_CHUNK_S, keep_seconds)
        minutes = _minutes_of(seconds)
        _entries(keys, args, MINUTE_PREFIX, symbol, minutes, 60, MINUTE_CHUNK_S, keep_minutes)
    if keys:
        pipe.eval(MERGE_SCRIPT, len(keys), *keys, *args)


def queue_windows(pipe, windows) -> None:
    """``feeds.store.write_windows``' ``also``: the windows' buckets, in the MULTI that writes them."""
    queue_seconds(pipe, [(w.symbol, w.seconds) for w in windows if w.seconds])


def record_trades(symbol: str, trades: Iterable[tuple[Decimal, Decimal, int]], client=None) -> None:
    """Fold trades (price, quantity, event ms) into the symbol's history. Not idempotent (see above)."""
    seconds = fold_seconds(trades)
    if seconds:
        pipe = (client or store.redis_client()).pipeline(transaction=True)
        queue_seconds(pipe, [(symbol.upper(), seconds)])
        pipe.execute()


def fill_minutes(symbol: str, minutes: Sequence[Candle], client=None) -> None:
    """Write closed minutes' candles (REST klines), replacing what trades built of those minutes.

    A closed minute's kline counts every trade of that minute, so it replaces a
    bucket partly built from trades, and a trade of that minute merged later
    (a backfill landing after the fill) is left out: it is in the kline already.
    Idempotent. Only pass minutes that were closed when the klines were fetched.
    """
    symbol = symbol.upper()
    buckets = []
    for candle in minutes:
        start_ms = int(candle.start.timestamp() * 1000)
        bucket = Bucket(start_ms, candle.open, candle.quote_volume, start_ms)
        bucket.high, bucket.low, bucket.close = candle.high, candle.low, candle.close
        buckets.append(bucket)
    if not buckets:
        return
    keys: dict[str, int] = {}
    args: list = ["klines"]
    _entries(
        keys, args, MINUTE_PREFIX, symbol, buckets, 60, MINUTE_CHUNK_S, MINUTE_RETENTION_S + RETENTION_SLACK_S
    )
    (client or store.redis_client()).eval(MERGE_SCRIPT, len(keys), *keys, *args)


def mark_filled(symbol: str, client=None) -> bool:
    """Claim the symbol's klines fill; False when it was filled within the retention already."""
    key = FILLED_KEY.format(symbol=symbol.upper())
    return bool((client or store.redis_client()).set(key, "1", nx=True, ex=MINUTE_RETENTION_S))


def unmark_filled(symbol: str, client=None) -> None:
    (client or store.redis_client()).delete(FILLED_KEY.format(symbol=symbol.upper()))


# --- reading ------------------------------------------------------------------


def _as_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _chunk_starts(since_ms: int, until_ms: int, chunk_s: int) -> list[int]:
    first = since_ms // 1000
    first -= first % chunk_s
    return list(range(first, until_ms // 1000 + 1, chunk_s))


def _candles(symbol, since, until, client, prefix, resolution_s, chunk_s) -> list[Candle]:
    client = client or store.redis_client()
    since_ms = _as_ms(since)
    until_ms = _as_ms(until) if until is not None else int(datetime.now(UTC).timestamp() * 1000)
    if until_ms < since_ms:
        return []
    chunks = _chunk_starts(since_ms, until_ms, chunk_s)
    pipe = client.pipeline(transaction=False)
    for chunk in chunks:
        pipe.hgetall(f"{prefix}{symbol.upper()}:{chunk}")
    candles = []
    for chunk, fields in zip(chunks, pipe.execute(), strict=True):
        for name, value in fields.items():
            if name == AGGREGATE_FIELD:
                continue
            start_s = chunk + int(name) * resolution_s
            if since_ms <= start_s * 1000 <= until_ms:
                candles.append(_candle(start_s, value))
    candles.sort(key=lambda c: c.start)
    return candles


def _candle(start_s: int, value: str) -> Candle:
    o, h, l, c, qv = value.split(" ")[:5]  # noqa: E741
    return Candle(
        store.ms_to_datetime(start_s * 1000), Decimal(o), Decimal(h), Decimal(l), Decimal(c), Decimal(qv)
    )


def second_buckets(symbol: str, since: datetime, until: datetime | None = None, client=None) -> list[Candle]:
    """1-second buckets starting in ``[since, until]`` (until: now), oldest first; 15 minutes kept."""
    return _candles(symbol, since, until, client, SECOND_PREFIX, 1, SECOND_CHUNK_S)


def minute_candles(symbol: str, since: datetime, until: datetime | None = None, client=None) -> list[Candle]:
    """1-minute buckets starting in ``[since, until]`` (until: now), oldest first; 24 hours kept."""
    return _candles(symbol, since, until, client, MINUTE_PREFIX, 60, MINUTE_CHUNK_S)


def combine(parts: Iterable[Summary | None]) -> Summary | None:
    result = None
    for part in parts:
        if part is None:
            continue
        if result is None:
            result = part
        else:
            result = Summary(
                max(result.high, part.high),
                min(result.low, part.low),
                WIDE.add(result.quote_volume, part.quote_volume),
            )
    return result


def window_summaries(requests: Sequence[tuple[str, int, int, int]], client=None) -> list[Summary | None]:
    """For each (symbol, resolution s, first bucket start ms, last bucket start ms): the buckets' summary.

    Resolution 1 reads second buckets, 60 minute buckets. Chunks wholly inside
    the range are read as their aggregate field; the edge chunks bucket by bucket.
    One pipelined round trip for all requests.
    """
    client = client or store.redis_client()
    pipe = client.pipeline(transaction=False)
    plans = []
    for symbol, resolution_s, first_ms, last_ms in requests:
        prefix, chunk_s = (
            (SECOND_PREFIX, SECOND_CHUNK_S) if resolution_s == 1 else (MINUTE_PREFIX, MINUTE_CHUNK_S)
        )
        plan = []
        for chunk in _chunk_starts(first_ms, last_ms, chunk_s):
            key = f"{prefix}{symbol}:{chunk}"
            whole = chunk * 1000 >= first_ms and (chunk + chunk_s - resolution_s) * 1000 <= last_ms
            if whole:
                pipe.hget(key, AGGREGATE_FIELD)
            else:
                pipe.hgetall(key)
            plan.append((chunk, whole))
        plans.append((resolution_s, first_ms, last_ms, plan))
    answers = iter(pipe.execute())
    results = []
    for resolution_s, first_ms, last_ms, plan in plans:
        parts = []
        newest = (-1, None)  # (start ms, close) of the newest bucket read one by one
        for chunk, whole in plan:
            answer = next(answers)
            if whole:
                if answer:
                    h, l, qv = answer.split(" ")  # noqa: E741
                    parts.append(Summary(Decimal(h), Decimal(l), Decimal(qv)))
                continue
            for name, value in answer.items():
                if name == AGGREGATE_FIELD:
                    continue
                start_ms = (chunk + int(name) * resolution_s) * 1000
                if first_ms <= start_ms <= last_ms:
                    _, h, l, c, qv = value.split(" ")[:5]  # noqa: E741
                    parts.append(Summary(Decimal(h), Decimal(l), Decimal(qv)))
                    if start_ms > newest[0]:
                        newest = (start_ms, c)
        summary = combine(parts)
        if summary is not None and len(parts) == 1 and newest[1] is not None:
            summary = Summary(summary.high, summary.low, summary.quote_volume, Decimal(newest[1]))
        results.append(summary)
    return results


def chunk_key(symbol: str, resolution_s: int, start_ms: int) -> str:
    """The chunk hash holding the bucket that starts at ``start_ms`` (resolution 1 or 60 s)."""
    prefix, chunk_s = (
        (SECOND_PREFIX, SECOND_CHUNK_S) if resolution_s == 1 else (MINUTE_PREFIX, MINUTE_CHUNK_S)
    )
    start_s = start_ms // 1000
    return f"{prefix}{symbol}:{start_s - start_s % chunk_s}"


def chunk_keys(symbol: str, resolution_s: int, first_ms: int, last_ms: int) -> list[str]:
    """The chunk hashes that hold the buckets starting in [first_ms, last_ms]."""
    prefix, chunk_s = (
        (SECOND_PREFIX, SECOND_CHUNK_S) if resolution_s == 1 else (MINUTE_PREFIX, MINUTE_CHUNK_S)
    )
    return [f"{prefix}{symbol}:{chunk}" for chunk in _chunk_starts(first_ms, last_ms, chunk_s)]


def history_bytes(symbol: str, client=None) -> int:
    """Redis memory (MEMORY USAGE) of one symbol's history keys: for the benchmark and operators."""
    client = client or store.redis_client()
    total = 0
    for prefix in (SECOND_PREFIX, MINUTE_PREFIX):
        for key in client.scan_iter(match=f"{prefix}{symbol.upper()}:*", count=1000):
            total += client.memory_usage(key, samples=0) or 0
        total += client.memory_usage(f"{prefix[:-1]}i:{symbol.upper()}", samples=0) or 0
    return total


def delete_history(symbol: str, client: redis.Redis | None = None) -> None:
    client = client or store.redis_client()
    for prefix in (SECOND_PREFIX, MINUTE_PREFIX):
        keys = list(client.scan_iter(match=f"{prefix}{symbol.upper()}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.delete(f"{prefix[:-1]}i:{symbol.upper()}")
