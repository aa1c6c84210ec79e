from decimal import Decimal

from feeds import store
from feeds.windows import PriceWindow


def test_latest_price_round_trips_exact_decimal():
    store.write_price("BTCUSDT", Decimal("0.00001234"), 1_700_000_000_000)
    latest = store.latest_price("btcusdt")
    assert latest.price == Decimal("0.00001234")
    assert str(latest.price) == "0.00001234"
    assert latest.event_time.timestamp() == 1_700_000_000


def test_latest_price_is_none_for_unknown_symbol():
    assert store.latest_price("NOPEUSDT") is None


def test_windows_are_read_after_a_checkpoint_in_order():
    first = store.write_windows([PriceWindow("ETHUSDT", Decimal("2"), Decimal("1"), Decimal("1.5"), 1, 2)])
    second = store.write_windows([PriceWindow("ETHUSDT", Decimal("3"), Decimal("2"), Decimal("3"), 3, 4)])
    assert [entry_id for entry_id, _ in store.read_windows("0")] == [first, second]
    [(entry_id, windows)] = store.read_windows(first)
    assert entry_id == second
    assert windows == [PriceWindow("ETHUSDT", Decimal("3"), Decimal("2"), Decimal("3"), 3, 4)]
