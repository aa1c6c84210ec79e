"""scripts/web_healthcheck.py: healthy means /health answered 200 to a host Django allows."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.http import HookServer

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "scripts" / "web_healthcheck.py"


@pytest.fixture
def health_server():
    """A real HTTP server on a free port answering /health: 200 unless a test sets ``default``."""
    with HookServer(body=b'{"status": "ok"}') as server:
        yield server


def check(url: str, allowed_hosts: str | None) -> subprocess.CompletedProcess:
    env = {} if allowed_hosts is None else {"ALLOWED_HOSTS": allowed_hosts}
    return subprocess.run(
        [sys.executable, str(SCRIPT), url], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        (None, "localhost"),
        ("alerts.example.com,localhost", "alerts.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
    ],
)
def test_asks_as_an_allowed_host(health_server, allowed_hosts, host):
    result = check(health_server.url + "/health", allowed_hosts)

    assert result.returncode == 0, result.stderr
    assert [(r.method, r.path, r.headers["Host"]) for r in health_server.received] == [
        ("GET", "/health", host)
    ]


def test_unhealthy_when_health_says_unavailable(health_server):
    health_server.default = 503

    result = check(health_server.url + "/health", None)

    assert result.returncode == 1
    assert "HTTP 503" in result.stderr


def test_unhealthy_when_nothing_listens(closed_port):
    result = check(f"http://127.0.0.1:{closed_port}/health", None)

    assert result.returncode == 1


def test_compose_web_service_uses_it():
    web = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "scripts/web_healthcheck.py"]
