"""The whole pipeline as real processes, for end-to-end tests and the latency benchmark.

fake Binance (in this process) -> ``manage.py runfeeder`` -> Redis ->
``celery beat`` + the ``engine`` worker (evaluation) + the delivery ``worker``
-> an aiosmtpd server (in this process), the process types the Procfile runs.

The subprocesses need a database they can all see, so the stack gets one of
its own: a temporary SQLite file, or, when DATABASE_URL names PostgreSQL, a
fresh database on that server (dropped afterwards). It is migrated and seeded
by a subprocess with the same environment as the others. Every subprocess
runs in its own session, logs to a file (shown when something fails) and is
killed when the stack stops.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from devtools.fakebinance import FakeBinance
from tests.support.smtp import MailServer

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
# The delivery worker's processes, as the Procfile and docker-compose.yml run it (tests check they agree).
DELIVERY_CONCURRENCY = 8

SEED_SCRIPT = """
import json, sys
from datetime import timedelta
from decimal import Decimal
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
from accounts.models import User
from alerts.models import Alert
call_command("migrate", verbosity=0)
specs = json.loads(sys.stdin.read())  # stdin: a crash-day benchmark's 10,000 overflow argv
users = {}
for spec in specs:
    if spec["email"] not in users:
        # Test addresses count as confirmed: these runs are about delivery (issue 16 holds mail to
        # unconfirmed addresses; tests/e2e/test_verified_address.py covers that).
        users[spec["email"]] = User.objects.get_or_create(
            email=spec["email"], defaults={"email_verified_at": timezone.now()}
        )[0]
alerts = Alert.objects.bulk_create(
    [Alert(user=users[spec["email"]], symbol=spec["symbol"], direction=spec["direction"],
           target_price=Decimal(spec["target_price"])) for spec in specs],
    batch_size=500,
)
ids = [alert.pk for alert in alerts]
# Created a second ago: any trade from now on is after every alert's creation.
ago = timezone.now() - timedelta(seconds=1)
Alert.objects.filter(pk__in=ids).update(
    created_at=ago, **({"armed_at": ago} if hasattr(Alert, "armed_at") else {})
)
print(json.dumps(ids))
"""


def benchmark_redis(default: str = "redis://127.0.0.1:6379/13"):
    """A benchmark's Redis (REDIS_URL, else ``default``), flushed: (url, client). Never database 0."""
    import redis

    redis_url = os.environ.get("REDIS_URL", default)
    if redis_url.rstrip("/").endswith("/0") or redis_url.count("/") < 3:
        sys.exit("give the benchmark a Redis database of its own (REDIS_URL=redis://host:port/N, N != 0)")
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return redis_url, client


class Database:
    """A database for the stack's processes: a SQLite file or a fresh PostgreSQL database."""

    def __init__(self, workdir: Path, name: str):
        server = os.environ.get("DATABASE_URL", "")
        self.postgres = server.startswith(("postgres://", "postgresql://", "pgsql://"))
        if self.postgres:
            parts = urlparse(server)
            self.name = name
            self.url = urlunparse(parts._replace(path=f"/{name}"))
            self._maintenance = urlunparse(parts._replace(scheme="postgresql", path="/postgres"))
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        else:
            self.path = workdir / f"{name}.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self._maintenance, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def query(self, sql: str) -> list[tuple]:
        """Read what the processes wrote (raw SQL, no Django: this process has its own database)."""
        if self.postgres:
            import psycopg

            with psycopg.connect(urlunparse(urlparse(self.url)._replace(scheme="postgresql"))) as conn:
                return conn.execute(sql).fetchall()
        import sqlite3

        with sqlite3.connect(self.path, timeout=20) as conn:
            return conn.execute(sql).fetchall()

    def drop(self) -> None:
        if self.postgres:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Stack:
    """``with Stack(redis_url, alerts=[...]) as stack: stack.binance.publish_trade(...)``."""

    def __init__(
        self,
        redis_url: str,
        alerts: list[dict],
        *,
        db_name: str = "pricealert_e2e",
        evaluate_interval: float = 1.0,
        worker_concurrency: int = DELIVERY_CONCURRENCY,
        extra_env: dict | None = None,
        process_database_url=None,
    ):
        self.redis_url = redis_url
        self.alert_specs = alerts
        self.db_name = db_name
        self.evaluate_interval = evaluate_interval
        self.worker_concurrency = worker_concurrency
        self.extra_env = extra_env or {}
        # The processes may reach the database another way (the chaos run's proxy).
        self.process_database_url = process_database_url or (lambda url: url)
        self._spawn_args: dict[str, list[str]] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="pricealert-e2e-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.mail = MailServer()
        self.binance = FakeBinance()
        self.database: Database | None = None
        self.alert_ids: list[int] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TEST_DATABASE"))}
        env.update(
            DJANGO_SETTINGS_MODULE="pricealert.settings",
            DEBUG="false",
            SECRET_KEY="e2e-only-not-a-secret",
            FIELD_ENCRYPTION_KEY="e2e-only-not-a-secret-either",
            DATABASE_URL=self.process_database_url(self.database.url),
            REDIS_URL=self.redis_url,
            BINANCE_WS_URL=self.binance.url,
            BINANCE_API_URL=self.binance.api_url,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=self.mail.host,
            EMAIL_PORT=str(self.mail.port),
            EMAIL_USE_TLS="false",
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            ALERTS_EVALUATE_INTERVAL=str(self.evaluate_interval),
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )
        return env

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> "Stack":
        try:
            self.mail.start()
            self.binance.start()
            self.database = Database(self.workdir, self.db_name)
            seeded = subprocess.run(
                [PYTHON, "-c", SEED_SCRIPT],
                input=json.dumps(self.alert_specs),
                cwd=PROJECT_DIR,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=180,
            )
            if seeded.returncode != 0:
                raise RuntimeError(f"migrating and seeding the e2e database failed:\n{seeded.stderr[-4000:]}")
            self.alert_ids = json.loads(seeded.stdout.strip().splitlines()[-1])
            # No gossip/mingle/heartbeat: nothing to sync with, and mingle alone waits a second.
            quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            # As in the Procfile: deliveries and evaluation in separate worker processes.
            worker = ["worker", "--queues=celery", f"--concurrency={self.worker_concurrency}", *quiet]
            engine = ["worker", "--queues=engine", "--concurrency=1", "--hostname=engine@%h", *quiet]
            beat = ["beat", f"--schedule={self.workdir / 'celerybeat-schedule'}"]
            for name, args in (("worker", worker), ("engine", engine), ("beat", beat)):
                self._spawn(name, ["-m", "celery", "-A", "pricealert", *args, "--loglevel=INFO"])
            self._spawn("feeder", ["manage.py", "runfeeder"])
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str]) -> None:
        self._spawn_args[name] = args
        log = open(self.workdir / f"{name}.log", "a")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [PYTHON, *args],
            cwd=PROJECT_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the worker's children die with it
        )
        log.close()

    def spawn_web(self, port: int) -> None:
        """gunicorn on 127.0.0.1:port (two sync workers), as `make run` starts it."""
        args = ["-m", "gunicorn", "pricealert.wsgi", f"--bind=127.0.0.1:{port}", "--workers=2"]
        self._spawn("web", [*args, "--no-control-socket", "--timeout=60"])

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything in its group (a worker's pool children too)."""
        process = self.processes.pop(name)  # check_alive must not count a kill on purpose
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def respawn(self, name: str) -> None:
        """Start a killed process again with the same command (its log goes on in the same file)."""
        self._spawn(name, self._spawn_args[name])

    def stop(self, *, remove_logs: bool = False) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for stop in (self.binance.stop, self.mail.stop):
            with contextlib.suppress(Exception):  # best effort: the rest must still stop
                stop()
        if self.database is not None:
            self.database.drop()
            self.database = None
        if remove_logs:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        # Logs stay (in self.workdir) when something failed.
        self.stop(remove_logs=exc_type is None)

    # --- observing ---------------------------------------------------------------

    def logs(self, tail: int = 60) -> str:
        """The last lines of every process log, for failure messages."""
        parts = []
        for name in self.processes:
            lines = (self.workdir / f"{name}.log").read_text(errors="replace").splitlines()
            parts.append(f"--- {name} (last {tail} lines) ---\n" + "\n".join(lines[-tail:]))
        return "\n".join(parts)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}\n{self.logs()}")

    def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.check_alive()
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")

    def wait_ready(self, streams: list[str], timeout: float = 60.0) -> None:
        """Feeder subscribed to the streams, the two workers and beat running."""
        for stream in streams:
            self.wait_until(
                lambda s=stream: s in self.binance.all_subscriptions(),
                timeout,
                f"the feeder to follow {stream}",
            )
        self.wait_until(lambda: "ready." in self._log("worker"), timeout, "the worker to be ready")
        self.wait_until(lambda: "ready." in self._log("engine"), timeout, "the engine worker to be ready")
        self.wait_until(lambda: "beat: Starting" in self._log("beat"), timeout, "beat to start")

    def _log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def notifications(self) -> list[tuple]:
        return self.database.query("SELECT alert_id, status, attempts FROM alerts_notification ORDER BY id")

    def alert_statuses(self) -> dict[int, str]:
        return dict(self.database.query("SELECT id, status FROM alerts_alert"))
