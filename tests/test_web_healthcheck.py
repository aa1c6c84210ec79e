"""scripts/web_healthcheck.py: healthy means /health answered 200 to a host Django allows."""

import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT_DIR / "scripts" / "web_healthcheck.py"


@pytest.fixture
def health_server():
    """A real HTTP server on a free port answering /health with the status a test sets."""
    seen = []
    reply = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers["Host"]))
            body = b'{"status": "ok"}'
            self.send_response(reply["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health", seen, reply
    server.shutdown()
    server.server_close()


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
    url, seen, _ = health_server

    result = check(url, allowed_hosts)

    assert result.returncode == 0, result.stderr
    assert seen == [("/health", host)]


def test_unhealthy_when_health_says_unavailable(health_server):
    url, _, reply = health_server
    reply["status"] = 503

    result = check(url, None)

    assert result.returncode == 1
    assert "HTTP 503" in result.stderr


def test_unhealthy_when_nothing_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        result = check(f"http://127.0.0.1:{sock.getsockname()[1]}/health", None)

    assert result.returncode == 1


def test_compose_web_service_uses_it():
    web = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", "python", "scripts/web_healthcheck.py"]
