"""The chaos run: the whole stack as real processes, thousands of alerts, prices through all of them, faults.

    run = ChaosRun(SIZES["short"]); report = run.run(); print(report.text())

What runs (tests/e2e/harness.py's Stack, extended): a private redis-server
(tests/chaos/faults.py), gunicorn, ``manage.py runfeeder``, the delivery and
the engine ``celery worker`` and ``celery beat`` against the fake Binance
server and a real aiosmtpd server; on PostgreSQL the processes reach the
database through a TCP proxy this process controls.

What it does: users and alerts, a sample through the REST API and the rest
in bulk through the ORM; then every symbol's price walks from 100 up to 150,
stays there until the engine triggered every ``above`` alert the walk crossed,
walks down to 50, and stays there likewise. The market keeps trading at the
level it reached (a trade every ``hold_interval``), as a real one does, so a
crossing lost to a fault is crossed again by the next trade. Meanwhile a
script of faults runs: SMTP refuses everything for ``smtp_refusal`` seconds,
the Binance connections are dropped and sent ``serverShutdown``, Redis is
SIGKILLed and restarted empty while alerts fire, the database is stalled and
then cut (PostgreSQL only), and the worker is SIGKILLed while emails flow.

What it reports (tests/chaos/report.py): alerts that should have fired,
fired, notified, emails received, duplicates (a resend of the same
notification, the crash window, counted apart from any other), missing, and
the delay from the first crossing trade to the email.
"""

import json
import random
import subprocess
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlparse, urlunparse

import redis
import requests

from tests.chaos.faults import PrivateRedis, TcpProxy, free_port
from tests.chaos.report import Expectation, Report, collect
from tests.e2e.harness import PROJECT_DIR, PYTHON, Stack

BASE_PRICE = Decimal("100")
TOP_PRICE = Decimal("150")
BOTTOM_PRICE = Decimal("50")
# A spike symbol trades once at SPIKE_PRICE just before a Redis restart, then at
# BASE_PRICE again: nothing but the feeder's replay can fire its alerts.
SPIKE_PRICE = Decimal("160")
ALERTS_PER_SPIKE_SYMBOL = 12
PASSWORD = "chaos-Monkey-Password-42"


@dataclass(frozen=True)
class Size:
    alerts: int
    users: int
    symbols: int
    api_users: int  # of the users, these register and create their alerts through the REST API
    api_alerts_per_user: int
    smtp_refusal: float  # seconds
    step_seconds: float  # between walk steps
    timeout: float  # for everything to be emailed after the walk
    worker_kills: int = 2
    redis_restarts: int = 1
    binance_drops: int = 3
    server_shutdowns: int = 2
    db_stall: float = 3.0
    db_cut: float = 3.0


SIZES = {
    "short": Size(
        alerts=300, users=30, symbols=8, api_users=3, api_alerts_per_user=8,
        smtp_refusal=10, step_seconds=0.25, timeout=90,
    ),
    "full": Size(
        alerts=5000, users=500, symbols=40, api_users=10, api_alerts_per_user=10,
        smtp_refusal=60, step_seconds=0.25, timeout=300, worker_kills=3, redis_restarts=2,
        binance_drops=5, server_shutdowns=3,
    ),
}  # fmt: skip

# Operator settings for the run: short time scales so recovery paths (the
# sweeper, retries, leases) act within seconds instead of minutes.
PROCESS_ENV = {
    "ALERTS_NOTIFY_RETRY_SECONDS": "1",
    "ALERTS_NOTIFY_MAX_ATTEMPTS": "14",
    "ALERTS_NOTIFY_STUCK_SECONDS": "3",
    "ALERTS_NOTIFY_SWEEP_SECONDS": "3",
    "ALERTS_NOTIFY_LEASE_SECONDS": "10",
    "EMAIL_TIMEOUT": "2",
    "FEEDER_RECONNECT_MAX_SECONDS": "2",
    "THROTTLE_REGISTER_IP": "off",
    "THROTTLE_REGISTER_ACCOUNT": "off",
    "THROTTLE_LOGIN_IP": "off",
    "THROTTLE_LOGIN_ACCOUNT": "off",
    "SITE_URL": "http://chaos.localhost",
    # The run is about delivery under faults, not about confirming addresses: its made-up
    # addresses are trusted as a closed install trusts them (every account counts as verified).
    "ACCOUNT_EMAIL_VERIFICATION": "none",
}

BULK_SEED = """
import json, sys
from datetime import timedelta
from decimal import Decimal
import django
django.setup()
from django.utils import timezone
from accounts.models import User
from alerts.models import Alert
specs = json.load(sys.stdin)
emails = sorted({s["email"] for s in specs})
existing = {u.email: u for u in User.objects.filter(email__in=emails)}
new = [User(email=e, password="!", email_verified_at=timezone.now()) for e in emails if e not in existing]
for user in User.objects.bulk_create(new, batch_size=500):
    existing[user.email] = user
alerts = Alert.objects.bulk_create(
    [Alert(user=existing[s["email"]], symbol=s["symbol"], direction=s["direction"],
           target_price=Decimal(s["target_price"])) for s in specs],
    batch_size=1000,
)
ids = [a.pk for a in alerts]
created = timezone.now() - timedelta(seconds=1)
for start in range(0, len(ids), 1000):
    Alert.objects.filter(pk__in=ids[start:start + 1000]).update(
        created_at=created, **({"armed_at": created} if hasattr(Alert, "armed_at") else {})
    )
print(json.dumps(ids))
"""


def chaos_symbols(count: int) -> list[str]:
    """TRADING USDT symbols whose price filter admits 0.01 ... 1000 with cent ticks (any price we use)."""
    catalogue = json.loads((PROJECT_DIR / "feeds/data/symbols.json").read_text())
    fields = catalogue["fields"]
    chosen = []
    for row in catalogue["symbols"]:
        s = dict(zip(fields, row, strict=True))
        if (
            s["status"] == "TRADING"
            and s["quote_asset"] == "USDT"
            and Decimal(s["tick_size"]) <= Decimal("0.01")
            and Decimal(s["min_price"]) <= Decimal("0.01")
            and Decimal(s["max_price"]) >= Decimal("1000")
        ):
            chosen.append(s["symbol"])
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} suitable symbols in the catalogue, {count} asked")
    return sorted(chosen)[:count]


def alert_specs(size: Size, seed: int) -> list[dict]:
    """Every alert of the run: 45 % above targets and 45 % below targets the walk crosses, 10 % it never does.

    Each symbol also gets one alert of each never-crossed kind, so the feeder
    keeps following every symbol until the end. Then, per Redis restart, a
    spike symbol with above targets only its one spike crosses.
    """
    rng = random.Random(seed)
    everything = chaos_symbols(size.symbols + size.redis_restarts)
    symbols, spikes = everything[: size.symbols], everything[size.symbols :]
    specs = []
    for symbol in spikes:
        for i in range(ALERTS_PER_SPIKE_SYMBOL):
            user = f"user{rng.randrange(size.users):05d}@chaos.example.com"
            target = Decimal(rng.randint(10001, 15999) if i >= 2 else (25000 if i == 0 else 1000))
            direction = "below" if i == 1 else "above"
            specs.append(
                {"email": user, "symbol": symbol, "direction": direction, "target_price": str(target / 100)}
            )
    for i in range(size.alerts):
        symbol = symbols[i % len(symbols)]
        user = f"user{rng.randrange(size.users):05d}@chaos.example.com"
        kind = rng.random()
        if i < 2 * len(symbols) or kind < 0.10:
            direction = "above" if (i // len(symbols)) % 2 == 0 or kind < 0.05 else "below"
            target = Decimal(rng.randint(20000, 30000) if direction == "above" else rng.randint(100, 2000))
        elif kind < 0.55:
            direction, target = "above", Decimal(rng.randint(10001, 14999))
        else:
            direction, target = "below", Decimal(rng.randint(5001, 9999))
        specs.append(
            {"email": user, "symbol": symbol, "direction": direction, "target_price": str(target / 100)}
        )
    return specs


@dataclass
class Market:
    """The driver's side of the market: every price it published, per symbol, with when."""

    binance: object
    symbols: list[str]  # the ones that walk together
    trades: dict[str, list[tuple[float, Decimal]]] = field(default_factory=dict)  # (unix time, price)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, price: Decimal, symbols: list[str] | None = None) -> None:
        symbols = symbols or self.symbols
        at = time.time()
        self.binance.publish_trades([(symbol, str(price)) for symbol in symbols])
        with self.lock:
            for symbol in symbols:
                self.trades.setdefault(symbol, []).append((at, price))

    def first_crossing(self, symbol: str, direction: str, target: Decimal) -> float | None:
        with self.lock:
            for at, price in self.trades.get(symbol, []):
                if (price >= target) if direction == "above" else (price <= target):
                    return at
        return None


class ChaosRun:
    def __init__(self, size: Size, *, db_name: str = "pricealert_chaos", seed: int = 8, log=print):
        self.size = size
        self.db_name = db_name
        self.seed = seed
        self.log = log
        self.faults: list[tuple[float, str]] = []  # (seconds since the walk started, what)
        self.fault_errors: list[str] = []
        self.started_at = 0.0
        self.web_port = free_port()
        self.redis: PrivateRedis | None = None
        self.proxy: TcpProxy | None = None
        self.stack: Stack | None = None
        self.market: Market | None = None
        self.specs: list[dict] = []
        self.spike_symbols: list[str] = []
        self.holds: list[str] = []  # how long each extreme was held until the engine caught up
        self.alert_ids: list[int] = []
        self._phase = threading.Event()  # set once the walk started down
        self._done = threading.Event()

    # --- setting up ----------------------------------------------------------------

    def _process_database_url(self, url: str) -> str:
        if self.proxy is None:
            return url
        parts = urlparse(url)
        netloc = f"{parts.username or 'postgres'}@127.0.0.1:{self.proxy.port}"
        return urlunparse(parts._replace(netloc=netloc))

    def _start(self) -> None:
        self.stack = Stack(
            "redis://placeholder",
            [],
            db_name=self.db_name,
            worker_concurrency=2,
            extra_env=PROCESS_ENV,
            process_database_url=self._process_database_url,
        )
        self.redis = PrivateRedis(self.stack.workdir).start()
        self.stack.redis_url = self.redis.url
        import os

        server = os.environ.get("DATABASE_URL", "")
        if server.startswith(("postgres://", "postgresql://", "pgsql://")):
            parts = urlparse(server)
            self.proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
        self.stack.start()
        self.stack.spawn_web(self.web_port)

    def _seed(self) -> None:
        size = self.size
        self.specs = alert_specs(size, self.seed)
        api_emails = sorted({s["email"] for s in self.specs})[: size.api_users]
        api_specs = [s for s in self.specs if s["email"] in api_emails][
            : size.api_users * size.api_alerts_per_user
        ]
        bulk_specs = [s for s in self.specs if not any(s is a for a in api_specs)]
        # The API users register first: the bulk seed then finds their accounts.
        api_ids = self._create_through_api(api_emails, api_specs)
        started = time.monotonic()
        seeded = subprocess.run(
            [PYTHON, "-c", BULK_SEED],
            input=json.dumps(bulk_specs),
            cwd=PROJECT_DIR,
            env={**self.stack.env(), "DATABASE_URL": self.stack.database.url},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"bulk seeding failed:\n{seeded.stderr[-4000:]}")
        bulk_ids = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.log(f"seeded {len(bulk_ids)} alerts in bulk in {time.monotonic() - started:.1f} s")
        self.specs = bulk_specs + api_specs
        self.alert_ids = bulk_ids + api_ids
        # Alerts are judged only on trades after they were created: the walk starts after this.
        time.sleep(1.1)

    def _api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(
            method, f"http://127.0.0.1:{self.web_port}{path}", headers=headers, timeout=30, **kwargs
        )

    def _wait_for_web(self) -> None:
        def up() -> bool:
            try:
                return self._api("GET", "/health").status_code in (200, 503)
            except requests.RequestException:
                return False

        self.stack.wait_until(up, 60, "gunicorn to answer /health")

    def _create_through_api(self, emails: list[str], specs: list[dict]) -> list[int]:
        self._wait_for_web()
        tokens = {}
        for email in emails:
            response = self._api("POST", "/register", json={"email": email, "password": PASSWORD})
            assert response.status_code == 201, response.text
            response = self._api("POST", "/token", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
            tokens[email] = response.json()["access"]
        ids = []
        for spec in specs:
            body = {k: spec[k] for k in ("symbol", "direction", "target_price")}
            response = self._api("POST", "/alerts/create", tokens[spec["email"]], json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        self.api_tokens = tokens
        self.log(f"created {len(ids)} alerts through the REST API for {len(tokens)} users")
        return ids

    # --- driving ---------------------------------------------------------------------

    def _fault(self, what: str) -> None:
        self.faults.append((round(time.monotonic() - self.started_at, 1), what))
        self.log(f"  t={time.monotonic() - self.started_at:5.1f}s  fault: {what}")

    def _triggered(self, direction: str) -> int:
        """Triggered alerts of the walking symbols in that direction."""
        symbols = ", ".join(f"'{symbol}'" for symbol in self.market.symbols)
        rows = self.stack.database.query(
            "SELECT COUNT(*) FROM alerts_alert WHERE status = 'triggered' "
            f"AND direction = '{direction}' AND symbol IN ({symbols})"
        )
        return rows[0][0]

    def _walk(self, start: Decimal, end: Decimal, steps: int) -> None:
        for i in range(1, steps + 1):
            self.market.publish(start + (end - start) * i / steps)
            time.sleep(self.size.step_seconds)
            self.stack.check_alive()

    def _hold(self, price: Decimal, direction: str, expected: int, timeout: float) -> None:
        """Keep trading at ``price`` until the engine triggered every alert the walk crossed."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            self.market.publish(price)
            if self._triggered(direction) >= expected:
                self.holds.append(f"{price}: {time.monotonic() - started:.1f} s for {expected} {direction}")
                return
            time.sleep(0.3)
        triggered = self._triggered(direction)
        self.log(f"  hold at {price} timed out: {triggered}/{expected} {direction} triggered")

    def _drive(self, expectation: Expectation) -> None:
        self.market.publish(BASE_PRICE)
        self._walk(BASE_PRICE, TOP_PRICE, 25)
        self._hold(TOP_PRICE, "above", expectation.count("above", self.market.symbols), self.size.timeout)
        self._phase.set()
        self._walk(TOP_PRICE, BOTTOM_PRICE, 50)
        self._hold(BOTTOM_PRICE, "below", expectation.count("below", self.market.symbols), self.size.timeout)

    def _wait_emails_flowing(self, more: int, timeout: float) -> bool:
        start = len(self.stack.mail.received)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._done.is_set():
            if len(self.stack.mail.received) >= start + more:
                return True
            time.sleep(0.02)
        return False

    def _kill_worker(self) -> None:
        """SIGKILL the worker (and its pool) while it sends: wait for emails to flow first."""
        if not self._wait_emails_flowing(3, 60):
            self.fault_errors.append("no emails flowed to kill the worker in the middle of")
            return
        self._fault("SIGKILL celery worker while sending")
        self.stack.kill("worker")
        time.sleep(1.0)
        self.stack.respawn("worker")
        self._fault("worker restarted")

    def _spike_flushed(self, symbol: str) -> bool:
        """The feeder wrote a window of ``symbol`` reaching the spike (the engine may not have read it)."""
        client = redis.Redis(port=self.redis.port, decode_responses=True, socket_timeout=2)
        try:
            for _, fields in client.xrevrange("prices", count=50):
                if symbol in fields and Decimal(fields[symbol].split()[0]) >= SPIKE_PRICE:
                    return True
        except redis.RedisError:
            return False
        finally:
            client.close()
        return False

    def _restart_redis(self) -> None:
        spike = (
            self.spike_symbols[self.redis.restarts] if self.redis.restarts < len(self.spike_symbols) else None
        )
        if spike:
            # One trade over every target of the spike symbol, back at once; Redis dies
            # right after the feeder flushed it, most likely before the engine's next tick.
            stream = f"{spike.lower()}@aggTrade"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                # A feeder reconnecting after a drop would not get the trade: wait for it.
                self.stack.binance.wait_for_subscription(stream, timeout=10)
                self.market.publish(SPIKE_PRICE, [spike])
                self.market.publish(BASE_PRICE, [spike])
                flushed_by = time.monotonic() + 2
                while not self._spike_flushed(spike) and time.monotonic() < flushed_by:
                    time.sleep(0.01)
                if self._spike_flushed(spike):
                    break
            self._fault(f"{spike} spiked to {SPIKE_PRICE} and back (flushed to Redis, not crossed again)")
        self._fault("SIGKILL Redis (no persistence: stream, queues, locks lost)")
        self.redis.crash_restart(down_seconds=1.0)
        self._fault("Redis restarted empty")

    def _drop_binance(self) -> None:
        self._fault("drop every Binance connection")
        self.stack.binance.drop_all()

    def _server_shutdown(self) -> None:
        self._fault("Binance serverShutdown event")
        self.stack.binance.send_server_shutdown()

    def _block_database(self) -> None:
        if self.proxy is None:
            self._fault("database fault skipped (SQLite: no network to block)")
            return
        self._fault(f"database stalled {self.size.db_stall:.0f} s (proxy relays nothing)")
        self.proxy.stall(self.size.db_stall)
        self._fault(f"database cut {self.size.db_cut:.0f} s (connections reset, new ones refused)")
        self.proxy.cut(self.size.db_cut)
        self._fault("database reachable again")

    def _at(self, seconds: float) -> None:
        while time.monotonic() - self.started_at < seconds and not self._done.is_set():
            time.sleep(0.05)

    def _infrastructure_script(self) -> None:
        """Binance, Redis and database faults, while the walk goes up and then down."""
        size = self.size
        try:
            self._at(1.5)
            self._drop_binance()
            self._at(3.0)
            self._restart_redis()
            self._at(5.0)
            self._server_shutdown()
            self._at(6.0)
            self._block_database()
            drops, shutdowns, restarts = 1, 1, 1
            while not self._phase.is_set() and not self._done.is_set():
                time.sleep(0.05)
            phase_start = time.monotonic() - self.started_at
            while not self._done.is_set() and (
                drops < size.binance_drops
                or shutdowns < size.server_shutdowns
                or restarts < size.redis_restarts
            ):
                phase_start += 2.0
                self._at(phase_start)
                if restarts < size.redis_restarts:
                    self._restart_redis()
                    restarts += 1
                if drops < size.binance_drops:
                    self._drop_binance()
                    drops += 1
                elif shutdowns < size.server_shutdowns:
                    self._server_shutdown()
                    shutdowns += 1
        except Exception as exc:  # reported; the run's checks then fail
            self.fault_errors.append(f"{type(exc).__name__}: {exc}")
            self.log(f"  infrastructure fault script failed: {exc!r}")

    def _delivery_script(self) -> None:
        """SMTP refuses, then accepts; the worker is SIGKILLed while emails flow."""
        size = self.size
        try:
            mail = self.stack.mail
            self._fault(f"SMTP refuses every message (451) for {size.smtp_refusal:.0f} s")
            mail.refuse(always=True, reply="451 4.3.0 Try again later")
            self._at(size.smtp_refusal)
            mail.accept()
            self._fault("SMTP accepts again")
            for _ in range(size.worker_kills):
                if self._done.is_set():
                    break
                self._kill_worker()
                time.sleep(1.0)
        except Exception as exc:  # reported; the run's checks then fail
            self.fault_errors.append(f"{type(exc).__name__}: {exc}")
            self.log(f"  delivery fault script failed: {exc!r}")

    def _wait_delivered(self, expectation: Expectation, timeout: float) -> None:
        """Until every alert that should fire was emailed and nothing is pending, then a quiet spell."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = {r.message["Message-ID"] for r in self.stack.mail.received}
            pending = self.stack.database.query(
                "SELECT COUNT(*) FROM alerts_notification WHERE status = 'pending'"
            )[0][0]
            if len(received) >= expectation.total and pending == 0:
                break
            time.sleep(0.5)
        # Duplicates would come after the last expected email: give them a chance to show up.
        time.sleep(3.0)

    # --- the run -----------------------------------------------------------------------

    def run(self) -> Report:
        try:
            self._start()
            self.log(f"stack up in {self.stack.workdir} (Redis {self.redis.url}, web :{self.web_port})")
            self._seed()
            symbols = sorted({s["symbol"] for s in self.specs})
            self.stack.wait_ready([f"{s.lower()}@aggTrade" for s in symbols], timeout=90)
            walking = chaos_symbols(self.size.symbols)
            self.spike_symbols = [s for s in symbols if s not in walking]
            ranges = {s: (BOTTOM_PRICE, TOP_PRICE) for s in walking}
            ranges.update({s: (BASE_PRICE, SPIKE_PRICE) for s in self.spike_symbols})
            expectation = Expectation.from_specs(self.specs, self.alert_ids, ranges)
            self.log(f"{len(self.specs)} alerts on {len(symbols)} symbols; {expectation.total} should fire")
            self.market = Market(self.stack.binance, walking)
            self.started_at = time.monotonic()
            walk_started = time.time()
            scripts = [
                threading.Thread(target=self._infrastructure_script, name="chaos-infra", daemon=True),
                threading.Thread(target=self._delivery_script, name="chaos-delivery", daemon=True),
            ]
            for script in scripts:
                script.start()
            self._drive(expectation)
            for script in scripts:
                script.join(timeout=self.size.timeout)
            self._wait_delivered(expectation, self.size.timeout)
            self._done.set()
            for script in scripts:
                script.join(timeout=30)
            report = collect(
                self.stack,
                expectation,
                self.market,
                faults=self.faults,
                fault_errors=self.fault_errors,
                worker_kills=[t for t, what in self.faults if what.startswith("SIGKILL celery")],
                walk_started=walk_started,
                duration=time.monotonic() - self.started_at,
                api=self._api_view(),
                spike_symbols=self.spike_symbols,
            )
            report.size = self.size
            report.holds = self.holds
            report.database = "PostgreSQL (through a TCP proxy)" if self.proxy else "SQLite"
            report.logs_dir = str(self.stack.workdir)
            return report
        finally:
            self._done.set()
            self.stop()

    def _api_view(self) -> dict[int, str]:
        """Each API user's alerts as the REST API shows them at the end: id -> status."""
        statuses = {}
        for token in getattr(self, "api_tokens", {}).values():
            page = self._api("GET", "/alerts?page_size=100", token)
            if page.status_code != 200:
                continue
            body = page.json()
            for alert in body.get("results", body if isinstance(body, list) else []):
                statuses[alert["id"]] = alert["status"]
        return statuses

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop(remove_logs=False)
        for part in (self.proxy, self.redis):
            if part is not None:
                part.stop()
