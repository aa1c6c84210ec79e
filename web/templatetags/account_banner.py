"""Whether a signed-in user's address still waits for confirmation (the banner in base.html)."""

from django import template

from accounts.services import email_verified

register = template.Library()


@register.filter
def address_unconfirmed(user) -> bool:
    return bool(user.is_authenticated and not email_verified(user))
