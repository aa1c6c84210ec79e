"""Alert emails, flattened the cheaper way, are the bytes Django writes (alerts.delivery.mime)."""

import email
import email.policy
import random
import string
from decimal import Decimal
from email.policy import compat32

import pytest
from django.core.mail import EmailMultiAlternatives

from alerts.delivery import mime
from alerts.delivery.messages import render_alert_email

CRLF = "\r\n"


def fold(policy, name: str, value: str) -> bytes | str:
    try:
        return policy.clone(linesep=CRLF).fold_binary(name, value)
    except Exception as exc:  # a value compat32 refuses must be refused alike
        return type(exc).__name__


def random_value(rng: random.Random) -> str:
    alphabet = string.printable + "é—\u00a0"  # tabs, newlines, non-ASCII: the slow path's cases
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))


def random_words(rng: random.Random) -> str:
    words = [
        "".join(rng.choice(string.punctuation + string.ascii_letters) for _ in range(rng.randint(1, 12)))
    ]
    words += [w for w in ("=?utf-8?q?x?=", "<a@b>", "a,b", '"q"') if rng.random() < 0.3]
    return " ".join(words * rng.randint(1, 8))


@pytest.mark.parametrize("seed", range(5))
def test_every_header_folds_as_compat32_folds_it(seed):
    rng = random.Random(seed)
    quick = 0
    for _ in range(400):
        name = rng.choice(["Subject", "To", "From", "Message-ID", "X-A-Rather-Long-Header-Name"])
        value = random_words(rng) if rng.random() < 0.6 else random_value(rng)
        if "\n" in value or "\r" in value:
            continue  # Django refuses header values with line breaks before they get here
        assert fold(mime.QUICK_FOLD, name, value) == fold(compat32, name, value), (name, value)
        quick += bool(mime._UNFOLDED.fullmatch(value)) and len(name) + 2 + len(value) <= 78
    assert quick >= 50  # the quick path was compared, not only the fallback


def test_the_quick_path_is_taken_only_for_what_folds_to_itself():
    assert mime._UNFOLDED.fullmatch("BTCUSDT rose to 70000 (target above 69000)")
    for value in ("two  spaces", " leading", "trailing ", "tab\there", "caf\u00e9", ""):
        assert not mime._UNFOLDED.fullmatch(value), value


def flattened(message: EmailMultiAlternatives, *, boundary: str | None = None) -> bytes:
    built = message.message()
    if boundary is not None:
        built.set_boundary(boundary)
    return built.as_bytes(linesep=CRLF)


def alert_email(cls, rendered, **headers):
    message = cls(
        subject=rendered.subject,
        body=rendered.text,
        from_email="pricealert <alerts@example.com>",
        to=["alice@example.com"],
        headers={"Message-ID": "<pricealert.notification.7@localhost>", **headers},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "sell half", "caf\u00e9 \u2014 " * 40, "x" * 1200])
def test_an_alert_email_is_byte_for_byte_what_django_writes(make_triggered_alert, alice, note):
    alert = make_triggered_alert(alice)
    alert.note = note
    rendered = render_alert_email(alert, price=Decimal("70123.45"), at=alert.triggered_at)
    ours = alert_email(mime.AlertEmail, rendered, Date="Mon, 30 Nov 2026 15:00:00 -0000")
    ours_bytes = flattened(ours)
    boundary = email.message_from_bytes(ours_bytes).get_boundary()
    assert boundary.startswith("=_")
    django = alert_email(EmailMultiAlternatives, rendered, Date="Mon, 30 Nov 2026 15:00:00 -0000")
    assert ours_bytes == flattened(django, boundary=boundary)


@pytest.mark.django_db
def test_a_boundary_found_in_a_part_is_left_for_the_generator_to_draw(
    make_triggered_alert, alice, monkeypatch
):
    alert = make_triggered_alert(alice)
    alert.note = "=_" + "ab" * 12  # the boundary about to be drawn, typed into a note
    monkeypatch.setattr(mime.secrets, "token_hex", lambda n: "ab" * n)
    rendered = render_alert_email(alert, price=Decimal("1"), at=alert.triggered_at)
    parsed = email.message_from_bytes(
        flattened(alert_email(mime.AlertEmail, rendered)), policy=email.policy.default
    )
    assert parsed.get_boundary() != alert.note
    parts = [part.get_content_type() for part in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert alert.note in parsed.get_body(("plain",)).get_content()


def random_text(rng: random.Random) -> str:
    """A body: lines of any line end, some non-ASCII, some empty; now and then one over 998 bytes."""
    lengths = [0, 5, 60, 200] + ([999, 1100] if rng.random() < 0.2 else [])
    pieces = []
    for _ in range(rng.randint(0, 12)):
        alphabet = rng.choice([string.ascii_letters + " .,<>&", string.printable, "abc é—€\u2028"])
        pieces.append("".join(rng.choice(alphabet) for _ in range(rng.choice(lengths))))
        pieces.append(rng.choice(["\n", "\r\n", "\r", "\n\n", ""]))
    return "".join(pieces)


def random_header(rng: random.Random) -> str:
    if rng.random() < 0.5:  # what alert emails carry: short words
        return " ".join(
            rng.choice(["BTCUSDT", "rose", "to", "70,123.45", "(your", "alert:", "up", "5%)"])
            for _ in range(rng.randint(1, 9))
        )
    return random_words(rng)[: rng.choice([20, 60, 90])] if rng.random() < 0.8 else random_value(rng)


def two_ways(rng: random.Random, monkeypatch) -> tuple[mime.AlertEmail, EmailMultiAlternatives]:
    """An AlertEmail of random content and Django's own message of the same fields and headers."""
    date = "Tue, 01 Dec 2026 00:00:00 -0000"
    fields = {
        "subject": random_header(rng),
        "body": random_text(rng) if rng.random() < 0.95 else "",
        "from_email": rng.choice(
            ["pricealert <alerts@example.com>", "alerts@example.com", random_header(rng)]
        ),
        "to": [
            rng.choice(
                ["alice@example.com", "al.ice+x@example.com", "b\u00e9@example.com", random_header(rng)]
            )
        ],
    }
    headers = {"Message-ID": f"<pricealert.notification.{rng.randint(1, 10**9)}@localhost>"}
    if rng.random() < 0.2:
        headers["X-Extra"] = random_header(rng)
    explicit_date = rng.random() < 0.3
    monkeypatch.setattr(mime, "formatdate", lambda localtime=False: date)
    ours = mime.AlertEmail(**fields, headers={**headers, "Date": date} if explicit_date else headers)
    # Django writes its own Date before the extra headers, a given one among them.
    django = EmailMultiAlternatives(
        **fields, headers={**headers, "Date": date} if explicit_date else {"Date": date, **headers}
    )
    if rng.random() < 0.85:
        html = random_text(rng)
        ours.attach_alternative(html, "text/html")
        django.attach_alternative(html, "text/html")
    return ours, django


def django_bytes(django: EmailMultiAlternatives, boundary: str | None, linesep: str) -> bytes | str:
    try:
        built = django.message()
        if boundary is not None and built.is_multipart():
            built.set_boundary(boundary)
        return built.as_bytes(linesep=linesep)
    except Exception as exc:  # what Django refuses, ours must refuse alike
        return type(exc).__name__


@pytest.mark.parametrize("seed", range(6))
def test_an_alert_email_written_directly_is_the_bytes_django_writes(seed, monkeypatch, settings):
    settings.EMAIL_USE_LOCALTIME = False
    rng = random.Random(seed)
    written = 0
    for _ in range(150):
        ours, django = two_ways(rng, monkeypatch)
        linesep = rng.choice(["\r\n", "\n"])
        try:
            message = ours.message()
            ours_bytes = message.as_bytes(linesep=linesep)
        except Exception as exc:
            message, ours_bytes = None, type(exc).__name__
        written += isinstance(message, mime.WrittenMessage)
        boundary = message.get_boundary() if message is not None and message.is_multipart() else None
        assert ours_bytes == django_bytes(django, boundary, linesep), (ours.subject, ours.body[:200])
    assert written >= 40  # the direct way was compared, not only Django's


def test_what_the_direct_way_does_not_write_is_left_to_django():
    def alert_email_of(**changes):
        fields = {
            "subject": "BTCUSDT rose to 70,000",
            "body": "text\n",
            "from_email": "alerts@example.com",
            "to": ["alice@example.com"],
            "headers": {"Message-ID": "<m@localhost>"},
        }
        message = mime.AlertEmail(**{**fields, **changes})
        message.attach_alternative("<p>html</p>", "text/html")
        return message.message()

    assert isinstance(alert_email_of(), mime.WrittenMessage)
    for changes in (
        {"subject": "caf\u00e9"},
        {"subject": "x " * 40},
        {"to": ["a@example.com", "b@example.com"]},
        {"cc": ["c@example.com"]},
        {"body": "x" * 999},
        {"headers": {}},  # Django draws the Message-ID
    ):
        assert not isinstance(alert_email_of(**changes), mime.WrittenMessage), changes


def test_a_written_message_answers_everything_else_as_django_built_it():
    message = mime.AlertEmail(
        subject="BTCUSDT rose to 70,000",
        body="caf\u00e9\n",
        from_email="alerts@example.com",
        to=["alice@example.com"],
        headers={"Message-ID": "<m@localhost>"},
    )
    message.attach_alternative("<p>html</p>", "text/html")
    written = message.message()
    assert isinstance(written, mime.WrittenMessage)
    flat = written.as_bytes()
    assert written["Subject"] == "BTCUSDT rose to 70,000"
    assert [part.get_content_type() for part in written.walk()][1:] == ["text/plain", "text/html"]
    # The message built on demand has the written one's Date and boundary: the same bytes.
    assert written.message.as_bytes() == flat
    parsed = email.message_from_bytes(flat, policy=email.policy.default)
    assert parsed.get_body(("plain",)).get_content() == "caf\u00e9\n"
