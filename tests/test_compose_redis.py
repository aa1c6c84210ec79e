"""docker-compose.yml's Redis requires a password, and every app service's REDIS_URL carries it.

Docker does not run here, so the containers are played locally from the
compose file itself: its environment blocks interpolated as Compose does with
the given .env, the `appdata` volume as a temporary directory at each
service's mount point, the real scripts/docker-entrypoint.sh for the app
image, and the redis service's own command and healthcheck run by sh against
the machine's redis-server on a free port (a stand-in for the image's
docker-entrypoint.sh only adds the port). Each app service's settings are
then loaded in a subprocess and must reach that Redis with their REDIS_URL.
"""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from pricealert.env_values import redis_url_with_password

PROJECT_DIR = Path(__file__).resolve().parent.parent
SERVICES = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())["services"]
APP_SERVICES = ("migrate", "web", "feeder", "worker", "engine", "beat")
ENTRYPOINT = PROJECT_DIR / "scripts" / "docker-entrypoint.sh"
IMAGE_ENV = {"DJANGO_SETTINGS_MODULE": "pricealert.settings"}  # the Dockerfile's ENV
# What an app process sees of Redis: its settings' URLs, and whether that URL gets a PONG.
PROBE = """
import json, django, redis
django.setup()
from django.conf import settings
url = settings.REDIS_URL
print(json.dumps({
    "url": url,
    "same_everywhere": url == settings.CELERY_BROKER_URL == settings.CACHES["default"]["LOCATION"],
    "pong": redis.Redis.from_url(url, socket_timeout=5).ping(),
}))
"""

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server installed here")


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's interpolation: ${NAME}, ${NAME:-default}, and $$ for a literal $."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return dotenv.get(match.group(1)) or (match.group(2) or "")

    return re.sub(r"\$\$|\$\{([A-Z0-9_]+)(?::-([^}]*))?\}", replace, value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unauthenticated_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


class LocalStack:
    """The compose services' commands, run here: `appdata` is a directory, `redis` a local port."""

    def __init__(self, tmp_path: Path, dotenv: dict[str, str]):
        self.dotenv = dotenv
        self.appdata = tmp_path / "appdata"
        self.appdata.mkdir()
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.port = free_port()
        self.redis: subprocess.Popen | None = None

    def remap(self, service: str, text: str) -> str:
        """Container paths of the appdata volume -> the directory; the redis host -> the local port."""
        for volume in SERVICES[service].get("volumes", []):
            name, target = volume.split(":")[:2]
            if name == "appdata":
                text = text.replace(target, str(self.appdata))
        return text.replace("redis:6379", f"127.0.0.1:{self.port}")

    def env(self, service: str) -> dict[str, str]:
        environment = SERVICES[service].get("environment", {})
        env = {
            name: self.remap(service, interpolate(str(value), self.dotenv))
            for name, value in environment.items()
        }
        return {"PATH": f"{self.bin}:{os.environ['PATH']}", "HOME": str(self.appdata), **IMAGE_ENV, **env}

    def run_app(self, service: str, command: list[str]) -> subprocess.CompletedProcess:
        """A command in an app container: through the image's entrypoint, in the project directory."""
        return subprocess.run(
            ["sh", str(ENTRYPOINT), *command],
            cwd=PROJECT_DIR,
            env=self.env(service),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start_redis(self) -> None:
        # The redis image's entrypoint (which drops to the redis user) stands in as one that adds the port.
        stand_in = self.bin / "docker-entrypoint.sh"
        stand_in.write_text(f'#!/bin/sh\nexec "$@" --port {self.port} --bind 127.0.0.1 --save ""\n')
        stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
        command = [
            self.remap("redis", interpolate(word, self.dotenv)) for word in SERVICES["redis"]["command"]
        ]
        self.redis = subprocess.Popen(command, env=self.env("redis"), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                unauthenticated_ping(self.port)
                return
            except OSError:
                assert self.redis.poll() is None, "the redis service's command exited"
                time.sleep(0.05)
        raise AssertionError("the redis service's command never listened")

    def healthcheck(self) -> subprocess.CompletedProcess:
        kind, script = SERVICES["redis"]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        script = self.remap("redis", interpolate(script, self.dotenv)).replace(
            "redis-cli", f"redis-cli -p {self.port}"
        )
        return subprocess.run(["sh", "-c", script], env=self.env("redis"), capture_output=True, timeout=30)

    def stop(self) -> None:
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(timeout=10)


@pytest.fixture
def local_stack(tmp_path):
    stacks = []

    def start(dotenv: dict[str, str]) -> LocalStack:
        stack = LocalStack(tmp_path, dotenv)
        stacks.append(stack)
        secrets = stack.run_app("secrets", SERVICES["secrets"]["command"])
        assert secrets.returncode == 0, secrets.stderr
        stack.start_redis()
        return stack

    yield start
    for stack in stacks:
        stack.stop()


def app_view(stack: LocalStack, service: str) -> dict:
    result = stack.run_app(service, [sys.executable, "-c", PROBE])
    assert result.returncode == 0, f"{service}: {result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_redis_starts_only_after_the_password_exists():
    assert SERVICES["redis"]["depends_on"]["secrets"]["condition"] == "service_completed_successfully"
    assert "appdata:/run/pricealert:ro" in SERVICES["redis"]["volumes"]
    for name in APP_SERVICES:
        if name != "migrate":  # migrate talks to PostgreSQL only
            assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_a_generated_password_is_required_by_redis_and_carried_by_every_app_services_redis_url(local_stack):
    stack = local_stack({})

    password = (stack.appdata / "redis_password").read_text()
    assert len(password) >= 40
    assert (stack.appdata / "redis_password").stat().st_mode & 0o777 == 0o600
    assert unauthenticated_ping(stack.port).startswith(b"-NOAUTH")
    assert stack.healthcheck().returncode == 0
    views = {}  # services with the same environment see the same settings: loaded once
    for service in APP_SERVICES:
        environment = frozenset(stack.env(service).items())
        view = views[environment] = views.get(environment) or app_view(stack, service)
        assert view["url"] == f"redis://:{password}@127.0.0.1:{stack.port}/0", service
        assert view["same_everywhere"] and view["pong"], service


def test_redis_password_from_env_wins_and_nothing_is_generated(local_stack):
    stack = local_stack({"REDIS_PASSWORD": "set-by-the-operator-in-dot-env"})

    assert not (stack.appdata / "redis_password").exists()
    assert unauthenticated_ping(stack.port).startswith(b"-NOAUTH")
    assert stack.healthcheck().returncode == 0
    view = app_view(stack, "worker")
    assert view["url"] == f"redis://:set-by-the-operator-in-dot-env@127.0.0.1:{stack.port}/0"
    assert view["pong"]


def test_the_healthcheck_fails_when_the_password_is_wrong(local_stack):
    stack = local_stack({})
    (stack.appdata / "redis_password").write_text("not-the-password")

    assert stack.healthcheck().returncode != 0


def test_redis_refuses_to_start_without_a_password(tmp_path):
    """No file and no REDIS_PASSWORD (the secrets step failed): redis exits, never runs open."""
    stack = LocalStack(tmp_path, {})
    command = [stack.remap("redis", interpolate(word, {})) for word in SERVICES["redis"]["command"]]

    result = subprocess.run(command, env=stack.env("redis"), capture_output=True, timeout=30)

    assert result.returncode != 0
    with pytest.raises(OSError):
        unauthenticated_ping(stack.port)


def test_the_password_never_appears_on_a_command_line():
    assert "requirepass" not in " ".join(SERVICES["redis"]["command"][:-1])
    script = SERVICES["redis"]["command"][-1]
    assert re.search(r"redis-server - <<", script), "the password goes in on stdin"
    assert "--requirepass" not in script


def test_settings_put_redis_password_into_redis_url_quoted_and_refuse_a_clash():
    assert redis_url_with_password("redis://h:1/2", "a/b@c") == "redis://:a%2Fb%40c@h:1/2"
    assert redis_url_with_password("redis://default@h:1/2", "pw") == "redis://default:pw@h:1/2"
    assert redis_url_with_password("redis://:pw@h:1/2", "pw") == "redis://:pw@h:1/2"
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL carries a password other than REDIS_PASSWORD"):
        redis_url_with_password("redis://:one@h:1/2", "two")
