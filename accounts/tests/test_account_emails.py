"""Account emails (accounts.tasks.send_account_email): the welcome and the "already registered" notice."""

import smtplib

import pytest

from accounts.tasks import send_account_email_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail(mail, settings):
    settings.SITE_URL = "https://alerts.example.com"
    return mail


def test_welcome_email_reaches_the_new_user_over_smtp(mail, alice):
    assert send_account_email_task(alice.pk, "welcome") == "sent"

    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["alice@example.com"]
    assert received.subject == "Your pricealert account is ready"
    body = received.message.get_content()
    assert "An account was created for alice@example.com" in body
    assert "https://alerts.example.com/token" in body


def test_already_registered_notice_tells_the_owner_nothing_changed(mail, alice):
    assert send_account_email_task(alice.pk, "already_registered") == "sent"

    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["alice@example.com"]
    assert received.subject == "Someone tried to register with your pricealert address"
    body = received.message.get_content()
    assert "already has an account" in body
    assert "was not told" in body


def test_an_account_deleted_before_sending_gets_nothing(mail, alice):
    alice_id = alice.pk
    alice.delete()
    assert send_account_email_task(alice_id, "welcome") == "skipped"
    assert mail.received == []


def test_a_refusing_smtp_server_raises_for_celery_to_retry(mail, alice):
    mail.refuse(always=True)
    with pytest.raises(smtplib.SMTPException):
        send_account_email_task(alice.pk, "welcome")
    assert smtplib.SMTPException in send_account_email_task.autoretry_for


def test_an_unknown_kind_is_refused(alice):
    with pytest.raises(ValueError, match="Unknown account email"):
        send_account_email_task(alice.pk, "surprise")
