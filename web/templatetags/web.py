"""Template filters of the web app."""

from django import template

from alerts.delivery.messages import format_price
from web.presenters import delivery_reason

register = template.Library()


@register.filter(name="price")
def price(value) -> str:
    """A Decimal as the pages and emails show prices: 70000.01000000 -> "70,000.01"."""
    return "" if value is None else format_price(value)


@register.filter(name="reason")
def reason(notification) -> str:
    """Why a delivery is snoozed, held, unconfirmed or suppressed (web.presenters.delivery_reason)."""
    return delivery_reason(notification)
