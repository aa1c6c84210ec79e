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


def test_a_flush_writes_one_stream_entry_and_every_latest_price():
    entry = store.write_windows(
        [
            PriceWindow("BTCUSDT", Decimal("70100.5"), Decimal("69000"), Decimal("70000.01"), 10, 20),
            PriceWindow(
                "ETHBTC", Decimal("0.05100000"), Decimal("0.04900000"), Decimal("0.05000000"), 11, 19
            ),
        ]
    )
    [(entry_id, windows)] = store.read_windows("0")
    assert entry_id == entry and {w.symbol for w in windows} == {"BTCUSDT", "ETHBTC"}
    assert str(store.latest_price("ETHBTC").price) == "0.05000000"
    assert store.latest_price("BTCUSDT").event_time.timestamp() == 0.02
    assert store.write_windows([]) is None


def test_heartbeats_round_trip_and_clear():
    store.write_heartbeats({"host/0": 1_700_000_000.25, "host/1": 1_700_000_001.5})
    store.write_heartbeat("host/2", 1_700_000_002.0)
    assert store.heartbeats() == {
        "host/0": 1_700_000_000.25,
        "host/1": 1_700_000_001.5,
        "host/2": 1_700_000_002.0,
    }
    store.clear_heartbeat("host/1")
    assert set(store.heartbeats()) == {"host/0", "host/2"}


def test_an_entry_decodes_to_its_windows_digit_for_digit():
    windows = [
        PriceWindow("AUSDT", Decimal("5"), Decimal("5"), Decimal("5"), 1, 2),
        # equal, not the same digits
        PriceWindow("BUSDT", Decimal("7.10"), Decimal("7.1"), Decimal("7.1"), 3, 4),
        PriceWindow("CUSDT", Decimal("9"), Decimal("8"), Decimal("8.5"), 5, 6),
        PriceWindow("DUSDT", Decimal("9"), Decimal("8"), Decimal("9"), 7, 8),
    ]
    decoded = PriceWindow.decode_entry({window.symbol: window.encode() for window in windows})
    assert decoded == windows
    assert [window.encode() for window in decoded] == [window.encode() for window in windows]


def test_window_folds_a_spike_and_keeps_the_latest_event_as_last():
    window = PriceWindow.opened_by("BTCUSDT", Decimal("100"), 5)
    for price, event_ms in (("150", 6), ("80", 7), ("101", 9), ("99", 8)):  # one arrives out of order
        window.add(Decimal(price), event_ms)
    assert window == PriceWindow("BTCUSDT", Decimal("150"), Decimal("80"), Decimal("101"), 5, 9)
    later = PriceWindow("BTCUSDT", Decimal("120"), Decimal("70"), Decimal("110"), 10, 12)
    window.merge(later)
    assert window == PriceWindow("BTCUSDT", Decimal("150"), Decimal("70"), Decimal("110"), 5, 12)
    window.merge(later)  # merging the same trades twice changes nothing (connection hand-over)
    assert window == PriceWindow("BTCUSDT", Decimal("150"), Decimal("70"), Decimal("110"), 5, 12)
    assert PriceWindow.decode("BTCUSDT", window.encode()) == window
