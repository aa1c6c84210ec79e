"""One account's destinations that never answer cannot stall anyone else (real processes).

Before: 40 Apprise channels pointing at a server that accepts and never
answers held every worker process for 30 s each; evaluation stopped for
minutes and another user's crossing waited until the worker was killed. Now
evaluation has a process of its own, every send has a deadline, and a timed-out
send puts its owner's other sends on hold (alerts.delivery.breaker).
"""

import socket
import subprocess
import threading
import time

import pytest
from django.conf import settings

from tests.e2e.harness import PROJECT_DIR, PYTHON, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ALERTS = [
    {"email": "warmup@example.com", "symbol": "ETHUSDT", "direction": "above", "target_price": "2000"},
    {"email": "mallory@example.com", "symbol": "BTCUSDT", "direction": "above", "target_price": "70000"},
    {"email": "bob@example.com", "symbol": "SOLUSDT", "direction": "below", "target_price": "100"},
]

STALLED_CHANNELS = """
import sys
import django
django.setup()
from alerts.models import Channel
from accounts.models import User
user = User.objects.get(email="mallory@example.com")
Channel.objects.bulk_create(
    Channel(user=user, kind="webhook", url=f"{sys.argv[1]}/{n}", secret="s" * 64) for n in range(40)
)
"""


class SilentServer:
    """Accepts every connection, reads nothing, answers nothing; counts the connections."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self):
        self.listener.close()
        for connection in self.connections:
            connection.close()


def test_forty_stalled_channels_of_one_user_do_not_delay_another_users_alert():
    silent = SilentServer()
    database = f"{settings.DATABASES['default'].get('TEST', {}).get('NAME') or 'test_pricealert'}_stall"
    env = {"OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8", "OUTBOUND_TIMEOUT_SECONDS": "5"}
    try:
        with Stack(settings.REDIS_URL, ALERTS, db_name=database, extra_env=env) as stack:
            subprocess.run(
                [PYTHON, "-c", STALLED_CHANNELS, silent.url], cwd=PROJECT_DIR, env=stack.env(), check=True
            )
            stack.wait_ready(["ethusdt@aggTrade", "btcusdt@aggTrade", "solusdt@aggTrade"])
            stack.binance.publish_trade("ETHUSDT", "2000.50")  # warm the whole path first
            stack.mail.wait_for(1, timeout=30)

            stack.binance.publish_trade("BTCUSDT", "70001")  # mallory: 40 stalled webhooks + email
            time.sleep(0.5)
            crossed_at = time.time()
            stack.binance.publish_trade("SOLUSDT", "99.50")  # bob's alert, right behind
            try:
                received = stack.mail.wait_for(3, timeout=30)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{stack.logs()}") from exc
            bobs = next(email for email in received if email.rcpt_tos == ["bob@example.com"])
            delay = bobs.at - crossed_at
            # Without the hold: 40 sends x 5 s over the delivery processes, minutes with 2 of them.
            assert delay < 12, f"bob's email took {delay:.1f} s\n{stack.logs()}"
            # Mallory's stalled destination was tried a few times, not forty: at most once by each
            # delivery process (her batches start on all of them at once; the first timeout puts
            # the rest of her sends on hold).
            assert len(silent.connections) <= stack.worker_concurrency, len(silent.connections)
    finally:
        silent.close()
