"""`make run` and `make demo`, started for real: the processes come up, Ctrl-C stops them all.

Each test runs the make target in its own process group with a temporary run
directory and SQLite file, this test run's Redis database and free ports, reads
honcho's prefixed output, and ends with SIGINT to the group, as Ctrl-C in a
terminal does. `-o .venv/.installed` skips the install step (never pip here).
"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_LINE = r"\d{4}-\d\d-\d\d [\d:,]+ INFO MainProcess "
STARTED = re.compile(r"system +\| (\S+)\.1 started \(pid=(\d+)\)")

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Stack:
    """A make target running under honcho, its output in a file."""

    def __init__(self, target: str, env: dict[str, str], log: Path):
        self.log = log
        self.output = log.open("w")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", target],
            cwd=PROJECT_DIR,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text(), flags=re.MULTILINE)
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n{self.text()[-5000:]}")

    def started(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in STARTED.findall(self.text())}

    def interrupt(self, timeout: float = 60) -> None:
        """Ctrl-C: SIGINT to make and honcho (the terminal's foreground group)."""
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=timeout)

    def close(self) -> None:
        for pgid in [self.process.pid, *self.started().values()]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.output.close()


@pytest.fixture
def stack_env(tmp_path, settings):
    """The shell a newcomer types `make run` in, pointed at throwaway state and this run's Redis DB."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DEBUG", "SECRET_KEY")
        and not name.startswith(("TEST_", "PYTEST_"))
    }
    env.update(PORT=str(free_port()), RUN_DIR=str(tmp_path), REDIS_URL=settings.REDIS_URL)
    return env


@pytest.fixture
def run_stack(tmp_path):
    stacks = []

    def start(target: str, env: dict[str, str]) -> Stack:
        stack = Stack(target, env, tmp_path / f"{target}.log")
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.close()


def get_json(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def assert_all_stopped(stack: Stack, names: list[str]) -> None:
    text = stack.text()
    for name in names:
        assert re.search(rf"system +\| {name}\.1 stopped", text), f"{name} did not stop:\n{text[-3000:]}"
    leftovers = [name for name, pid in stack.started().items() if alive(pid)]
    assert not leftovers, f"still running after Ctrl-C: {leftovers}"


def test_make_run_brings_up_web_feeder_worker_engine_and_beat_and_ctrl_c_stops_them(
    stack_env, run_stack, tmp_path, clean_redis
):
    with socket.socket() as unreachable:  # bound, never listening: the feeder's Binance is refused
        unreachable.bind(("127.0.0.1", 0))
        stack_env.update(
            DATABASE_URL=f"sqlite:///{tmp_path}/run.sqlite3",
            BINANCE_WS_URL=f"ws://127.0.0.1:{unreachable.getsockname()[1]}",
        )
        port = stack_env["PORT"]
        stack = run_stack("run", stack_env)

        stack.wait_for(rf"^\S+ web\.1 +\| .*Listening at: http://127\.0\.0\.1:{port}\b")
        # The project's one-line log format, Celery's processes included.
        stack.wait_for(rf"^\S+ feeder\.1 +\| {LOG_LINE}feeds\.runfeeder: runfeeder: ws://127\.0\.0\.1:")
        stack.wait_for(rf"^\S+ worker\.1 +\| {LOG_LINE}celery\.apps\.worker: celery@\S+ ready\.")
        stack.wait_for(rf"^\S+ engine\.1 +\| {LOG_LINE}celery\.apps\.worker: engine@\S+ ready\.")
        stack.wait_for(rf"^\S+ beat\.1 +\| {LOG_LINE}celery\.beat: beat: Starting\.\.\.")
        status, body = get_json(f"http://127.0.0.1:{port}/health")
        assert status == 200, body
        assert set(stack.started()) == {"web", "feeder", "worker", "engine", "beat"}

        stack.interrupt()

    assert_all_stopped(stack, ["web", "feeder", "worker", "engine", "beat"])
    assert (tmp_path / "run.sqlite3").stat().st_size > 0  # migrated before starting


def test_make_run_without_a_redis_starts_one_that_requires_a_password_and_the_stack_uses_it(
    stack_env, run_stack, tmp_path, closed_port
):
    redis_dir = tmp_path / "redis"
    redis_port = free_port()
    stack_env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/run.sqlite3",
        BINANCE_WS_URL=f"ws://127.0.0.1:{closed_port}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        REDIS_DIR=str(redis_dir),
    )
    try:
        stack = run_stack("run", stack_env)
        stack.wait_for(rf"Started a local Redis \(.*\) on 127\.0\.0\.1:{redis_port}")
        stack.wait_for(rf"^\S+ worker\.1 +\| {LOG_LINE}celery\.apps\.worker: celery@\S+ ready\.")
        stack.wait_for(rf"^\S+ engine\.1 +\| {LOG_LINE}celery\.apps\.worker: engine@\S+ ready\.")
        stack.wait_for(rf"^\S+ web\.1 +\| .*Listening at: http://127\.0\.0\.1:{stack_env['PORT']}\b")

        with socket.create_connection(("127.0.0.1", redis_port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            assert sock.recv(64).startswith(b"-NOAUTH")
        # /health pings Redis: the web process reaches it with the password.
        status, body = get_json(f"http://127.0.0.1:{stack_env['PORT']}/health")
        assert status == 200, body
        assert json.loads(body)["checks"]["redis"] == "ok"
        stack.interrupt()
    finally:
        pid_file = redis_dir / f"redis-{redis_port}.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_make_demo_shows_an_alert_email_within_a_minute_offline(stack_env, run_stack, tmp_path, clean_redis):
    market_port = free_port()
    stack_env.update(DEMO_MARKET_PORT=str(market_port), DEMO_REDIS_URL=stack_env.pop("REDIS_URL"))
    stack = run_stack("demo", stack_env)

    stack.wait_for(r"^Demo user: demo@example\.com  password: pricealert-demo$", timeout=120)
    stack.wait_for(rf"market\.1 +\| fake Binance listening on ws://127\.0\.0\.1:{market_port}\b")
    stack.wait_for(rf"feeder\.1 +\| .*runfeeder: ws://127\.0\.0\.1:{market_port}, ")
    started_at = time.monotonic()
    email = stack.wait_for(
        r"^\S+ worker\.1 +\| Subject: (BTCUSDT|ETHUSDT|SOLUSDT) (rose|fell) to [\d,.]+ \(your alert: ",
        timeout=60,
    )
    took = time.monotonic() - started_at
    # The console backend prints the message line by line: wait for its end before reading it whole.
    stack.wait_for(rf"{re.escape(email.group(0))}(.*\n)*?\S+ worker\.1 +\| -{{79}}$", timeout=10)
    message = stack.text()[email.start() :]
    assert "To: demo@example.com" in message
    assert f"http://localhost:{stack_env['PORT']}/alerts/" in message  # links to this stack's web port
    assert took < 60
    assert (tmp_path / "demo.sqlite3").exists()

    stack.interrupt()

    assert_all_stopped(stack, ["web", "market", "feeder", "worker", "engine", "beat"])
