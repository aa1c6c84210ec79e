"""Template filters of the web app."""

from django import template

from alerts.delivery.messages import format_price

register = template.Library()


@register.filter(name="price")
def price(value) -> str:
    """A Decimal as the pages and emails show prices: 70000.01000000 -> "70,000.01"."""
    return "" if value is None else format_price(value)
