"""/channels/: every user's email channel, webhook and Apprise CRUD, owner scoping."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from alerts.models import Channel

# Their webhook and Apprise servers listen on 127.0.0.1: the operator allow-list lets them in.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_local_delivery")]


def email_channel(user):
    return Channel.objects.get(user=user, kind="email")


class TestEveryUserHasAnEmailChannel:
    def test_registration_gives_one_listed_with_the_account_address(self, anon_client, make_user):
        user = make_user("carol@example.com")
        assert Channel.objects.filter(user=user).count() == 1
        from conftest import client_for

        listed = client_for(user).get("/channels/").json()
        assert [(c["kind"], c["address"], c["enabled"], c["url"]) for c in listed] == [
            ("email", "carol@example.com", True, "")
        ]

    def test_the_api_registration_path_makes_one_too(self, anon_client):
        response = anon_client.post(
            "/register",
            {"email": "dave@example.com", "password": "correct horse battery staple"},
            format="json",
        )
        assert response.status_code in (200, 201), response.content
        assert Channel.objects.filter(user__email="dave@example.com", kind="email").count() == 1

    def test_it_can_be_disabled_and_enabled_but_not_deleted(self, alice, alice_client):
        channel = email_channel(alice)
        body = alice_client.patch(f"/channels/{channel.pk}", {"enabled": False}, format="json").json()
        assert body["enabled"] is False
        refused = alice_client.delete(f"/channels/{channel.pk}")
        assert refused.status_code == 409
        assert "disable it instead" in refused.json()["detail"]
        assert alice_client.patch(f"/channels/{channel.pk}", {"enabled": True}, format="json").json()[
            "enabled"
        ]

    def test_a_second_email_channel_is_a_409_and_the_database_refuses_it_too(self, alice, alice_client):
        assert alice_client.post("/channels/", {"kind": "email"}, format="json").status_code == 409
        with pytest.raises(IntegrityError), transaction.atomic():
            Channel.objects.create(user=alice, kind="email")

    def test_the_data_migration_gives_existing_users_one(self, alice):
        from importlib import import_module

        from django.apps import apps

        migration = import_module("alerts.migrations.0004_armed_at_from_created_at_email_channels")
        Channel.objects.all().delete()
        User.objects.create_user(email="erin@example.com", password="x" * 12)
        Channel.objects.filter(user__email="erin@example.com").delete()
        migration.email_channels(apps, None)
        assert Channel.objects.filter(kind="email").count() == User.objects.count() == 2


class TestWebhookAndAppriseChannels:
    def test_a_webhook_is_created_with_its_secret_shown_once(self, alice_client):
        created = alice_client.post(
            "/channels/",
            {"kind": "webhook", "url": "https://example.com/hook", "name": "mine"},
            format="json",
        )
        assert created.status_code == 201, created.json()
        body = created.json()
        assert len(body["secret"]) == 64 and body["address"] == "https://example.com/hook"
        again = alice_client.get(f"/channels/{body['id']}").json()
        assert "secret" not in again
        assert all("secret" not in c for c in alice_client.get("/channels/").json())

    @pytest.mark.parametrize(
        "url", ["ftp://example.com/hook", "example.com/hook", "http://", "", "javascript:x"]
    )
    def test_a_webhook_url_that_is_not_http_is_a_400(self, alice_client, url):
        response = alice_client.post("/channels/", {"kind": "webhook", "url": url}, format="json")
        assert response.status_code == 400
        assert "http" in response.json()["errors"]["url"][0]

    def test_an_unknown_kind_is_a_400(self, alice_client):
        response = alice_client.post("/channels/", {"kind": "sms", "url": "x"}, format="json")
        assert response.status_code == 400

    def test_an_apprise_url_is_checked_with_apprise(self, alice_client):
        ok = alice_client.post(
            "/channels/", {"kind": "apprise", "url": "json://127.0.0.1:9/x"}, format="json"
        )
        assert ok.status_code == 201 and "secret" in ok.json() and ok.json()["secret"] == ""
        bad = alice_client.post("/channels/", {"kind": "apprise", "url": "nonsense"}, format="json")
        assert bad.status_code == 400

    def test_patching_the_url_is_checked_like_creating(self, alice, alice_client):
        hook = Channel.objects.create(user=alice, kind="webhook", url="http://127.0.0.1:9/a", secret="s")
        assert (
            alice_client.patch(f"/channels/{hook.pk}", {"url": "gopher://x"}, format="json").status_code
            == 400
        )
        body = alice_client.patch(
            f"/channels/{hook.pk}", {"url": "http://127.0.0.1:9/b"}, format="json"
        ).json()
        assert body["url"] == "http://127.0.0.1:9/b"

    def test_enabling_clears_the_reason_delivery_disabled_it(self, alice, alice_client):
        hook = Channel.objects.create(
            user=alice,
            kind="webhook",
            url="http://x.test/",
            secret="s",
            enabled=False,
            disabled_reason="HTTP 410",
        )
        assert alice_client.get(f"/channels/{hook.pk}").json()["disabled_reason"] == "HTTP 410"
        body = alice_client.patch(f"/channels/{hook.pk}", {"enabled": True}, format="json").json()
        assert (body["enabled"], body["disabled_reason"]) == (True, "")

    def test_deleting_a_webhook(self, alice, alice_client):
        hook = Channel.objects.create(user=alice, kind="webhook", url="http://x.test/", secret="s")
        assert alice_client.delete(f"/channels/{hook.pk}").status_code == 204
        assert not Channel.objects.filter(pk=hook.pk).exists()


class TestOwnerScoping:
    def test_another_users_channel_is_a_404_on_every_method(self, alice, bob_client):
        hook = Channel.objects.create(user=alice, kind="webhook", url="http://x.test/", secret="s")
        for method, body in [("get", None), ("patch", {"enabled": False}), ("delete", None)]:
            assert getattr(bob_client, method)(f"/channels/{hook.pk}", body, format="json").status_code == 404
        assert bob_client.post(f"/channels/{hook.pk}/test").status_code == 404
        hook.refresh_from_db()
        assert hook.enabled

    def test_the_list_shows_only_the_callers_channels(self, alice, bob, bob_client):
        Channel.objects.create(user=alice, kind="webhook", url="http://alice.test/", secret="s")
        assert [c["address"] for c in bob_client.get("/channels/").json()] == ["bob@example.com"]

    def test_an_id_past_a_bigint_is_a_404(self, alice_client):
        assert alice_client.get(f"/channels/{2**63}").status_code == 404
