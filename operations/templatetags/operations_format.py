"""Formatting for the admin's operations page: ages as pricealert_status prints them."""

from django import template

register = template.Library()


@register.filter
def age(seconds: float | None) -> str:
    """12.3 s, 4.5 min, 2.0 h; "-" for unknown."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
