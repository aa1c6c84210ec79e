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
