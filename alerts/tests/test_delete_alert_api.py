"""DELETE /alerts/delete/<id> and DELETE /alerts/<id>: soft delete."""

import pytest

from alerts.models import Alert

pytestmark = pytest.mark.django_db

DELETE_PATHS = ["/alerts/delete/{id}", "/alerts/delete/{id}/", "/alerts/{id}", "/alerts/{id}/"]


@pytest.mark.parametrize("path", DELETE_PATHS)
def test_delete_is_a_soft_delete(alice_client, alice, make_alert, path):
    alert = make_alert(alice)

    response = alice_client.delete(path.format(id=alert.id))

    assert response.status_code == 204
    assert response.content == b""
    alert.refresh_from_db()
    assert alert.status == "deleted"
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_a_triggered_alert_can_be_deleted_and_keeps_its_trigger(alice_client, alice, make_alert):
    alert = make_alert(alice, status="triggered", triggered_price="70000")
    assert alice_client.delete(f"/alerts/{alert.id}").status_code == 204
    alert.refresh_from_db()
    assert (alert.status, alert.triggered_price) == ("deleted", 70000)


def test_deleting_twice_is_harmless(alice_client, alice, make_alert):
    alert = make_alert(alice)
    assert alice_client.delete(f"/alerts/{alert.id}").status_code == 204
    assert alice_client.delete(f"/alerts/delete/{alert.id}").status_code == 204
    alert.refresh_from_db()
    assert alert.status == "deleted"


@pytest.mark.parametrize("path", DELETE_PATHS)
def test_another_users_alert_is_a_404_and_untouched(alice_client, bob, make_alert, path):
    alert = make_alert(bob)
    response = alice_client.delete(path.format(id=alert.id))
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert not found."}
    alert.refresh_from_db()
    assert alert.status == "created"


def test_a_missing_alert_is_a_404(alice_client):
    assert alice_client.delete("/alerts/delete/424242").status_code == 404


@pytest.mark.parametrize("method", ["get", "post", "patch"])
def test_the_seed_delete_path_only_deletes(alice_client, alice, make_alert, method):
    alert = make_alert(alice)
    response = getattr(alice_client, method)(f"/alerts/delete/{alert.id}")
    assert response.status_code == 405
    alert.refresh_from_db()
    assert alert.status == "created"


def test_unauthenticated_is_401(anon_client, alice, make_alert):
    alert = make_alert(alice)
    assert anon_client.delete(f"/alerts/{alert.id}").status_code == 401
    alert.refresh_from_db()
    assert alert.status == "created"


def test_a_delete_asks_the_database_three_things(alice_client, alice, make_alert, django_assert_num_queries):
    # The token's user, the caller's alert, the conditional UPDATE: no catalogue
    # lookup, no transaction around the single statement, no re-read afterwards.
    alert = make_alert(alice)
    with django_assert_num_queries(3):
        assert alice_client.delete(f"/alerts/{alert.id}").status_code == 204
    alert.refresh_from_db()
    assert alert.status == "deleted"
