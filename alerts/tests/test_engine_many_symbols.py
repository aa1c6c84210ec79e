"""One trigger statement serves every crossed symbol: each alert is still judged on its own symbol's windows.

A seeded random walk per symbol hovers over alerts of every kind (one-shot and
repeating, above and below, armed at different times inside the walk, so the
staircases have several rungs), evaluated in batches of different sizes. Every alert's firings must be
exactly those of a plain model of the rules.
"""

import random
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from alerts import dialect, engine
from alerts.models import Alert, Notification
from alerts.services import rearm_price
from feeds.store import ms_to_datetime
from feeds.windows import PriceWindow

T0 = 1_790_000_000_000
START = {"BTCUSDT": Decimal("70000.00"), "ETHUSDT": Decimal("3000.00"), "SOLUSDT": Decimal("150.00")}
WINDOWS_PER_SYMBOL = 120
COOLDOWN_S = 60


def walk(seed: int) -> list[PriceWindow]:
    """Windows of all symbols interleaved one second apart per symbol, each a small random range."""
    rng = random.Random(seed)
    windows = []
    for offset, (symbol, price) in enumerate(START.items()):
        tick = price / 10000
        for i in range(WINDOWS_PER_SYMBOL):
            price += tick * rng.randint(-4, 4)
            low, high = price - tick * rng.randint(0, 2), price + tick * rng.randint(0, 2)
            at = T0 + i * 1000 + offset * 10
            windows.append(PriceWindow(symbol, high, low, price, at - 100, at))
    return sorted(windows, key=lambda w: w.last_event_ms)


@dataclass
class Expected:
    """What one alert must do, window by window, written as plainly as possible."""

    symbol: str
    direction: str
    target: Decimal
    repeat: bool
    armed_ms: int
    rearm_price: Decimal | None
    state: str = "created"
    rearm_after: int = 0
    firings: list[tuple[int, Decimal]] = field(default_factory=list)

    def crossed(self, w: PriceWindow) -> bool:
        return w.high >= self.target if self.direction == "above" else w.low <= self.target

    def price(self, w: PriceWindow) -> Decimal:
        return w.high if self.direction == "above" else w.low

    def rearmed_by(self, w: PriceWindow) -> bool:
        return w.low < self.rearm_price if self.direction == "above" else w.high > self.rearm_price

    def feed(self, batch: list[PriceWindow]) -> None:
        """One evaluation of ``batch``: a one-shot alert reports the best price it saw in it."""
        mine = [w for w in batch if w.symbol == self.symbol]
        for w in mine:
            if self.state == "rearming" and w.last_event_ms > self.rearm_after and self.rearmed_by(w):
                self.state, self.armed_ms = "created", w.last_event_ms
            elif self.state == "created" and w.last_event_ms > self.armed_ms and self.crossed(w):
                if self.repeat:
                    self.firings.append((w.last_event_ms, self.price(w)))
                    self.state, self.rearm_after = "rearming", w.last_event_ms + COOLDOWN_S * 1000
                    continue
                seen = [x for x in mine if x.last_event_ms > self.armed_ms]
                # The best price; of equal ones, the latest window.
                sign = 1 if self.direction == "above" else -1
                best = max(seen, key=lambda x: (sign * self.price(x), x.last_event_ms))
                self.firings.append((best.last_event_ms, self.price(best)))
                self.state = "triggered"
                return


def make_alerts(user, seed: int) -> dict[int, Expected]:
    """Alerts of every kind per symbol, targets near the walk's start, armed at several times."""
    rng = random.Random(seed + 1)
    alerts = {}
    for symbol, start in START.items():
        tick = start / 10000
        for k in range(12):
            direction = "above" if k % 2 == 0 else "below"
            repeat = k % 4 >= 2
            sign = 1 if direction == "above" else -1
            target = start + sign * tick * rng.randint(0, 12)
            armed_ms = T0 - 60_000 if k < 6 else T0 + rng.randint(0, WINDOWS_PER_SYMBOL - 1) * 1000 + 5
            band = rearm_price(target, direction, Decimal("0.01")) if repeat else None
            alert = Alert.objects.create(
                user=user,
                symbol=symbol,
                direction=direction,
                target_price=target,
                repeat="every" if repeat else "once",
                cooldown_seconds=COOLDOWN_S if repeat else None,
                rearm_percent=Decimal("0.01"),
                rearm_price=band,
                armed_at=ms_to_datetime(armed_ms),
            )
            alerts[alert.pk] = Expected(symbol, direction, target, repeat, armed_ms, band)
    return alerts


def firings(alert_id: int) -> list[tuple[int, Decimal]]:
    rows = Notification.objects.filter(alert_id=alert_id).order_by("firing")
    return [(int(n.triggered_at.timestamp() * 1000), n.triggered_price) for n in rows]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_every_alert_fires_on_its_own_symbol_exactly_as_the_rules_say(alice, seed, batch):
    check_against_the_model(alice, seed, batch)


@pytest.mark.django_db
def test_re_arm_statements_split_by_symbol_on_sqlite_change_nothing(alice, monkeypatch):
    monkeypatch.setattr(dialect, "SQLITE_WINDOWS_PER_STATEMENT", 50)
    check_against_the_model(alice, seed=3, batch=1000)


def check_against_the_model(user, seed, batch):
    windows = walk(seed)
    expected = make_alerts(user, seed)
    fired = 0
    for start in range(0, len(windows), batch):
        part = windows[start : start + batch]
        fired += engine.evaluate_windows(part)
        for model in expected.values():
            model.feed(part)
    assert fired == sum(len(model.firings) for model in expected.values())
    assert fired > len(expected) // 2  # the walk does cross most of them, some more than once
    for alert_id, model in expected.items():
        assert firings(alert_id) == model.firings, (alert_id, model)


@pytest.mark.django_db
def test_a_spike_on_one_symbol_fires_nothing_on_another(alice):
    btc = Alert.objects.create(user=alice, symbol="BTCUSDT", direction="above", target_price=Decimal("100"))
    eth = Alert.objects.create(user=alice, symbol="ETHUSDT", direction="above", target_price=Decimal("100"))
    at = int(btc.armed_at.timestamp() * 1000) + 1000
    windows = [
        PriceWindow("BTCUSDT", Decimal("99"), Decimal("98"), Decimal("98"), at - 100, at),
        PriceWindow("ETHUSDT", Decimal("500"), Decimal("98"), Decimal("98"), at - 100, at),
    ]
    assert engine.evaluate_windows(windows) == 1
    assert Alert.objects.get(pk=btc.pk).status == "created"
    assert Alert.objects.get(pk=eth.pk).triggered_price == Decimal("500")
