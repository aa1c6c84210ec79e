"""A real SMTP server for tests and benchmarks: aiosmtpd on 127.0.0.1, an ephemeral port.

It records every message it accepts (parsed, with its arrival time) and can be
told to refuse: a reply code for the next N messages, or for every one.
"""

import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    message: EmailMessage
    rcpt_tos: list[str]
    at: float  # time.time() when the server accepted it
    peer: tuple  # the client's (host, port): one per SMTP session

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return part.get_content()
        raise KeyError(content_type)


@dataclass
class _Handler:
    refuse_with: str = "451 4.3.0 Try again later"
    refuse_next: int = 0
    refuse_all: bool = False
    refuse_at: str = "DATA"  # or "RCPT"
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self):
        self.arrived = threading.Condition(self.lock)

    def _refusing(self, stage: str) -> bool:
        with self.lock:
            if stage != self.refuse_at or not (self.refuse_all or self.refuse_next > 0):
                return False
            self.refuse_next = max(0, self.refuse_next - 1)
            self.refused += 1
            return True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._refusing("RCPT"):
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self._refusing("DATA"):
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.received.append(Received(message, list(envelope.rcpt_tos), time.time(), tuple(session.peer)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


class _EphemeralPortController(Controller):
    def _trigger_server(self):
        # Bound to port 0: learn the real port before the readiness probe connects.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """``with MailServer() as mail: ...``; ``mail.host``, ``mail.port``, ``mail.received``."""

    def __init__(self):
        self.handler = _Handler()
        self.controller = _EphemeralPortController(
            self.handler, hostname="127.0.0.1", port=0, ready_timeout=10
        )
        self.host = "127.0.0.1"
        self.port = 0

    def start(self) -> "MailServer":
        self.controller.start()
        self.port = self.controller.port
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "MailServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def refused(self) -> int:
        return self.handler.refused

    def refuse(
        self,
        *,
        times: int = 0,
        always: bool = False,
        reply: str = "451 4.3.0 Try again later",
        stage: str = "DATA",
    ) -> None:
        with self.handler.lock:
            self.handler.refuse_next, self.handler.refuse_all = times, always
            self.handler.refuse_with, self.handler.refuse_at = reply, stage

    def accept(self) -> None:
        self.refuse(times=0, always=False)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The received messages once there are at least ``count`` (or AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.handler.arrived:
            while len(self.handler.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} emails within {timeout} s, got {len(self.handler.received)}"
                    )
                self.handler.arrived.wait(left)
            return list(self.handler.received)

    def smtp_settings(self) -> dict:
        """Django settings that make send_mail talk to this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 5,
        }
