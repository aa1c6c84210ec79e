"""URL patterns that match with and without a trailing slash, without redirecting.

APPEND_SLASH is off (a redirect would turn a POST into a GET), so each route
accepts both spellings itself. The optional slash is written ``(?:/)?`` so the
OpenAPI schema lists the canonical, slash-less path once.
"""

from django.urls import re_path


def slash_optional(route: str, view, name: str | None = None):
    """A pattern for ``route`` (a regex body without anchors) with an optional trailing slash."""
    return re_path(rf"^{route}(?:/)?$", view, name=name)
