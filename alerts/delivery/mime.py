"""The email a notification sends: Django's message, its bytes written the cheap way when its shape allows.

On a crash day a delivery process builds thousands of messages, and Python's
``email`` package was the largest share of its CPU per email: building Django's
tree of MIME objects (every header and parameter goes through the package's
parsing and folding machinery) and flattening it again (profiled:
bench/delivery_cpu.py, docs/BENCHMARKS.md). Our alert emails have one shape: a
plain text part and an HTML part (a channel test: text alone), UTF-8, a few
short ASCII headers, no attachments. For that shape the bytes Django's
generator writes follow from a handful of rules, so ``AlertEmail`` writes them
directly (``_written``) and builds Django's message only if something asks for
more than its bytes:

- Headers: printable ASCII words, single spaces, under the folding limit (what
  Django and ``compat32`` leave as they are); anything else (non-ASCII, long,
  a line break Django refuses) takes Django's path.
- Bodies: ``7bit`` when ASCII, ``8bit`` UTF-8 otherwise; a line over 998 bytes
  (Django switches to quoted-printable) takes Django's path. Line ends are
  normalised as the generator does (``\\r\\n``, ``\\r`` and ``\\n`` alike).
- The boundary is random and drawn up front, never one that occurs in a part.

Tests compare the bytes with Django's for random texts, headers and notes
(alerts/tests/test_mime.py), and check that whatever is outside the shape goes
Django's way. Every ``EMAIL_BACKEND`` keeps working: this is Django's
``EmailMultiAlternatives``; a backend that flattens ``message()`` (Django's SMTP,
console and file backends) gets the same bytes, one that reads other things from
it gets Django's message, one that reads the fields (django-anymail) never sees
the difference.

``QuickFoldCompat32`` is the policy Django's path flattens with: a header that
folds to itself is written without the folding machinery.
"""

import re
import secrets
from email.policy import Compat32
from email.utils import formatdate

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

# Printable ASCII words separated by single spaces: what compat32 folds to itself when short.
_UNFOLDED = re.compile(r"[!-~]+(?: [!-~]+)*")
# The generator's line ends, every one of them written as the flattening's line separator.
_LINE_END = re.compile(r"\r\n|\r|\n")
# A header name: printable ASCII but the colon.
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# A header line at most this long is left alone by email.header.Header (Django's Subject) and compat32.
_HEADER_LINE_MAX = 76
# RFC 5322's line limit: Django encodes a body with a longer line as quoted-printable.
_BODY_LINE_MAX = 998
# Header names Django's message() takes from its own fields, not from ``extra_headers``.
_FIELD_HEADERS = {"from", "to", "cc", "reply-to"}


class QuickFoldCompat32(Compat32):
    """compat32, writing a short header of printable ASCII words without the folding machinery."""

    def fold_binary(self, name: str, value) -> bytes:
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _UNFOLDED.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


QUICK_FOLD = QuickFoldCompat32()


class AlertEmail(EmailMultiAlternatives):
    """Django's text-and-HTML email; ``message()`` is the same email, written the cheap way when it can be."""

    def message(self):
        boundary = self._boundary()
        date = formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
        written = _written(self, boundary, date)
        if written is None:
            return self._built(boundary, date)
        return WrittenMessage(written, lambda: self._built(boundary, date))

    def _boundary(self) -> str | None:
        boundary = f"=_{secrets.token_hex(12)}"
        texts = [self.body, *(content for content, _ in self.alternatives)]
        # Never in a part (a note may say anything): else the generator draws one as before.
        if any(boundary in text for text in texts if isinstance(text, str)):
            return None
        return boundary

    def _built(self, boundary: str | None, date: str):
        """Django's message, dated ``date`` unless a Date header was given (as its own message() does)."""
        extra_headers = self.extra_headers
        if "date" not in (name.lower() for name in extra_headers):
            # In front: message() writes its Date before the other extra headers.
            self.extra_headers = {"Date": date, **extra_headers}
        try:
            message = super().message()
        finally:
            self.extra_headers = extra_headers
        message.policy = QUICK_FOLD
        if boundary is not None and message.is_multipart():
            message.set_boundary(boundary)
        return message


class WrittenMessage:
    """What ``AlertEmail.message()`` returns when it wrote the bytes itself.

    ``as_bytes()`` (all Django's backends that send a message's bytes call only
    that) gives them; anything else is answered by Django's message, built on
    first use with the same Date and boundary, so both agree.
    """

    def __init__(self, written: str, build):
        self._written = written
        self._build = build
        self._message = None

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n", policy=None) -> bytes:
        if unixfrom or policy is not None:
            return self.message.as_bytes(unixfrom, linesep=linesep, policy=policy)
        return self._written.replace("\n", linesep).encode()

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    @property
    def message(self):
        if self._message is None:
            self._message = self._build()
        return self._message

    def __getattr__(self, name: str):
        return getattr(self.message, name)

    def __getitem__(self, name: str):
        return self.message[name]

    def __contains__(self, name: str) -> bool:
        return name in self.message

    def __iter__(self):
        return iter(self.message)

    def __len__(self) -> int:
        return len(self.message)

    def __str__(self) -> str:
        return str(self.message)


def _written(email: EmailMultiAlternatives, boundary: str | None, date: str) -> str | None:
    """What Django's generator writes for this email, every line ended by "\\n", or None if its shape is
    not the simple one (then Django writes it)."""
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if (
        boundary is None
        or encoding != "utf-8"
        or email.attachments
        or email.cc
        or email.reply_to
        or len(email.to) != 1
        or email.content_subtype != "plain"
    ):
        return None
    headers = _headers(email, date)
    if headers is None:
        return None
    if not email.alternatives:
        part = _text_part("plain", email.body)
        return None if part is None else part[0] + headers + "\n" + part[1]
    if (
        not email.body
        or email.alternative_subtype != "alternative"
        or [mimetype for _, mimetype in email.alternatives] != ["text/html"]
    ):
        return None
    text, html = _text_part("plain", email.body), _text_part("html", email.alternatives[0][0])
    if text is None or html is None:
        return None
    return (
        f'Content-Type: multipart/alternative; boundary="{boundary}"\nMIME-Version: 1.0\n{headers}\n'
        f"--{boundary}\n{text[0]}\n{text[1]}\n--{boundary}\n{html[0]}\n{html[1]}\n--{boundary}--\n"
    )


def _text_part(subtype: str, text) -> tuple[str, str] | None:
    """(headers, payload) of a UTF-8 text part, or None if Django would encode it otherwise."""
    if not isinstance(text, str):
        return None
    try:
        encoded = text.encode()
    except UnicodeEncodeError:  # lone surrogates
        return None
    if len(encoded) > _BODY_LINE_MAX and any(
        len(line.encode()) > _BODY_LINE_MAX
        for line in text.splitlines()  # Django's test for qp
    ):
        return None
    transfer_encoding = "7bit" if encoded.isascii() else "8bit"
    headers = (
        f'Content-Type: text/{subtype}; charset="utf-8"\nMIME-Version: 1.0\n'
        f"Content-Transfer-Encoding: {transfer_encoding}\n"
    )
    # The generator ends every line as the flattening asks, whichever end it had.
    return headers, _LINE_END.sub("\n", text)


def _headers(email: EmailMultiAlternatives, date: str) -> str | None:
    """The headers Django's message() sets after the content type, in its order, or None if one of them
    is not short printable ASCII (Django would encode or fold it, or refuse it)."""
    extra = email.extra_headers
    headers = [
        ("Subject", email.subject),
        ("From", extra.get("From", email.from_email)),
        ("To", extra.get("To", email.to[0])),
    ]
    names = {name.lower() for name in extra}
    if "date" not in names:
        headers.append(("Date", date))
    if "message-id" not in names:
        return None  # Django draws one with make_msgid: its path, not ours
    headers += [(name, value) for name, value in extra.items() if name.lower() not in _FIELD_HEADERS]
    lines = []
    for name, value in headers:
        if not (
            isinstance(value, str)
            and _UNFOLDED.fullmatch(value)
            and _HEADER_NAME.fullmatch(name)
            and len(name) + 2 + len(value) <= _HEADER_LINE_MAX
        ):
            return None
        lines.append(f"{name}: {value}\n")
    return "".join(lines)
