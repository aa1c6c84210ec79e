"""Input and output shapes of the alerts API."""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.channels import address_confirmed, channel_display_url
from alerts.models import (
    DEFAULT_REARM_PERCENT,
    MAX_DB_ID,
    MIN_COOLDOWN_SECONDS,
    NOTE_MAX_LENGTH,
    PRICE_DECIMALS,
    PRICE_DIGITS,
    TITLE_TEMPLATE_MAX_LENGTH,
    Alert,
    Channel,
)

symbol_format = RegexValidator(r"^[A-Za-z0-9]+\Z", "A symbol is letters and digits only, e.g. BTCUSDT.")
DIRECTION_CHOICE_ERROR = 'Must be "above", "below" or "cross".'
TARGET_REQUIRED = "This field is required (or send change_percent instead)."
MAX_COOLDOWN_SECONDS = 366 * 24 * 3600
# The alert list's page size: ?per_page= (or ?page_size=), 1 to MAX_PER_PAGE.
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
_SMALLEST_STEP = Decimal(1).scaleb(-PRICE_DECIMALS)
# Named "StatusEnum" in the schema (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]): /health has statuses too.
ALERT_STATUSES = Alert.Status.values
# Named "MoveDirectionEnum" and "AlertKindEnum" in the schema (ENUM_NAME_OVERRIDES): channels have kinds too.
MOVE_DIRECTIONS = Alert.MoveDirection.values
ALERT_KINDS = Alert.Kind.values
# The names these enums had before the window kinds, kept: "DirectionEnum" (input), "KindEnum" (channels).
DIRECTION_WORDS = list(Alert.DIRECTION_WORDS)
CHANNEL_KINDS = Channel.Kind.values
OUTPUT_DIRECTIONS = [*Alert.DIRECTION_WORDS, *Alert.MoveDirection.values]


class SymbolField(serializers.CharField):
    """A Binance spot symbol, case-insensitive on input, upper case after."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("validators", [symbol_format])
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


# Input patterns as strict as the validation (a generated client checks them before sending): no sign
# where the value must be positive, no empty string, no more digits than the column holds.
PRICE_PATTERN = rf"^\d{{1,{PRICE_DIGITS - PRICE_DECIMALS}}}(?:\.\d{{1,{PRICE_DECIMALS}}})?$"
CHANGE_PERCENT_PATTERN = r"^(?:-\d{1,2}|\d{1,5})(?:\.\d{1,4})?$"  # greater than -100
REARM_PERCENT_PATTERN = r"^\d{1,2}(?:\.\d{1,4})?$"  # 0 to 99.9999


def _decimal_string(pattern: str) -> dict:
    return {"type": "string", "format": "decimal", "pattern": pattern}


@extend_schema_field(_decimal_string(PRICE_PATTERN))
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
        super().__init__(choices=Alert.DIRECTION_WORDS, **kwargs)


class ExactDecimalField(serializers.DecimalField):
    """A decimal from a string or a JSON number (parsed exactly, never through a float)."""

    default_error_messages = {"invalid": 'A valid number is required, e.g. "-5" or "2.5".'}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(serializers.ChoiceField(choices=OUTPUT_DIRECTIONS, allow_null=True))
class DirectionOutputField(serializers.Field):
    """ "cross" for a crossing alert, else the side it watches; a move's up/down/either; null for volume."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        get = value.get if isinstance(value, dict) else lambda name: getattr(value, name)
        kind = get("kind")
        if kind == Alert.Kind.MOVE:
            return get("move_direction")
        if kind == Alert.Kind.VOLUME:
            return None
        return Alert.CROSS if get("crossing") else get("direction")


@extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
class ChannelIdsField(serializers.Field):
    """An alert's chosen channel ids, sorted: from a list page's row or a model's (prefetched) relation."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value):
        if isinstance(value, dict):
            return sorted(value["channels"])
        return sorted(channel.pk for channel in value.channels.all())


@extend_schema_field(_decimal_string(CHANGE_PERCENT_PATTERN))
class ChangePercentField(ExactDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=9, decimal_places=4, **kwargs)


@extend_schema_field(_decimal_string(REARM_PERCENT_PATTERN))
class RearmPercentField(ExactDecimalField):
    def __init__(self, **kwargs):
        super().__init__(
            max_digits=9, decimal_places=4, min_value=Decimal(0), max_value=Decimal("99.9999"), **kwargs
        )


def _repeat(**kwargs):
    return serializers.ChoiceField(
        choices=Alert.Repeat.values, error_messages={"invalid_choice": 'Must be "once" or "every".'}, **kwargs
    )


def _cooldown(help_text: str):
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=MIN_COOLDOWN_SECONDS,
        max_value=MAX_COOLDOWN_SECONDS,
        help_text=help_text,
    )


def _rearm_percent(**kwargs):
    return RearmPercentField(required=False, **kwargs)


def _channels(help_text: str):
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_DB_ID),
        required=False,
        max_length=50,
        help_text=help_text,
    )


REPEAT_HELP = (
    '"once" (default): fire once, then the alert is done. "every": fire each time the price reaches the '
    "target, at most once per cooldown_seconds, and only after the price has moved back past the "
    "target by rearm_percent (so a price hovering on the target does not repeat it)."
)


class SymbolListField(serializers.ListField):
    """A watchlist's symbols: its length is checked against ALERTS_MAX_SYMBOLS_PER_GROUP before any item."""

    def __init__(self, **kwargs):
        super().__init__(child=SymbolField(), allow_empty=False, **kwargs)

    def to_internal_value(self, data):
        cap = settings.ALERTS_MAX_SYMBOLS_PER_GROUP
        if isinstance(data, list) and cap > 0 and len(data) > cap:
            raise serializers.ValidationError(f"At most {cap} symbols in one watchlist ({len(data)} sent).")
        return super().to_internal_value(data)


SYMBOL_REQUIRED = "This field is required (or send symbols, a list, for a watchlist)."


class AlertCreateInputSerializer(serializers.Serializer):
    symbol = SymbolField(
        required=False,
        help_text="A Binance spot symbol that is trading, e.g. BTCUSDT (any case). Send this or symbols.",
    )
    symbols = SymbolListField(
        required=False,
        help_text="A watchlist instead of one symbol: one alert per symbol (at most "
        "ALERTS_MAX_SYMBOLS_PER_GROUP, default 50, no repeats), all created or none, each counting "
        "toward the per-user cap and firing on its own; a percent target is resolved from each "
        "symbol's own latest price. The answer is the watchlist (see /alert-groups/).",
    )
    target_price = PriceField(
        required=False,
        help_text='The price to watch, as a string (e.g. "70000.5"); > 0, at most 8 decimal places, '
        "within the symbol's Binance PRICE_FILTER bounds. Send this or change_percent.",
    )
    change_percent = ChangePercentField(
        required=False,
        help_text='A move from the latest price, in percent: "-5" is 5% below it, "2.5" 2.5% above. '
        "Resolved now to target_price (rounded outward to 8 decimals) and direction; the latest price "
        "is kept as reference_price. A 400 when no price is known yet. Non-zero, greater than -100.",
    )
    direction = DirectionField(
        required=False,
        allow_null=True,
        help_text='"above": fire when the price reaches the target or more; "below": the target or less; '
        '"cross": either way, the side fixed from the latest price now. Optional when a latest price is '
        "known: inferred from which side of it the target is.",
    )
    repeat = _repeat(default=Alert.Repeat.ONCE, help_text=REPEAT_HELP)
    cooldown_seconds = _cooldown(
        f'Required with "repeat": "every": seconds between two firings, at least {MIN_COOLDOWN_SECONDS}.'
    )
    rearm_percent = _rearm_percent(
        default=DEFAULT_REARM_PERCENT,
        help_text="Repeating alerts: how far past the target, in percent, the price must move back before "
        f'the alert can fire again (default "{DEFAULT_REARM_PERCENT}"; 0: just the other side).',
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="ISO 8601, in the future. Past it a waiting alert becomes `expired` "
        "and stops being followed.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NOTE_MAX_LENGTH,
        trim_whitespace=False,
        help_text=f"Plain text (up to {NOTE_MAX_LENGTH} characters) shown in every "
        "notification of the alert.",
    )
    channels = _channels("Ids of your channels to notify; default (or empty): all your enabled channels.")

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # Report the missing target with the other field errors, not only once they pass.
            given = isinstance(data, dict) and ({"target_price", "change_percent"} & data.keys())
            if isinstance(exc.detail, dict) and not given:
                exc.detail.setdefault("target_price", [TARGET_REQUIRED])
            if (
                isinstance(exc.detail, dict)
                and isinstance(data, dict)
                and not {"symbol", "symbols"} & data.keys()
            ):
                exc.detail.setdefault("symbol", [SYMBOL_REQUIRED])
            raise

    def validate(self, attrs):
        if "symbol" in attrs and "symbols" in attrs:
            raise serializers.ValidationError({"symbols": "Send symbol or symbols, not both."})
        missing = {}
        if "symbol" not in attrs and "symbols" not in attrs:
            missing["symbol"] = SYMBOL_REQUIRED
        if attrs.get("target_price") is None and attrs.get("change_percent") is None:
            missing["target_price"] = TARGET_REQUIRED
        if missing:
            raise serializers.ValidationError(missing)
        if attrs.get("target_price") is not None and attrs.get("change_percent") is not None:
            raise serializers.ValidationError(
                {"change_percent": "Send target_price or change_percent, not both."}
            )
        return attrs


# --- Window kinds (issue 18): a move within a window, a volume spike -----------------------------

MOVE_PERCENT_PATTERN = r"^\d{1,5}(?:\.\d{1,4})?$"
VOLUME_QUOTE_PATTERN = r"^\d{1,20}(?:\.\d{1,8})?$"
WINDOW_HELP = (
    "The trailing window: " + ", ".join(Alert.WINDOWS) + ". 1m-15m are judged on 1-second buckets, "
    "1h-24h on 1-minute buckets plus the seconds of the current minute (README: Moves within a window)."
)


@extend_schema_field(_decimal_string(MOVE_PERCENT_PATTERN))
class MovePercentField(ExactDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=9, decimal_places=4, min_value=Decimal("0.0001"), **kwargs)


@extend_schema_field(_decimal_string(VOLUME_QUOTE_PATTERN))
class VolumeQuoteField(ExactDecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=28, decimal_places=8, min_value=Decimal("0.00000001"), **kwargs)


class _WindowAlertCreateInput(serializers.Serializer):
    symbol = SymbolField(
        required=False,
        help_text="A Binance spot symbol that is trading, e.g. BTCUSDT (any case). Send this or symbols.",
    )
    symbols = SymbolListField(
        required=False,
        help_text="A watchlist instead of one symbol: one alert per symbol (at most "
        "ALERTS_MAX_SYMBOLS_PER_GROUP), all created or none, each judged on its own symbol's window. "
        "The answer is the watchlist (see /alert-groups/).",
    )
    window = serializers.ChoiceField(
        choices=list(Alert.WINDOWS),
        help_text=WINDOW_HELP,
        error_messages={"invalid_choice": "Must be one of " + ", ".join(Alert.WINDOWS) + "."},
    )
    repeat = _repeat(
        default=Alert.Repeat.ONCE,
        help_text='"once" (default) or "every": fire again after cooldown_seconds, once the window has '
        "fallen back under the threshold (a new move, not the same one again).",
    )
    cooldown_seconds = _cooldown(f'Required with "repeat": "every": at least {MIN_COOLDOWN_SECONDS}.')
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="ISO 8601, in the future."
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, trim_whitespace=False
    )
    channels = _channels("Ids of your channels to notify; default (or empty): all your enabled channels.")

    def validate(self, attrs):
        if "symbol" in attrs and "symbols" in attrs:
            raise serializers.ValidationError({"symbols": "Send symbol or symbols, not both."})
        if "symbol" not in attrs and "symbols" not in attrs:
            raise serializers.ValidationError({"symbol": SYMBOL_REQUIRED})
        return attrs


class MoveAlertCreateInputSerializer(_WindowAlertCreateInput):
    move_percent = MovePercentField(
        help_text='The move, in percent, e.g. "5": "up" fires when a traded price is at least this far above '
        'the lowest price of the trailing window, "down" at least this far below its highest.'
    )
    direction = serializers.ChoiceField(
        choices=Alert.MoveDirection.values,
        help_text='"up", "down" or "either".',
        error_messages={"invalid_choice": 'Must be "up", "down" or "either".'},
    )


class VolumeAlertCreateInputSerializer(_WindowAlertCreateInput):
    volume_quote = VolumeQuoteField(
        help_text='Quote-asset volume (the sum of price x quantity of the trades), e.g. "25000000": '
        "fires when the trailing window's volume reaches it."
    )


def create_input_serializer(data):
    """The create payload's shape by its fields: a move, a volume spike, or a price alert."""
    if isinstance(data, dict) and "move_percent" in data:
        return MoveAlertCreateInputSerializer(data=data)
    if isinstance(data, dict) and "volume_quote" in data:
        return VolumeAlertCreateInputSerializer(data=data)
    return AlertCreateInputSerializer(data=data)


class AlertUpdateInputSerializer(serializers.Serializer):
    target_price = PriceField(
        required=False, help_text="A new target price (same rules as on create); re-arms the alert from now."
    )
    direction = DirectionField(
        required=False,
        help_text='"above", "below" or "cross" (side from the latest price); re-arms it from now.',
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NOTE_MAX_LENGTH,
        trim_whitespace=False,
        help_text="A new note.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="A new expiry (in the future), or null for none."
    )
    repeat = _repeat(
        required=False,
        help_text='"once" or "every" (then cooldown_seconds is required unless it had one). Making a '
        "repeating alert that waits to re-arm one-shot ends it: it becomes `triggered`.",
    )
    cooldown_seconds = _cooldown(
        "A new cooldown for a repeating alert (one cooling down counts it from its last firing)."
    )
    rearm_percent = _rearm_percent(help_text="A new re-arm band, in percent past the target.")
    channels = _channels("The ids of your channels to notify from now on; empty: all your enabled channels.")


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    direction = DirectionOutputField(
        help_text='"above", "below" or "cross"; a move: "up", "down" or "either"; a volume spike: null.'
    )
    side = serializers.ChoiceField(
        source="direction",
        choices=Alert.Direction.values,
        help_text='The side the alert fires on: "above" or "below" '
        '(for "cross", fixed from the price at creation).',
    )
    target_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        allow_null=True,
        help_text='A decimal string with exactly 8 decimal places, e.g. "70000.50000000"; '
        "null for the window kinds (move, volume).",
    )
    reference_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        allow_null=True,
        help_text="Percent alerts: the latest price the target was computed from; else null.",
    )
    change_percent = serializers.DecimalField(
        max_digits=9,
        decimal_places=4,
        allow_null=True,
        help_text="Percent alerts: the move asked for; else null.",
    )
    status = serializers.ChoiceField(
        choices=Alert.Status.values,
        help_text="created (waiting), rearming (a repeating alert that fired, waiting for its cooldown and "
        "for the price to move back), triggered, expired or deleted.",
    )
    repeat = serializers.ChoiceField(choices=Alert.Repeat.values)
    cooldown_seconds = serializers.IntegerField(allow_null=True)
    rearm_percent = serializers.DecimalField(max_digits=7, decimal_places=4)
    created_at = serializers.DateTimeField()
    armed_at = serializers.DateTimeField(help_text="The alert fires only on prices seen after this.")
    triggered_at = serializers.DateTimeField(allow_null=True)
    triggered_price = serializers.DecimalField(
        max_digits=PRICE_DIGITS,
        decimal_places=PRICE_DECIMALS,
        allow_null=True,
        help_text="The price that fired the alert last (8 decimal places); null until it fires.",
    )
    last_triggered_at = serializers.DateTimeField(allow_null=True)
    trigger_count = serializers.IntegerField(help_text="How many times it has fired.")
    expires_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()
    group = serializers.IntegerField(
        source="group_id",
        allow_null=True,
        help_text="The watchlist it belongs to (/alert-groups/<id>); else null.",
    )
    snoozed_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Firings before this are recorded but not delivered (POST /alerts/<id>/snooze); else null.",
    )
    kind = serializers.ChoiceField(
        choices=Alert.Kind.values, help_text='"price" (above/below/cross), "move" or "volume" (issue 18).'
    )
    window = serializers.SerializerMethodField(help_text='Window kinds: "1m" ... "24h"; else null.')
    move_percent = serializers.DecimalField(
        max_digits=9, decimal_places=4, allow_null=True, help_text="Moves: the percent asked for; else null."
    )
    move_direction = serializers.ChoiceField(
        choices=Alert.MoveDirection.values, allow_null=True, help_text='Moves: "up", "down" or "either".'
    )
    volume_quote = serializers.DecimalField(
        max_digits=28,
        decimal_places=8,
        allow_null=True,
        help_text="Volume spikes: the quote volume asked for.",
    )

    @extend_schema_field(serializers.ChoiceField(choices=list(Alert.WINDOWS), allow_null=True))
    def get_window(self, alert) -> str | None:
        seconds = alert.get("window_seconds") if isinstance(alert, dict) else alert.window_seconds
        return next((name for name, value in Alert.WINDOWS.items() if value == seconds), None)

    symbol_status = serializers.CharField(
        help_text='The symbol\'s status in the catalogue, e.g. "TRADING", or "UNKNOWN" if it was delisted.'
    )
    channels = ChannelIdsField(help_text="The ids of the channels it notifies; empty: all enabled ones.")


def per_page_field(noun: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_PER_PAGE,
        required=False,
        help_text=f"{noun} per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE}).",
    )


class PageQuerySerializer(serializers.Serializer):
    """?page= and ?per_page= (or ?page_size=) of a paged list; a subclass names what is listed."""

    page = serializers.IntegerField(
        min_value=1,
        default=1,
        error_messages={"invalid": "Must be a whole number of at least 1."},
        help_text="Page number, from 1.",
    )
    per_page = per_page_field("Items")
    page_size = serializers.IntegerField(
        min_value=1,
        max_value=MAX_PER_PAGE,
        required=False,
        help_text="Same as per_page.",
    )

    def validate(self, attrs):
        size = attrs.get("per_page") or attrs.get("page_size") or DEFAULT_PER_PAGE
        return {"page": attrs["page"], "per_page": size}


class AlertListQuerySerializer(PageQuerySerializer):
    per_page = per_page_field("Alerts")


class AlertPageOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Alerts matching the filters, over all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AlertOutputSerializer(many=True)


# --- Channels -----------------------------------------------------------------


QUIET_HOURS_HELP = (
    '"HH:MM-HH:MM" (24 h, in your account\'s time_zone, e.g. "23:00-07:00"): deliveries in those hours '
    'are held and sent as one digest when they end; "off": never quiet; "" (default): the account\'s '
    "quiet_hours (PATCH /user)."
)
TEMPLATE_HELP = (
    "Placeholders: {{symbol}}, {{price}}, {{target}}, {{direction}}, {{time}}, {{note}}, {{alert_id}}, "
    "{{url}}; nothing else is interpreted. "
)


def _quiet_hours_field(**kwargs):
    return serializers.CharField(allow_blank=True, max_length=11, help_text=QUIET_HOURS_HELP, **kwargs)


def _title_template_field(**kwargs):
    return serializers.CharField(
        allow_blank=True,
        max_length=TITLE_TEMPLATE_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Apprise only: the title of each notification. "
        + TEMPLATE_HELP
        + '"": the built-in title.',
        **kwargs,
    )


def _body_template_field(**kwargs):
    return serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        help_text="webhook: a JSON object or array posted instead of the built-in payload, placeholders "
        'inside JSON strings (e.g. {"text": "{{symbol}} at {{price}}"}), values JSON-escaped; apprise: '
        "the body text. " + TEMPLATE_HELP + "At most ALERTS_TEMPLATE_MAX_CHARS (default 4000) "
        'characters; one that cannot render is a 400. "": the built-in message.',
        **kwargs,
    )


class ChannelCreateInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Channel.Kind.values,
        error_messages={"invalid_choice": 'Must be "email", "webhook" or "apprise".'},
        help_text='"webhook": a signed JSON POST to `url` (http or https); "apprise": `url` is an Apprise '
        "URL of a service whose host it fixes (tgram://, discord://, slack://, ntfy://, pover://, ...: "
        "APPRISE_ALLOWED_SCHEMES; json://, mailto:// and other user-picked hosts only inside the operator's "
        'OUTBOUND_ALLOW_NETWORKS); "email": the account\'s '
        "address (every user already has one).",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="Your label.")
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text="See kind.")
    quiet_hours = _quiet_hours_field(required=False)
    title_template = _title_template_field(required=False)
    body_template = _body_template_field(required=False)


class ChannelUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    enabled = serializers.BooleanField(
        required=False, help_text="Switch the channel on or off; switching it on clears disabled_reason."
    )
    quiet_hours = _quiet_hours_field(required=False)
    title_template = _title_template_field(required=False)
    body_template = _body_template_field(required=False)


class ChannelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Channel.Kind.values)
    name = serializers.CharField()
    url = serializers.SerializerMethodField(
        help_text="Webhook URL, or Apprise URL with its tokens masked (Apprise's privacy mode); "
        "empty for email."
    )
    address = serializers.SerializerMethodField(
        help_text="Where it delivers: the email address or the URL (masked as in url)."
    )
    enabled = serializers.BooleanField()
    verified = serializers.SerializerMethodField(
        help_text="Email: whether the address is confirmed. Until it is, notifications to it are held "
        "(kept, sent once it is confirmed: POST /verify with the emailed token; POST /verify/resend "
        "for a new link). Always true for webhooks and Apprise."
    )
    disabled_reason = serializers.CharField(
        help_text="Why delivery switched it off (e.g. the webhook answered 410); empty otherwise."
    )
    created_at = serializers.DateTimeField()
    last_test_at = serializers.DateTimeField(
        allow_null=True, help_text="When the last test message (POST /channels/<id>/test) was settled."
    )
    last_test_delivered = serializers.BooleanField(
        allow_null=True, help_text="Whether it was delivered; null before the first test settles."
    )
    last_test_error = serializers.CharField(
        help_text='Why not, in a short category ("timed out", "HTTP 404", ...); empty otherwise.'
    )
    quiet_hours = serializers.CharField(help_text=QUIET_HOURS_HELP)
    title_template = serializers.CharField(help_text="Apprise: the title template; empty: built-in.")
    body_template = serializers.CharField(
        help_text="Webhook JSON body or Apprise body template; empty: built-in."
    )

    def get_url(self, channel) -> str:
        return channel_display_url(channel)

    def get_verified(self, channel) -> bool:
        return address_confirmed(channel)

    def get_address(self, channel) -> str:
        if channel.kind == Channel.Kind.EMAIL:
            return channel.url or channel.user.email
        return channel_display_url(channel)


class ChannelCreatedOutputSerializer(ChannelOutputSerializer):
    secret = serializers.CharField(
        help_text="Webhooks only, shown only now (and by rotate-secret): the HMAC-SHA256 key of the "
        "X-Pricealert-Signature header."
    )


class ChannelPreviewSerializer(serializers.Serializer):
    title = serializers.CharField(help_text="The title (Apprise), subject (email); empty for webhooks.")
    body = serializers.CharField(help_text="The text, or a webhook's JSON body, exactly as sent.")


class ChannelTestOutputSerializer(serializers.Serializer):
    preview = ChannelPreviewSerializer(
        help_text="What the test sends: the channel's templates filled with an example firing."
    )
    delivered = serializers.BooleanField()
    error = serializers.CharField(
        allow_null=True, help_text='Why the test message was not delivered: a short category ("timed out").'
    )


class ChannelTestQueuedSerializer(serializers.Serializer):
    preview = ChannelPreviewSerializer()
    delivered = serializers.BooleanField(allow_null=True, help_text="null: not settled yet.")
    error = serializers.CharField(allow_null=True)
    detail = serializers.CharField()
