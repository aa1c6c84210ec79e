"""URL patterns that match with and without a trailing slash, without redirecting.

APPEND_SLASH is off (a redirect would turn a POST into a GET), so each route
accepts both spellings itself. The optional slash is written ``(?:/)?`` so the
OpenAPI schema lists the canonical, slash-less path once. An alias (a second
path for the same operation, kept for older clients) is routed the same way but
left out of the schema, so generated clients see one operation per thing.
"""

from django.urls import re_path


def slash_optional(route: str, view, name: str | None = None):
    """A pattern for ``route`` (a regex body without anchors) with an optional trailing slash."""
    return re_path(rf"^{route}(?:/)?$", view, name=name)


def alias(route: str, view_class, name: str | None = None):
    """``route`` serving ``view_class`` like its canonical path does, hidden from the OpenAPI schema."""
    return slash_optional(route, view_class.as_view(schema=None), name=name)
