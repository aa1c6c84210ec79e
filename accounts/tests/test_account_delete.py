"""DELETE /user: the password again, then nothing of the user is left."""

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from alerts.models import Alert, Channel, Notification
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_deleting_the_account_leaves_nothing_of_the_user(alice, bob, make_notification, django_user_model):
    pair = APIClient().post("/token", {"email": "alice@example.com", "password": PASSWORD}).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert client.post("/api-keys", {"name": "bot"}).status_code == 201
    Channel.objects.create(
        user=alice, kind="webhook", name="hook", url="https://example.com/h", secret="s" * 64
    )
    make_notification(alice)
    make_notification(bob)

    response = client.delete("/user", {"password": PASSWORD})

    assert response.status_code == 204
    assert not django_user_model.objects.filter(email="alice@example.com").exists()
    for model in (Alert, Channel):
        assert not model.objects.filter(user_id=alice.pk).exists(), model
    assert not Notification.objects.filter(alert__user_id=alice.pk).exists()
    assert not Notification.objects.filter(user_id=alice.pk).exists()
    for label in ("accounts.ApiKey", "accounts.SessionFamily", "token_blacklist.OutstandingToken"):
        model = apps.get_model(label)
        assert not model.objects.filter(user_id=alice.pk).exists(), label
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    assert not OutstandingToken.objects.filter(user__isnull=True).exists()
    # Bob keeps everything.
    assert Notification.objects.filter(alert__user_id=bob.pk).count() == 1
    assert APIClient().post("/token/refresh", {"refresh": pair["refresh"]}).status_code == 401
    assert client.get("/user").status_code == 401


def test_a_wrong_password_deletes_nothing(alice_client, alice):
    response = alice_client.delete("/user", {"password": "not it"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": ["The password is not correct."]}
    alice.refresh_from_db()
    assert alice_client.delete("/user", {}).status_code == 400
