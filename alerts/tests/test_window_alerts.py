"""Moves within a window and volume spikes (issue 18) against a plain Python model.

The feeder is simulated as it writes: each batch of trades goes into the
price history (feeds.history.record_trades) and, as one window, into the
stream; then the real tick (engine.evaluate_pending) runs. Real Redis and the
test database. The model below judges every traded second from the raw trades
by the rule stated in alerts/engine/windows.py, written as plainly as possible.
"""

import json
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from alerts import engine
from alerts.models import Alert, EvaluationCheckpoint, Notification
from feeds import history, store
from feeds.windows import PriceWindow
from tests.recordings import recorded_lines

D = Decimal
WIDE = history.WIDE


def now_floor_minute() -> int:
    ms = int(time.time() * 1000)
    return ms - ms % 60_000


@dataclass
class Model:
    """One window alert, second by second."""

    kind: str
    window_ms: int
    threshold: Decimal
    direction: str | None
    armed_ms: int
    repeat: bool = False
    cooldown_ms: int = 0
    expires_ms: int | None = None
    state: str = "created"
    rearm_after: int = 0
    firings: list[tuple[int, Decimal]] = field(default_factory=list)

    def window_start(self, second: int) -> int:
        if self.window_ms <= 900_000:
            return second - self.window_ms + 1000
        minute = second - second % 60_000
        return minute - self.window_ms + 60_000

    def reached(self, trades, second):
        own = [p for p, _, ms in trades if second <= ms < second + 1000]
        window = [(p, q) for p, q, ms in trades if self.window_start(second) <= ms < second + 1000]
        low, high = min(p for p, _ in window), max(p for p, _ in window)
        if self.kind == "volume":
            volume = D(0)
            for p, q in window:
                volume = WIDE.add(volume, WIDE.multiply(p, q))
            return (volume >= self.threshold, own[-1]) if volume >= self.threshold else (False, None)
        up = self.direction != "down" and max(own) * 100 >= WIDE.multiply(low, 100 + self.threshold)
        if up:
            return True, max(own)
        down = self.direction != "up" and min(own) * 100 <= WIDE.multiply(high, 100 - self.threshold)
        return (True, min(own)) if down else (False, None)

    def run(self, trades, judged_seconds):
        for second in sorted(judged_seconds):
            reached, price = self.reached(trades, second)
            if self.state == "rearming" and second >= self.rearm_after and not reached:
                self.state, self.armed_ms = "created", second + 1000
            elif (
                self.state == "created"
                and second >= self.armed_ms
                and (self.expires_ms is None or second <= self.expires_ms)
                and reached
            ):
                self.firings.append((second, price))
                if self.repeat:
                    self.state, self.rearm_after = "rearming", second + self.cooldown_ms
                else:
                    self.state = "triggered"
        return self


def make_window_alert(user, model: Model, symbol="BTCUSDT"):
    seconds = model.window_ms // 1000
    extra = (
        {"move_percent": model.threshold, "move_direction": model.direction}
        if model.kind == "move"
        else {"volume_quote": model.threshold}
    )
    return Alert.objects.create(
        user=user,
        symbol=symbol,
        direction="above",
        target_price=None,
        kind=model.kind,
        window_seconds=seconds,
        repeat="every" if model.repeat else "once",
        cooldown_seconds=model.cooldown_ms // 1000 if model.repeat else None,
        armed_at=store.ms_to_datetime(model.armed_ms),
        expires_at=None if model.expires_ms is None else store.ms_to_datetime(model.expires_ms),
        **extra,
    )


def feed(symbol, trades, batches):
    """As the feeder: each batch into the history and, as one window, into the stream; then a tick."""
    start = 0
    for size in batches:
        batch = trades[start : start + size]
        start += size
        if not batch:
            continue
        history.record_trades(symbol, batch)
        prices = [p for p, _, _ in batch]
        store.write_windows(
            [PriceWindow(symbol, max(prices), min(prices), prices[-1], batch[0][2], batch[-1][2])]
        )
        engine.evaluate_pending()


def firings(alert):
    rows = Notification.objects.filter(alert=alert).order_by("firing")
    return [(int(n.triggered_at.timestamp() * 1000), n.triggered_price) for n in rows]


def splits(rng, count):
    yield [count]
    yield [1] * count
    for _ in range(2):
        sizes, left = [], count
        while left:
            sizes.append(min(left, rng.randint(1, 12)))
            left -= sizes[-1]
        yield sizes


# --- boundaries -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    "top, fires", [("104.99", False), ("105", True), ("105.01", True)], ids=["tick-below", "at", "tick-above"]
)
def test_a_move_up_fires_at_the_threshold_not_a_tick_below(alice, top, fires):
    t = now_floor_minute() - 5 * 60_000
    alert = make_window_alert(alice, Model("move", 300_000, D("5"), "up", t - 1000))
    feed(
        "BTCUSDT",
        [(D("100"), D("1"), t), (D("103"), D("1"), t + 60_000), (D(top), D("1"), t + 120_500)],
        [1, 1, 1],
    )
    alert.refresh_from_db()
    assert (alert.status == "triggered") is fires
    if fires:
        assert firings(alert) == [(t + 120_000, D(top))]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("bottom, fires", [("95.01", False), ("95", True), ("94.99", True)])
def test_a_move_down_fires_at_the_threshold_not_a_tick_above(alice, bottom, fires):
    t = now_floor_minute() - 5 * 60_000
    alert = make_window_alert(alice, Model("move", 60_000, D("5"), "down", t - 1000))
    feed("BTCUSDT", [(D("100"), D("2"), t), (D(bottom), D("1"), t + 30_000)], [1, 1])
    alert.refresh_from_db()
    assert (alert.status == "triggered") is fires


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    "gap_ms, fires", [(59_000, True), (60_000, False)], ids=["edge-inside", "edge-outside"]
)
def test_the_window_edge_by_one_second(alice, gap_ms, fires):
    """1m window: the second 59 s back is in the window of a second, 60 s back is not."""
    t = now_floor_minute() - 5 * 60_000
    alert = make_window_alert(alice, Model("move", 60_000, D("5"), "either", t - 1000))
    feed("BTCUSDT", [(D("100"), D("1"), t + 999), (D("105"), D("1"), t + gap_ms)], [1, 1])
    alert.refresh_from_db()
    assert (alert.status == "triggered") is fires


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("extra, fires", [("0.00000001", False), ("0.00000002", True)])
def test_a_volume_spike_fires_when_the_window_reaches_the_threshold_exactly(alice, extra, fires):
    t = now_floor_minute() - 5 * 60_000
    alert = make_window_alert(alice, Model("volume", 300_000, D("1000.00000002"), None, t - 1000))
    trades = [(D("500"), D("1"), t), (D("250"), D("2"), t + 200_000), (D("1"), D(extra), t + 299_000)]
    feed("BTCUSDT", trades, [2, 1])
    alert.refresh_from_db()
    assert (alert.status == "triggered") is fires
    if fires:
        assert firings(alert) == [(t + 299_000, D("1"))]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_hour_window_reads_minutes_then_the_seconds_of_the_current_minute(alice):
    """1h: the low 59 whole minutes back counts, one more minute back does not; history older than the
    stream (a feeder restarted, the engine never saw it) counts as well."""
    m = now_floor_minute() - 2 * 60_000
    history.record_trades("ETHUSDT", [(D("90"), D("1"), m - 60 * 60_000), (D("95"), D("1"), m - 59 * 60_000)])
    inside = make_window_alert(alice, Model("move", 3_600_000, D("5"), "up", m - 1000), symbol="ETHUSDT")
    outside = make_window_alert(alice, Model("move", 3_600_000, D("6"), "up", m - 1000), symbol="ETHUSDT")
    feed("ETHUSDT", [(D("99.75"), D("1"), m + 10_000)], [1])
    inside.refresh_from_db()
    outside.refresh_from_db()
    assert (inside.status, outside.status) == ("triggered", "created")  # 99.75 = 95 + 5%; 90 is out


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_only_seconds_from_the_arming_on_count_and_none_after_expiry(alice):
    t = now_floor_minute() - 5 * 60_000
    late = make_window_alert(alice, Model("move", 60_000, D("5"), "up", t + 1500))
    expired = make_window_alert(alice, Model("move", 60_000, D("5"), "up", t - 1000, expires_ms=t + 500))
    feed("BTCUSDT", [(D("100"), D("1"), t), (D("106"), D("1"), t + 1200)], [2])  # one second, armed later
    late.refresh_from_db()
    assert late.status == "created"
    feed("BTCUSDT", [(D("106"), D("1"), t + 2100)], [1])
    late.refresh_from_db()
    expired.refresh_from_db()
    assert late.status == "triggered" and firings(late) == [(t + 2000, D("106"))]
    assert expired.status in ("created", "expired") and expired.trigger_count == 0


# --- against the model: hovering, recorded and random trades, in several batchings ----------


def run_case(user, symbol, trades, models, batches, background=()):
    Alert.objects.all().delete()
    Notification.objects.all().delete()
    EvaluationCheckpoint.objects.all().delete()
    store.redis_client().flushdb()
    if background:
        history.record_trades(symbol, background)
    alerts = [make_window_alert(user, m, symbol=symbol) for m in models]
    feed(symbol, trades, batches)
    judged = {ms - ms % 1000 for _, _, ms in trades}
    for alert, model in zip(alerts, models, strict=True):
        expected = Model(**{**model.__dict__, "firings": []}).run(list(background) + trades, judged)
        got = firings(alert)
        # The seconds that fire are the model's in any batching. The price reported is the second's
        # high (up), low (down) or close (volume) as far as it had traded when judged: the model's
        # when the second arrived whole, else one of that second's traded prices.
        assert [at for at, _ in got] == [at for at, _ in expected.firings], (model, batches[:5])
        if len(batches) == 1:
            assert got == expected.firings, model
        for at, price in got:
            assert price in {p for p, _, ms in trades if at <= ms < at + 1000}


def alert_set(armed_ms):
    return [
        Model("move", 60_000, D("0.5"), "up", armed_ms),
        Model("move", 300_000, D("1"), "down", armed_ms, repeat=True, cooldown_ms=60_000),
        Model("move", 900_000, D("0.75"), "either", armed_ms, repeat=True, cooldown_ms=60_000),
        Model("move", 3_600_000, D("2"), "either", armed_ms),
        Model("volume", 60_000, D("5000"), None, armed_ms, repeat=True, cooldown_ms=60_000),
        Model("volume", 86_400_000, D("20000"), None, armed_ms),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_hovering_on_the_threshold_fires_as_the_model_says_in_any_batching(alice):
    """The price hovers one tick either side of +0.5% of the window low, a trade a second."""
    rng = random.Random(3)
    t = now_floor_minute() - 8 * 60_000
    trades = [(D("100"), D("1"), t)]
    for i in range(1, 240):
        trades.append((D("100.50") if i % 2 else D("100.49"), D("3"), t + i * 1000 + rng.randint(0, 999)))
    models = [
        Model("move", 60_000, D("0.5"), "up", t - 1000, repeat=True, cooldown_ms=60_000),
        Model("move", 300_000, D("0.5"), "either", t - 1000),
        Model("volume", 60_000, D("18090"), None, t - 1000, repeat=True, cooldown_ms=60_000),
    ]
    for batches in splits(rng, len(trades)):
        run_case(alice, "BTCUSDT", trades, models, batches)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_recorded_binance_trades_fire_as_the_model_says(alice):
    raw = [json.loads(line) for line in recorded_lines("aggTrade.jsonl")]
    symbol = raw[0]["s"]
    day = raw[0]["T"] // 86_400_000
    recorded = [
        (D(r["p"]), D(r["q"]), r["T"]) for r in raw if r["s"] == symbol and r["T"] // 86_400_000 == day
    ]
    shift = now_floor_minute() - 60_000 - max(ms for _, _, ms in recorded)
    trades = sorted(((p, q, ms + shift) for p, q, ms in recorded), key=lambda t: t[2])
    low, high = min(p for p, _, _ in trades), max(p for p, _, _ in trades)
    spread = max((high - low) * 100 / low, D("0.01"))
    armed = trades[0][2] - 1000
    volume = sum(p * q for p, q, _ in trades)
    models = [
        Model("move", 60_000, (spread / 2).quantize(D("0.0001")), "either", armed),
        Model(
            "move", 900_000, (spread / 3).quantize(D("0.0001")), "up", armed, repeat=True, cooldown_ms=60_000
        ),
        Model("volume", 300_000, (volume / 2).quantize(D("0.00000001")), None, armed),
    ]
    rng = random.Random(11)
    for batches in splits(rng, len(trades)):
        run_case(alice, symbol, trades, models, batches)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_trades_fire_as_the_model_says_in_any_batching(alice, seed):
    rng = random.Random(seed)
    t = now_floor_minute() - 4 * 60_000
    background, price = [], D("100")
    for minute in range(90, 4, -1):  # an hour and more of minutes before the alerts: the 1h window's past
        price += D(rng.randint(-50, 50)) / 100
        background.append(
            (price, D(rng.randint(1, 100)), now_floor_minute() - minute * 60_000 + rng.randint(0, 59_999))
        )
    trades, clock = [], t
    for _ in range(300):
        clock = min(clock + rng.choice([0, 1, 400, 1000, 1000, 2500]), now_floor_minute() - 1000)
        price = max(D("1"), price + D(rng.randint(-40, 40)) / 100)
        trades.append((price, D(rng.randint(1, 5000)) / 100, clock))
    models = alert_set(t)
    for batches in splits(rng, len(trades)):
        run_case(alice, "SOLUSDT", trades, models, batches, background=background)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_notification_says_what_was_asked_for(alice):
    from alerts.delivery.messages import alert_message

    t = now_floor_minute() - 5 * 60_000
    alert = make_window_alert(alice, Model("move", 300_000, D("5"), "up", t - 1000))
    feed("BTCUSDT", [(D("100"), D("1"), t), (D("105.5"), D("1"), t + 2000)], [1, 1])
    message = alert_message(Notification.objects.get(alert=alert))
    assert "up 5% within 5m" in message.title and "105.5" in message.title
    assert message.payload["alert"]["kind"] == "move" and message.payload["alert"]["window"] == "5m"
    assert message.payload["alert"]["target_price"] is None
