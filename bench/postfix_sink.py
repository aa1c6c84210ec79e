"""Postfix's ``smtp-sink`` as a benchmark's SMTP server: the same answers as the tests' server, in C.

A crash-day benchmark runs the whole stack and its SMTP server on the same two
cores, and the tests' server (aiosmtpd, Python: tests/support/smtp.py) takes
about a quarter of a core for a thousand emails a second: CPU the service under
test does not get, where a real deployment's mail relay runs elsewhere. Postfix's
``smtp-sink`` is the SMTP server Postfix ships for testing and benchmarking mail
clients: it accepts every message and, with ``-d``, writes each transaction to
a file of its own, which is what this reads back (the envelope's recipient,
the message, and the file's last write as its arrival time).

Debian's ``postfix`` package installs it (``apt-get install postfix``, answering
"No configuration"; nothing of Postfix needs to run). Same interface as
``tests.support.smtp.MailServer`` where bench/crashday.py uses it: ``host``,
``port``, ``start``, ``stop``, ``wait_for`` and ``received``.
"""

import email
import email.policy
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

BINARY = "/usr/sbin/smtp-sink"
# smtp-sink's dump: its own lines (client, HELO, MAIL and RCPT arguments), then the message.
_SINK_HEADERS = (
    *(b"X-Client-Addr: ", b"X-Client-Proto: ", b"X-Helo-Args: "),
    *(b"X-Mail-Args: ", b"X-Rcpt-Args: "),
)
_RCPT = b"X-Rcpt-Args: <"


def available() -> bool:
    return os.access(BINARY, os.X_OK)


@dataclass
class Dumped:
    """One transaction smtp-sink wrote: what bench/crashday.py reads of ``tests.support.smtp.Received``."""

    content: bytes
    rcpt_tos: list[str]
    at: float

    @cached_property
    def message(self):
        return email.message_from_bytes(self.content, policy=email.policy.default)


class PostfixSink:
    def __init__(self):
        self.host = "127.0.0.1"
        self.port = 0
        self._dir: Path | None = None
        self._process: subprocess.Popen | None = None

    def start(self) -> "PostfixSink":
        if not available():
            raise RuntimeError(f"{BINARY} is missing: apt-get install postfix (choose 'No configuration')")
        # In memory where there is a tmpfs: a file per message on disk cost smtp-sink 0.77 CPU-ms per
        # message here (0.09 on /dev/shm), more than the Python server it replaces.
        memory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self._dir = Path(tempfile.mkdtemp(prefix="smtp-sink-", dir=memory))
        self._dir.chmod(0o777)  # smtp-sink writes as the unprivileged user it switches to
        with socket.socket() as probe:  # a free port (smtp-sink cannot be asked for an ephemeral one)
            probe.bind((self.host, 0))
            self.port = probe.getsockname()[1]
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self._process = subprocess.Popen(
            [BINARY, *user, "-d", f"{self._dir}/m.", f"{self.host}:{self.port}", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise RuntimeError("smtp-sink did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _count(self) -> int:
        return len(os.listdir(self._dir))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Dumped]:
        deadline = time.monotonic() + timeout
        while self._count() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails within {timeout} s, got {self._count()}")
            time.sleep(0.05)
        return self.received

    @property
    def received(self) -> list[Dumped]:
        dumped = []
        for path in self._dir.iterdir():
            lines = path.read_bytes().split(b"\n")
            ours = 0  # smtp-sink's own lines come first, then the message (line ends as "\n")
            while ours < len(lines) and lines[ours].startswith(_SINK_HEADERS):
                ours += 1
            recipients = [
                line[len(_RCPT) :].split(b">", 1)[0].decode()
                for line in lines[:ours]
                if line.startswith(_RCPT)
            ]
            dumped.append(Dumped(b"\n".join(lines[ours:]), recipients, path.stat().st_mtime))
        return dumped
