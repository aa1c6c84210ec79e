"""`manage.py seed_demo`: a demo user and alerts just around the market simulator's start prices.

`make demo` runs it before starting the stack, with the same ``--price``
arguments it gives the simulator (``python -m devtools.fakebinance``), so the
random walk crosses the nearest alerts within seconds and an email arrives
within a minute. Re-running it resets the demo user's password and replaces
its waiting alerts; nobody else's data is touched.
"""

from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.services import alert_create, alerts_soft_delete
from feeds.selectors import symbol_get

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "pricealert-demo"
# The simulator's own defaults (devtools.fakebinance.market.DEFAULT_START_PRICES) for these symbols.
DEFAULT_PRICES = {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000"), "SOLUSDT": Decimal("150")}
# How far from the start price the alerts sit. The simulator moves up to 0.1% per
# trade, so the near pair fires within seconds and the far one keeps waiting.
NEAR_DISTANCE = Decimal("0.001")
FAR_DISTANCE = Decimal("0.5")


def parse_price(value: str) -> tuple[str, Decimal]:
    symbol, sep, price = value.partition("=")
    try:
        parsed = Decimal(price)
    except InvalidOperation:
        parsed = None
    if not sep or not symbol.strip() or parsed is None or not parsed.is_finite() or parsed <= 0:
        raise CommandError(
            f"--price takes SYMBOL=PRICE with a positive price, e.g. BTCUSDT=60000 (got {value!r})"
        )
    return symbol.strip().upper(), parsed


def on_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    """The price rounded away from the start onto the symbol's tick grid (Binance's PRICE_FILTER)."""
    if not tick:
        return price
    return (price / tick).quantize(Decimal(1), rounding=rounding) * tick


class Command(BaseCommand):
    help = "Create (or reset) a demo user with alerts close to the market simulator's prices."

    def add_arguments(self, parser):
        parser.add_argument(
            "--price",
            action="append",
            default=[],
            metavar="SYMBOL=PRICE",
            help="a simulator start price (repeat it); default: BTCUSDT=60000 ETHUSDT=3000 SOLUSDT=150",
        )
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even when DEBUG is false (the demo password is published: never on a real deployment)",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates a user with a published password; it runs only with DEBUG=true "
                "(make demo sets it) or with --force."
            )
        prices = dict(parse_price(value) for value in options["price"]) or DEFAULT_PRICES
        with transaction.atomic():
            user = self.demo_user(options["email"], options["password"])
            replaced = alerts_soft_delete(alerts=Alert.objects.filter(user=user, status=Alert.Status.CREATED))
            alerts = [
                alert for symbol, price in prices.items() for alert in self.alerts_around(user, symbol, price)
            ]

        self.stdout.write(self.style.SUCCESS(f"Demo user: {user.email}  password: {options['password']}"))
        if replaced:
            self.stdout.write(f"Replaced {replaced} waiting alerts from an earlier demo.")
        self.stdout.write(f"{len(alerts)} waiting alerts:")
        for alert in alerts:
            start = prices[alert.symbol]
            self.stdout.write(
                f"  #{alert.pk:<5} {alert.symbol:<9} {alert.direction:<5} {alert.target_price.normalize():f}"
                f"  (simulator starts at {start.normalize():f})"
            )
        if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
            self.stdout.write("Alert emails are printed in the worker's output (console email backend).")

    def demo_user(self, email: str, password: str):
        user_model = get_user_model()
        user = user_model.objects.filter(email__iexact=email).first()
        # The demo address is made up: it counts as confirmed, so the demo's alert emails are sent.
        if user is None:
            return user_model.objects.create_user(
                email=email, password=password, email_verified_at=timezone.now()
            )
        user.set_password(password)
        user.is_active = True
        user.email_verified_at = user.email_verified_at or timezone.now()
        user.save(update_fields=["password", "is_active", "email_verified_at"])
        return user

    def alerts_around(self, user, symbol: str, price: Decimal) -> list[Alert]:
        listing = symbol_get(symbol)
        if listing is None:
            raise CommandError(f"Unknown symbol {symbol}: not in the symbol catalogue.")
        tick = listing.tick_size
        targets = [
            ("above", on_tick(price * (1 + NEAR_DISTANCE), tick, ROUND_UP)),
            ("below", on_tick(price * (1 - NEAR_DISTANCE), tick, ROUND_DOWN)),
            ("above", on_tick(price * (1 + FAR_DISTANCE), tick, ROUND_UP)),
        ]
        try:
            return [
                alert_create(user=user, symbol=symbol, target_price=target, direction=direction)
                for direction, target in targets
            ]
        except ValidationError as error:
            raise CommandError(f"{symbol}: {'; '.join(error.messages)}") from error
