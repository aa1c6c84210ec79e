"""Input and output shapes of the alerts API."""

from decimal import Decimal, InvalidOperation

from django.core.validators import RegexValidator
from rest_framework import serializers

from alerts.models import PRICE_DECIMALS, PRICE_DIGITS, Alert
from alerts.pagination import AlertPagination

symbol_format = RegexValidator(r"^[A-Za-z0-9]+\Z", "A symbol is letters and digits only, e.g. BTCUSDT.")
DIRECTION_CHOICE_ERROR = 'Must be "above" or "below".'
_SMALLEST_STEP = Decimal(1).scaleb(-PRICE_DECIMALS)


class SymbolField(serializers.CharField):
    """A Binance spot symbol, case-insensitive on input, upper case after."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("validators", [symbol_format])
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class PriceField(serializers.DecimalField):
    """An exact positive price with at most 8 decimal places that fits the database column.

    Accepts a string (preferred: ``"70000.5"``) or a JSON number, which the
    API's parser reads as an exact Decimal, never a float.
    """

    default_error_messages = {
        "invalid": 'A valid number is required, e.g. "70000.5".',
        "not_positive": "Must be greater than 0.",
    }

    def __init__(self, **kwargs):
        super().__init__(max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if value <= 0:
            self.fail("not_positive")
        return value

    def validate_precision(self, value):
        # "1.000000000" is exactly 1: trailing zeros past the 8th decimal are not precision.
        if value.as_tuple().exponent < -PRICE_DECIMALS:
            try:
                reduced = value.quantize(_SMALLEST_STEP)
            except InvalidOperation:
                reduced = None
            if reduced is not None and reduced == value:
                value = reduced
        return super().validate_precision(value)


class DirectionField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("error_messages", {"invalid_choice": DIRECTION_CHOICE_ERROR})
        super().__init__(choices=Alert.Direction.values, **kwargs)


class AlertCreateInputSerializer(serializers.Serializer):
    symbol = SymbolField(help_text="A Binance spot symbol that is trading, e.g. BTCUSDT (any case).")
    target_price = PriceField(
        help_text='The price to watch, as a string (e.g. "70000.5"); > 0, at most 8 decimal places, '
        "within the symbol's Binance PRICE_FILTER bounds."
    )
    direction = DirectionField(
        required=False,
        allow_null=True,
        help_text='"above": fire when the price reaches the target or more; "below": the target or less. '
        "Optional when a latest price is known: inferred from which side of it the target is.",
    )


class AlertUpdateInputSerializer(serializers.Serializer):
    target_price = PriceField(required=False, help_text="A new target price (same rules as on create).")
    direction = DirectionField(required=False, help_text='"above" or "below".')


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    direction = serializers.ChoiceField(choices=Alert.Direction.values)
    target_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        help_text='A decimal string with exactly 8 decimal places, e.g. "70000.50000000".',
    )
    status = serializers.ChoiceField(
        choices=Alert.Status.values, help_text="created (waiting), triggered or deleted."
    )
    created_at = serializers.DateTimeField()
    triggered_at = serializers.DateTimeField(allow_null=True)
    triggered_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        allow_null=True,
        help_text="The price that fired the alert (8 decimal places); null while waiting.",
    )


class AlertDetailOutputSerializer(AlertOutputSerializer):
    symbol_status = serializers.CharField(
        help_text='The symbol\'s status in the catalogue, e.g. "TRADING", or "UNKNOWN" if it was delisted.'
    )


class AlertListQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(
        min_value=1,
        default=1,
        error_messages={"invalid": "Must be a whole number of at least 1."},
        help_text="Page number, from 1.",
    )
    per_page = serializers.IntegerField(
        min_value=1,
        max_value=AlertPagination.max_page_size,
        required=False,
        help_text=f"Alerts per page, 1 to {AlertPagination.max_page_size} "
        f"(default {AlertPagination.page_size}).",
    )
    page_size = serializers.IntegerField(
        min_value=1,
        max_value=AlertPagination.max_page_size,
        required=False,
        help_text="Same as per_page.",
    )

    def validate(self, attrs):
        size = attrs.get("per_page") or attrs.get("page_size") or AlertPagination.page_size
        return {"page": attrs["page"], "per_page": size}


class AlertPageOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Alerts matching the filters, over all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlertOutputSerializer(many=True)
