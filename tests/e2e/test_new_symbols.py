"""End to end with real processes: no blind moment when a symbol starts or stops being followed.

An alert on a symbol nobody followed fires on a trade made 100 ms after its
creation, at that trade's price: the alert service pushes the symbol to the
feeder on commit, and the new subscription is backfilled from the alert's
arming time, so a trade made before the SUBSCRIBE round trip still counts.
After an alert fires, its symbol lingers subscribed, so the next alert
created at once sees the next trade.
"""

import subprocess
import time
from decimal import Decimal

import pytest
from django.conf import settings

from tests.e2e.harness import PROJECT_DIR, PYTHON, Stack

from .test_alert_email import database_name
from .test_no_blind_windows import triggered

pytestmark = pytest.mark.e2e

ALERTS = [{"email": "warmup@example.com", "symbol": "ETHUSDT", "direction": "above", "target_price": "2000"}]

CREATE_ALERT = """
import sys
from decimal import Decimal
import django
django.setup()
from accounts.models import User
from alerts.services import alert_create
from django.utils import timezone
# A confirmed address: this test is about the feed, not about held emails (issue 16).
user, _ = User.objects.get_or_create(
    email="carol@example.com", defaults={"email_verified_at": timezone.now()}
)
alert = alert_create(user=user, symbol=sys.argv[1], target_price=Decimal(sys.argv[2]), direction="above")
print(alert.pk)
"""


def create_alert(stack: Stack, symbol: str, target: str) -> int:
    """Through the alert service, in a process of its own, as the API would: committed on return."""
    made = subprocess.run(
        [PYTHON, "-c", CREATE_ALERT, symbol, target],
        cwd=PROJECT_DIR,
        env=stack.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return int(made.stdout.strip().splitlines()[-1])


def test_a_new_symbol_and_the_next_alert_after_a_firing_see_every_trade():
    with Stack(settings.REDIS_URL, ALERTS, db_name=f"{database_name()}_newsym") as stack:
        stack.wait_ready(["ethusdt@aggTrade"])
        stack.binance.publish_trade("SOLUSDT", "149")  # SOLUSDT trades; nobody follows it yet

        first = create_alert(stack, "SOLUSDT", "150")
        time.sleep(0.1)
        stack.binance.publish_trade("SOLUSDT", "150.25")
        stack.wait_until(lambda: triggered(stack, first)[0] == "triggered", 30, "the first alert to fire")
        assert Decimal(str(triggered(stack, first)[1])) == Decimal("150.25")

        # Fired: nothing waits on SOLUSDT any more. The next alert, at once, sees the next trade.
        second = create_alert(stack, "SOLUSDT", "151")
        stack.binance.publish_trade("SOLUSDT", "151.75")
        stack.wait_until(lambda: triggered(stack, second)[0] == "triggered", 30, "the second alert to fire")
        assert Decimal(str(triggered(stack, second)[1])) == Decimal("151.75")
        emails = stack.mail.wait_for(2, timeout=30)
        assert sorted(e.rcpt_tos[0] for e in emails) == ["carol@example.com", "carol@example.com"]
