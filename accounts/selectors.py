"""Reads of user accounts."""

from django.contrib.auth import get_user_model
from django.db.models import Case, IntegerField, Q, Value, When

User = get_user_model()


def user_with_email(email: str):
    """The account registered with this address (case-insensitive), or None."""
    return User.objects.filter(email__iexact=email).first()


def username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def user_for_login(login: str):
    """The user a login names: an email address or a username, case-insensitive.

    An email match wins over a username match, so an address can never be
    shadowed by somebody else's username.
    """
    return (
        User.objects.filter(Q(email__iexact=login) | Q(username__iexact=login))
        .annotate(
            email_match=Case(
                When(email__iexact=login, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("email_match", "id")
        .first()
    )
