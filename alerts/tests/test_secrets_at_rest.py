"""Webhook secrets and Apprise URLs: encrypted in the table, masked in answers, rotatable, never in errors."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from alerts.delivery.redact import redact
from alerts.encryption import _keyring
from alerts.models import Channel

pytestmark = pytest.mark.django_db

TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321"
TELEGRAM_TOKEN = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def raw_row(channel_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM alerts_channel WHERE id = %s", [channel_id])
        return cursor.fetchone()


@pytest.fixture(autouse=True)
def fresh_keyring():
    _keyring.cache_clear()
    yield
    _keyring.cache_clear()


def test_the_raw_row_holds_neither_the_url_nor_the_secret(alice_client, allow_local_delivery):
    hook = alice_client.post(
        "/channels/", {"kind": "webhook", "name": "bot", "url": "https://hooks.example.com/p?key=topsecret"}
    ).json()
    app = alice_client.post("/channels/", {"kind": "apprise", "name": "tg", "url": TELEGRAM}).json()

    url, secret = raw_row(hook["id"])
    assert "topsecret" not in url and "hooks.example.com" not in url
    assert hook["secret"] and hook["secret"] not in secret
    app_url, _ = raw_row(app["id"])
    assert TELEGRAM_TOKEN not in app_url
    # Reading through the model gives the plain values back (what delivery uses).
    assert Channel.objects.get(pk=hook["id"]).secret == hook["secret"]
    assert Channel.objects.get(pk=app["id"]).url == TELEGRAM


def test_answers_mask_apprise_urls_and_never_repeat_a_webhook_secret(alice_client):
    app = alice_client.post("/channels/", {"kind": "apprise", "name": "tg", "url": TELEGRAM})
    assert app.status_code == 201, app.json()
    hook = alice_client.post(
        "/channels/", {"kind": "webhook", "name": "b", "url": "https://hooks.example.com/x"}
    )
    secret = hook.json()["secret"]
    for body in (app.json(), alice_client.get(f"/channels/{app.json()['id']}").json()):
        assert TELEGRAM_TOKEN not in str(body)
        assert body["url"].startswith("tgram://") and "..." in body["url"]
    listed = alice_client.get("/channels/").json()
    assert TELEGRAM_TOKEN not in str(listed) and secret not in str(listed)
    assert "secret" not in alice_client.get(f"/channels/{hook.json()['id']}").json()


def test_rotate_secret_returns_a_new_one_once_and_signs_with_it(alice_client, bob_client):
    hook = alice_client.post(
        "/channels/", {"kind": "webhook", "name": "b", "url": "https://hooks.example.com/x"}
    ).json()

    assert bob_client.post(f"/channels/{hook['id']}/rotate-secret").status_code == 404
    rotated = alice_client.post(f"/channels/{hook['id']}/rotate-secret")

    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert len(new) == 64 and new != hook["secret"]
    assert Channel.objects.get(pk=hook["id"]).secret == new
    assert new not in raw_row(hook["id"])[1]
    email = alice_client.get("/channels/").json()[0]
    response = alice_client.post(f"/channels/{email['id']}/rotate-secret")
    assert (response.status_code, response.json()["detail"]) == (
        409,
        "Only a webhook channel has a signing secret.",
    )


def test_adding_a_key_keeps_old_rows_readable_and_rotation_moves_them(alice, settings):
    old_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old_key
    channel = Channel.objects.create(user=alice, kind="apprise", name="tg", url=TELEGRAM)
    stored_with_old = raw_row(channel.pk)[0]

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new_key},{old_key}"
    assert Channel.objects.get(pk=channel.pk).url == TELEGRAM  # old rows still readable

    out = io.StringIO()
    call_command("rotate_field_encryption", stdout=out)
    assert "Re-encrypted 2 channels" in out.getvalue()  # her email channel too
    assert raw_row(channel.pk)[0] != stored_with_old
    settings.FIELD_ENCRYPTION_KEY = new_key  # the old key dropped
    assert Channel.objects.get(pk=channel.pk).url == TELEGRAM


def test_a_missing_key_is_a_clear_error_not_garbage(alice, settings):
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    channel = Channel.objects.create(user=alice, kind="apprise", name="tg", url=TELEGRAM)
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        Channel.objects.get(pk=channel.pk)


def test_the_migration_encrypts_rows_stored_in_plain_text(alice):
    from importlib import import_module

    channel = Channel.objects.create(user=alice, kind="apprise", name="tg", url=TELEGRAM)
    with connection.cursor() as cursor:  # a row as an older version stored it
        cursor.execute("UPDATE alerts_channel SET url = %s WHERE id = %s", [TELEGRAM, channel.pk])
    assert Channel.objects.get(pk=channel.pk).url == TELEGRAM  # still readable before migrating

    migration = import_module("alerts.migrations.0011_channel_secrets_encrypted")

    class Editor:
        connection = connection

    migration.encrypt_existing_rows(None, Editor())
    assert TELEGRAM_TOKEN not in raw_row(channel.pk)[0]
    assert Channel.objects.get(pk=channel.pk).url == TELEGRAM


@pytest.mark.parametrize(
    "text",
    [
        f"ConnectionError('{TELEGRAM}')",
        "HTTPSConnectionPool(host='hooks.example.com', port=443): Max retries exceeded with url: "
        "/p?key=topsecret",
        "POST https://user:hunter2@hooks.example.com/p?key=topsecret failed",
    ],
)
def test_recorded_errors_never_hold_url_credentials(text):
    cleaned = redact(text, TELEGRAM, "https://hooks.example.com/p?key=topsecret")
    for secret in (TELEGRAM_TOKEN, "topsecret", "hunter2"):
        assert secret not in cleaned


def test_a_failed_delivery_records_no_credentials(
    alice, make_notification, allow_local_delivery, closed_port
):
    from alerts.delivery.send import deliver

    url = f"http://user:hunter2@127.0.0.1:{closed_port}/hook?key=topsecret"
    channel = Channel.objects.create(user=alice, kind="webhook", name="b", url=url, secret="s" * 64)
    notification = make_notification(alice, channel="webhook", via=channel)
    deliver(notification.pk, None)
    notification.refresh_from_db()
    assert notification.last_error
    for secret in ("topsecret", "hunter2"):
        assert secret not in notification.last_error
