"""Reading the chunk aggregates of symbols' history for a bound, tick after tick, for little.

The window kinds' bound (``alerts.engine.windows``) needs, for every moved
symbol with window alerts, every chunk aggregate of its history (about 45 per
symbol: 18 minutes of seconds, 27 hours of minutes) and the buckets of the
seconds it judges. Only the newest chunk of each index hash still takes
trades; the closed ones change when a chunk closes (once a minute, once an
hour), a backfill writes an old second, or one expires. So the closed chunks
are folded once and kept here between reads, under the index hash's version
(``feeds.history``: its fields ``e`` and ``c``, bumped by every change but the
newest chunk's), and a read asks only for the version and the newest chunk
(``N``), in one script call for all symbols (``HEADS_SCRIPT``). A symbol whose
version moved is read whole (HGETALL) in a second round trip, as is a hash
written before it kept a version.

The same call can keep a mark per symbol in a hash of the caller's: the
newest second judged, read before it is replaced by this read's newest; a
mark older than the first second asked for is asked for too and returned
(``Heads.previous``): the engine judges that second again, whole.
"""

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from feeds import store
from feeds.buckets import WIDE
from feeds.history import MINUTE_PREFIX, SECOND_CHUNK_S, SECOND_PREFIX, Summary, combine

# KEYS: the mark hash (or any key, unused, when ARGV[1] is "0"), then two index hashes per symbol
# (seconds, minutes). ARGV: "1" to keep marks, then per symbol: name, count (at least one), its
# seconds (unix ms, ascending). Returns per symbol: e, c, N of both hashes (e "-": no such hash),
# the mark before this read, then the bucket of each second asked for (and of the mark, first, when
# it is older than them).
HEADS_SCRIPT = """
local marking = ARGV[1] == "1"
local symbols, seconds, newest = {}, {}, {}
local a = 2
while a <= #ARGV do
  local count = tonumber(ARGV[a + 1])
  local list = {}
  for j = 1, count do list[j] = tonumber(ARGV[a + 1 + j]) end
  symbols[#symbols + 1], seconds[#seconds + 1], newest[#newest + 1] = ARGV[a], list, ARGV[a + 1 + count]
  a = a + 2 + count
end
local marks = {}
if marking then  -- in slices: unpack() takes a few thousand values at most
  for first = 1, #symbols, 500 do
    local last = math.min(first + 499, #symbols)
    local names, update = {}, {}
    for i = first, last do
      names[#names + 1] = symbols[i]
      update[#update + 1] = symbols[i]
      update[#update + 1] = newest[i]
    end
    for k, v in ipairs(redis.call("HMGET", KEYS[1], unpack(names))) do marks[first + k - 1] = v end
    redis.call("HSET", KEYS[1], unpack(update))
  end
end
local out = {}
local function head(key)
  local e, c, n = unpack(redis.call("HMGET", key, "e", "c", "N"))
  if not e and redis.call("EXISTS", key) == 0 then e = "-" end
  out[#out + 1] = e
  out[#out + 1] = c
  out[#out + 1] = n
end
for i = 1, #symbols do
  head(KEYS[2 * i])
  head(KEYS[2 * i + 1])
  local list = seconds[i]
  local mark = marks[i] or false
  out[#out + 1] = mark
  if mark and tonumber(mark) < list[1] then table.insert(list, 1, tonumber(mark)) end
  -- The buckets, one HMGET per chunk (a batch's seconds mostly share one).
  local j = 1
  while j <= #list do
    local s = math.floor(list[j] / 1000)
    local chunk = s - s % SECOND_CHUNK_S
    local fields = {}
    while j <= #list and math.floor(list[j] / 1000) - chunk < SECOND_CHUNK_S do
      fields[#fields + 1] = string.format("%d", math.floor(list[j] / 1000) - chunk)
      j = j + 1
    end
    local key = "SECOND_PREFIX" .. symbols[i] .. ":" .. string.format("%d", chunk)
    for _, v in ipairs(redis.call("HMGET", key, unpack(fields))) do out[#out + 1] = v end
  end
end
return out
"""
HEADS_SCRIPT = HEADS_SCRIPT.replace("SECOND_PREFIX", SECOND_PREFIX).replace(
    "SECOND_CHUNK_S", str(SECOND_CHUNK_S)
)
NO_HASH = "-"
_script = None


def _heads_script(client, keys: list, args: list) -> list:
    """HEADS_SCRIPT, sent by its digest (EVALSHA; redis-py loads it again where a server lacks it)."""
    global _script
    if _script is None:
        _script = client.register_script(HEADS_SCRIPT)
    return _script(keys=keys, args=args, client=client)


# Parsed aggregates by their text: closed chunks are folded again only when their hash changed.
_parsed: dict[str, Summary] = {}


def _aggregate(text: str) -> Summary:
    summary = _parsed.get(text)
    if summary is None:
        if len(_parsed) > 200_000:
            _parsed.clear()
        h, l, qv = text.split(" ")  # noqa: E741
        summary = _parsed[text] = Summary(Decimal(h), Decimal(l), Decimal(qv))
    return summary


class _FoldedChunks:
    """Chunk aggregates, newest first, with their running totals from the newest (see ``ChunkAggregates``),
    exact and as floats (a quick bound's: ``ChunkAggregates.since_floats``)."""

    __slots__ = (
        "_float_highs",
        "_float_lows",
        "_float_volumes",
        "_highs",
        "_lows",
        "_negated_starts",
        "_volumes",
        "chunks",
        "starts",
    )

    def __init__(self, ordered: list[tuple[int, str]]):
        """``ordered``: (chunk start, unix s; its aggregate's text), newest first."""
        self.starts = [start_s * 1000 for start_s, _ in ordered]  # chunk start ms, newest first
        self._negated_starts = [-start_ms for start_ms in self.starts]  # ascending, for bisect
        self.chunks: list[Summary] = []  # each chunk's own aggregate
        self._highs: list[Decimal] = []
        self._lows: list[Decimal] = []
        self._volumes: list[Decimal] = []
        high = low = volume = None
        for _, text in ordered:
            summary = _aggregate(text)
            self.chunks.append(summary)
            if high is None:
                high, low, volume = summary.high, summary.low, summary.quote_volume
            else:
                if summary.high > high:
                    high = summary.high
                if summary.low < low:
                    low = summary.low
                volume = WIDE.add(volume, summary.quote_volume)
            self._highs.append(high)
            self._lows.append(low)
            self._volumes.append(volume)
        self._float_highs = [float(value) for value in self._highs]
        self._float_lows = [float(value) for value in self._lows]
        self._float_volumes = [float(value) for value in self._volumes]

    def _count(self, oldest_ms: int) -> int:
        return bisect_right(self._negated_starts, -oldest_ms)

    def since(self, oldest_ms: int) -> Summary | None:
        """The summary of every chunk that starts at or after ``oldest_ms`` (None: there is none)."""
        count = self._count(oldest_ms)
        if not count:
            return None
        return Summary(self._highs[count - 1], self._lows[count - 1], self._volumes[count - 1])

    def since_floats(self, oldest_ms: int) -> tuple[float, float, float] | None:
        count = self._count(oldest_ms)
        if not count:
            return None
        return self._float_highs[count - 1], self._float_lows[count - 1], self._float_volumes[count - 1]


EMPTY = _FoldedChunks([])
# (resolution s, symbol) -> its index hash's version (e, c) when last read whole, and its closed chunks' fold.
_closed_folds: dict[tuple[int, str], tuple[tuple[str, str], _FoldedChunks]] = {}
CLOSED_FOLDS_KEPT = 20_000  # two per symbol; past this the memory starts over


class ChunkAggregates:
    """One symbol's chunk aggregates at one resolution, newest chunk first: ``since`` answers for any
    oldest chunk with one lookup in running totals (the closed chunks' kept fold, and the newest).
    The newest chunk's text is parsed only when asked for (a quiet tick asks for floats only)."""

    __slots__ = ("_closed", "_newest_floats", "_newest_start_ms", "_newest_text")

    def __init__(self, newest: tuple[int, str] | None, closed: _FoldedChunks):
        """``newest``: the newest chunk (start, unix s; its aggregate's text ``"high low quote_volume"``)."""
        self._newest_start_ms = None if newest is None else newest[0] * 1000
        self._newest_text = None if newest is None else newest[1]
        self._newest_floats: tuple[float, float, float] | None = None
        self._closed = closed

    @classmethod
    def from_index(
        cls, key: tuple[int, str], fields: Mapping[str, str], *, keep: bool = True
    ) -> "ChunkAggregates":
        """From an index hash read whole (``key``: resolution s, symbol); its closed chunks' fold is kept
        under its version, when it has one (and ``keep``)."""
        chunks = {int(name): text for name, text in fields.items() if name.isdigit()}
        newest = max(chunks, default=None)
        closed = sorted(((start, text) for start, text in chunks.items() if start != newest), reverse=True)
        folded = _FoldedChunks(closed)
        version = _version(fields.get("e"), fields.get("c"))
        if version is not None and keep:
            if len(_closed_folds) >= CLOSED_FOLDS_KEPT:
                _closed_folds.clear()
            _closed_folds[key] = (version, folded)
        return cls(None if newest is None else (newest, chunks[newest]), folded)

    @property
    def starts(self) -> list[int]:
        """Every chunk's start (ms), newest first."""
        return ([] if self._newest_text is None else [self._newest_start_ms]) + self._closed.starts

    @property
    def chunks(self) -> list[Summary]:
        """Every chunk's own aggregate, newest first."""
        newest = [] if self._newest_text is None else [_aggregate(self._newest_text)]
        return newest + self._closed.chunks

    def since(self, oldest_ms: int) -> Summary | None:
        """The summary of every chunk that starts at or after ``oldest_ms`` (None: there is none)."""
        if self._newest_text is None or self._newest_start_ms < oldest_ms:
            return None
        return combine([_aggregate(self._newest_text), self._closed.since(oldest_ms)])

    def since_floats(self, oldest_ms: int) -> tuple[float, float, float] | None:
        """``since`` as floats (high, low, quote volume): each within a few units in the 16th digit."""
        if self._newest_text is None or self._newest_start_ms < oldest_ms:
            return None
        if self._newest_floats is None:
            h, l, qv = self._newest_text.split(" ")  # noqa: E741
            self._newest_floats = (float(h), float(l), float(qv))
        high, low, volume = self._newest_floats
        closed = self._closed.since_floats(oldest_ms)
        if closed is None:
            return high, low, volume
        return max(high, closed[0]), min(low, closed[1]), volume + closed[2]


def _version(e: str | None, c: str | None) -> tuple[str, str] | None:
    return None if e is None or c is None else (e, c)


@dataclass(frozen=True, slots=True)
class Heads:
    """What a bound reads (``read_heads``)."""

    aggregates: dict[tuple[int, str], ChunkAggregates]  # (resolution s, symbol) -> its chunks
    bucket_texts: dict[tuple[str, int], str]  # (symbol, second ms) -> its bucket as stored (absent: no trade)
    previous: dict[str, int]  # symbol -> its mark before this read, when older than its first second

    def bucket(self, symbol: str, second_ms: int) -> Summary | None:
        """The bucket of that second (with its close), None if nothing traded in it."""
        text = self.bucket_texts.get((symbol, second_ms))
        if not text:
            return None
        _, h, l, c, qv = text.split(" ")[:5]  # noqa: E741
        return Summary(Decimal(h), Decimal(l), Decimal(qv), Decimal(c))

    def extremes(self, symbol: str, seconds: Sequence[int]) -> tuple[float, float, float] | None:
        """The highest high, lowest low and summed volume of those seconds' buckets, as floats."""
        found = None
        for second_ms in seconds:
            text = self.bucket_texts.get((symbol, second_ms))
            if not text:
                continue
            _, h, l, _, qv = text.split(" ")[:5]  # noqa: E741
            high, low, volume = float(h), float(l), float(qv)
            if found is not None:
                high, low, volume = max(high, found[0]), min(low, found[1]), volume + found[2]
            found = (high, low, volume)
        return found


def _index_keys(symbol: str) -> tuple[str, str]:
    return f"{SECOND_PREFIX[:-1]}i:{symbol}", f"{MINUTE_PREFIX[:-1]}i:{symbol}"


def read_heads(seconds: Mapping[str, Sequence[int]], *, mark_key: str | None = None, client=None) -> Heads:
    """Every chunk aggregate of these symbols and the buckets of these seconds (symbol -> its second
    starts, ms, ascending): one script call, and one more round trip for the hashes whose closed chunks
    changed since this process last read them. ``mark_key``: keep each symbol's newest second there,
    returning (and reading the bucket of) a previous mark older than its first second."""
    client = client or store.redis_client()
    symbols = [symbol for symbol, asked in seconds.items() if asked]  # the script needs a second each
    keys = [mark_key or "-"]
    args: list = ["1" if mark_key else "0"]
    for symbol in symbols:
        keys += _index_keys(symbol)
        args += [symbol, len(seconds[symbol]), *seconds[symbol]]
    answers = iter(_heads_script(client, keys, args) if symbols else ())
    aggregates: dict[tuple[int, str], ChunkAggregates] = {}
    stale: list[tuple[int, str]] = []
    bucket_texts: dict[tuple[str, int], str] = {}
    previous: dict[str, int] = {}
    for symbol in symbols:
        for resolution in (1, 60):
            e, c, newest = next(answers), next(answers), next(answers)
            if e == NO_HASH:
                aggregates[(resolution, symbol)] = ChunkAggregates(None, EMPTY)
                continue
            kept = _closed_folds.get((resolution, symbol))
            version = _version(e, c)
            if version is not None and newest is not None and kept is not None and kept[0] == version:
                start, text = newest.split(" ", 1)
                aggregates[(resolution, symbol)] = ChunkAggregates((int(start), text), kept[1])
            else:
                stale.append((resolution, symbol))
        mark = next(answers)
        asked = list(seconds[symbol])
        if mark is not None and int(mark) < asked[0]:
            previous[symbol] = int(mark)
            asked.insert(0, int(mark))
        for second_ms in asked:
            answer = next(answers)
            if answer:
                bucket_texts[(symbol, second_ms)] = answer
    if stale:
        aggregates.update(_read_whole(stale, client))
    return Heads(aggregates, bucket_texts, previous)


def read_aggregates(
    symbols: Sequence[str], seconds: Sequence[tuple[str, int]], client=None
) -> tuple[dict[tuple[int, str], ChunkAggregates], dict[tuple[str, int], Summary]]:
    """Every chunk aggregate of these symbols, by (resolution s, symbol), and each (symbol, second ms)
    bucket's Summary (absent: no trade in it): ``read_heads`` without marks."""
    asked: dict[str, list[int]] = {symbol: [] for symbol in symbols}
    for symbol, second_ms in seconds:
        asked.setdefault(symbol, []).append(second_ms)
    for symbol in asked:
        asked[symbol].sort()
    heads = read_heads({s: ms for s, ms in asked.items() if ms}, client=client)
    empty = [s for s, ms in asked.items() if not ms]
    if empty:  # no seconds asked: the chunks alone
        whole = [(resolution, symbol) for symbol in empty for resolution in (1, 60)]
        heads.aggregates.update(_read_whole(whole, client or store.redis_client()))
    buckets = {second: heads.bucket(*second) for second in heads.bucket_texts}
    return heads.aggregates, {second: bucket for second, bucket in buckets.items() if bucket is not None}


def _read_whole(keys: Sequence[tuple[int, str]], client) -> dict[tuple[int, str], ChunkAggregates]:
    """These (resolution s, symbol) index hashes read whole (one round trip), their folds kept."""
    pipe = client.pipeline(transaction=False)
    for resolution, symbol in keys:
        pipe.hgetall(_index_keys(symbol)[0 if resolution == 1 else 1])
    return {
        key: ChunkAggregates.from_index(key, fields) for key, fields in zip(keys, pipe.execute(), strict=True)
    }
