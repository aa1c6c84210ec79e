"""A real SMTP server for tests and benchmarks: aiosmtpd (on uvloop) on 127.0.0.1, an ephemeral port.

It records every message it accepts (its bytes, envelope and arrival time; parsed
when a test first reads ``message``) and can be told to refuse: a reply code for
the next N messages, or for every one.
"""

import asyncio
import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cached_property

import uvloop
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP


@dataclass
class Received:
    content: bytes  # the message as the client sent it
    rcpt_tos: list[str]
    at: float  # time.time() when the server accepted it
    peer: tuple  # the client's (host, port): one per SMTP session

    @cached_property
    def message(self) -> EmailMessage:
        # Parsed on first read, not on arrival: parsing in the server's event loop made it the
        # bottleneck of a benchmark of thousands of emails (bench/crashday.py).
        return email.message_from_bytes(self.content, policy=email.policy.default)

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
    # The counts ``wait_for`` callers wait for: they are woken once the first is reached, not at
    # every message (at thousands a second the wake-ups cost the server's thread its share).
    awaited: list[int] = field(default_factory=list)

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
        received = Received(envelope.content, list(envelope.rcpt_tos), time.time(), tuple(session.peer))
        with self.arrived:
            self.received.append(received)
            if self.awaited and len(self.received) >= min(self.awaited):
                self.arrived.notify_all()
        return "250 Message accepted for delivery"


# A plain "<local@domain>" (dot-atoms of RFC 5322 atext), what MAIL and RCPT carry nearly always.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ANGLE_ADDRESS = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*)>")


class _SMTP(SMTP):
    """aiosmtpd's server, made cheaper where a benchmark of thousands of emails a second pays.

    It shares two cores with the service under test (bench/crashday.py), so what
    it spends per message is taken from the service's figures.

    - DATA: aiosmtpd reads it line by line in Python, which alone took most of a
      core. This reads up to each ".<CR><LF>" (the end-of-data line ends with one)
      and keeps the rules of the original: the end is <CR><LF>.<CR><LF>, leading
      dots are unstuffed, a line over the line length limit is refused with 500,
      data over the size limit with 552, and nothing after the end of data is read.
    - MAIL and RCPT: aiosmtpd parses each address with the ``email`` package's
      header parser (a quarter of its CPU per message). A plain ``<local@domain>``
      is taken as it is; anything else goes to that parser as before.
    """

    def _getaddr(self, arg: str):
        plain = _PLAIN_ANGLE_ADDRESS.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        address = plain[1]
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, arg[plain.end() :].lstrip(" \t")  # as the parser leaves it: no leading space

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        while data != b".\r\n" and not data.endswith(b"\r\n.\r\n"):
            try:
                data += await self._reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as exc:  # no end within the reader's limit: take what it scanned
                data += await self._reader.readexactly(exc.consumed)
            except asyncio.CancelledError:  # the connection was closed
                self._writer.close()
                raise
        content = bytes(data[:-3])  # every line with its <CR><LF>, without the final "."
        refusal = None
        if max(map(len, content.split(b"\r\n"))) + 2 > self.line_length_limit:
            refusal = "500 Line too long (see RFC5321 4.5.3.1.6)"
        elif self.data_size_limit and len(content) > self.data_size_limit:
            refusal = "552 Error: Too much mail data"
        if refusal:
            self._set_post_data_state()
            await self.push(refusal)
            return
        content = content.replace(b"\r\n.", b"\r\n")
        content = content[1:] if content.startswith(b".") else content
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class _EphemeralPortController(Controller):
    def factory(self):
        return _SMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        # Bound to port 0: learn the real port before the readiness probe connects.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class MailServer:
    """``with MailServer() as mail: ...``; ``mail.host``, ``mail.port``, ``mail.received``."""

    def __init__(self):
        self.handler = _Handler()
        # uvloop (libuv) under aiosmtpd: the same server in about a seventh less CPU per message.
        self.controller = _EphemeralPortController(
            self.handler, hostname="127.0.0.1", port=0, ready_timeout=10, loop=uvloop.new_event_loop()
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
            self.handler.awaited.append(count)
            try:
                while len(self.handler.received) < count:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError(
                            f"expected {count} emails within {timeout} s, got {len(self.handler.received)}"
                        )
                    self.handler.arrived.wait(left)
            finally:
                self.handler.awaited.remove(count)
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
