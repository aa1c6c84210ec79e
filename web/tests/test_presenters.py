"""How alerts read on the pages: conditions in words, distances, prices."""

from decimal import Decimal

from web.presenters import condition, distance_percent, percent_text


def test_conditions_in_words():
    base = {"crossing": False, "change_percent": None, "reference_price": None}
    assert (
        condition({**base, "direction": "above", "target_price": Decimal("70000.00000000")}) == "above 70,000"
    )
    assert (
        condition({**base, "direction": "below", "target_price": Decimal("0.00001234")}) == "below 0.00001234"
    )
    assert condition({**base, "crossing": True, "direction": "above", "target_price": Decimal("3000")}) == (
        "cross 3,000"
    )
    percent = {
        **base,
        "direction": "below",
        "target_price": Decimal("2964.47"),
        "change_percent": Decimal("-5.0000"),
    }
    assert condition({**percent, "reference_price": Decimal("3120.50000000")}) == "-5% from 3,120.5"
    assert percent_text(Decimal("2.5000")) == "+2.5%"


def test_distance_to_the_target():
    assert distance_percent(Decimal("70000"), Decimal("63636.36")) == "+10.00%"
    assert distance_percent(Decimal("3000"), Decimal("3100")) == "-3.23%"
    assert distance_percent(Decimal("70000"), Decimal("70000.01")) == "0.00%"
    assert distance_percent(Decimal("70000"), None) == "n/a"
