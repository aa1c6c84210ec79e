"""Locust scenario of the load benchmark: 70 % list, 20 % create, 10 % delete.

Each simulated user is one of the accounts ``bench/load/run.py`` created, with
the access token it minted for it (nobody logs in during the run) and the ids
of its waiting alerts, so deletes hit real rows of its own. Run through
``bench/load/run.py``, which sets:

    LOAD_ACCOUNTS_FILE   JSON list of {"token": ..., "alert_ids": [...]} per account
    LOAD_RATE_PER_USER   tasks per second per user, Poisson arrivals (0: as fast as the
                         server answers)
"""

import itertools
import json
import os
import random
import time
from decimal import Decimal

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

with open(os.environ["LOAD_ACCOUNTS_FILE"]) as accounts_file:
    ACCOUNTS = json.load(accounts_file)
_next_account = itertools.count()
RATE_PER_USER = float(os.environ.get("LOAD_RATE_PER_USER", "1"))

# Symbols with a price in the benchmark's Redis (so a create without a direction
# can infer it), and a step that keeps targets within Binance's PRICE_FILTER.
PRICES = {
    "BTCUSDT": Decimal("60000"),
    "ETHUSDT": Decimal("3000"),
    "SOLUSDT": Decimal("150"),
    "BNBUSDT": Decimal("600"),
    "XRPUSDT": Decimal("0.5"),
    "DOGEUSDT": Decimal("0.12"),
}


def target_for(symbol: str) -> str:
    """A target 1-20 % away from the price, either side, with 4 decimals."""
    factor = Decimal(random.choice((-1, 1)) * random.randint(100, 2000)) / 10_000
    return str((PRICES[symbol] * (1 + factor)).quantize(Decimal("0.0001")))


def poisson_arrivals(user) -> float:
    """Wait until this user's next arrival; arrivals are a Poisson process of RATE_PER_USER.

    Not locust's constant_throughput: it paces every user from its spawn time, so
    200 users spawned together fire in the same instant every period. Exponential
    gaps spread them as independent clients would be; a user that fell behind (slow
    answers) catches up without waiting, so the offered rate holds.
    """
    user.next_at += random.expovariate(RATE_PER_USER)
    return max(0.0, user.next_at - time.perf_counter())


class AlertUser(FastHttpUser):
    wait_time = poisson_arrivals if RATE_PER_USER > 0 else constant(0)
    # Responses are checked by status only; a slow one must still be counted, not dropped.
    network_timeout = 30.0
    connection_timeout = 10.0

    def on_start(self):
        account = ACCOUNTS[next(_next_account) % len(ACCOUNTS)]
        self.headers = {"Authorization": f"Bearer {account['token']}"}
        self.waiting = list(account["alert_ids"])
        random.shuffle(self.waiting)
        if RATE_PER_USER > 0:
            # The first arrival too: otherwise every user's first request lands at spawn time.
            gevent.sleep(random.expovariate(RATE_PER_USER))
        self.next_at = time.perf_counter()

    @task(70)
    def list_alerts(self):
        self.client.get("/alerts/", headers=self.headers, name="GET /alerts/")

    @task(20)
    def create_alert(self):
        symbol = random.choice(tuple(PRICES))
        payload = {"symbol": symbol, "target_price": target_for(symbol)}
        # Half name the direction; the other half make the server infer it from Redis.
        if random.random() < 0.5:
            payload["direction"] = "above" if Decimal(payload["target_price"]) > PRICES[symbol] else "below"
        with self.client.post(
            "/alerts/", json=payload, headers=self.headers, name="POST /alerts/", catch_response=True
        ) as response:
            if response.status_code == 201:
                self.waiting.append(response.json()["id"])
                response.success()
            else:
                response.failure(f"create answered {response.status_code}: {response.text[:200]}")

    @task(10)
    def delete_alert(self):
        if not self.waiting:
            return self.list_alerts()
        alert_id = self.waiting.pop()
        with self.client.delete(
            f"/alerts/{alert_id}", headers=self.headers, name="DELETE /alerts/<id>", catch_response=True
        ) as response:
            if response.status_code == 204:
                response.success()
            else:
                response.failure(f"delete answered {response.status_code}: {response.text[:200]}")
