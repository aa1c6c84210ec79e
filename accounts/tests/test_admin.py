"""The user admin: operators search users by email and add users with an email login."""

import pytest

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_user_list_searches_by_email(admin_client, alice, bob):
    response = admin_client.get("/admin/accounts/user/", {"q": "alice@"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "alice@example.com" in content
    assert "bob@example.com" not in content


def test_user_change_page_renders(admin_client, alice):
    assert admin_client.get(f"/admin/accounts/user/{alice.pk}/change/").status_code == 200


def test_admin_adds_a_user_with_an_email_and_no_username(admin_client, django_user_model):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "ivan@example.com",
            "username": "",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = django_user_model.objects.get(email="ivan@example.com")
    assert user.username is None
    assert user.check_password(PASSWORD)


def test_admin_refuses_an_email_that_differs_only_in_case(admin_client, alice, django_user_model):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "ALICE@example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert django_user_model.objects.filter(email__iexact="alice@example.com").count() == 1
