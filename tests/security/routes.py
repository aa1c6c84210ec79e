"""Every route of the URL conf, found by walking the resolver, with a way to build its URL.

The security tests go through this list rather than a hand-written one, so a
route added later is covered (or makes them fail until it is classified).
"""

from dataclasses import dataclass

from django.urls import URLResolver, get_resolver
from django.utils.regex_helper import normalize
from rest_framework.views import APIView

# Methods the ownership walk sends: everything that reads or changes one object.
OBJECT_METHODS = ("get", "put", "patch", "delete", "post")


@dataclass(frozen=True)
class Route:
    regex: str
    callback: object
    name: str | None

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)

    @property
    def is_api(self) -> bool:
        return isinstance(self.view_class, type) and issubclass(self.view_class, APIView)

    @property
    def params(self) -> list[str]:
        return normalize(self.regex)[0][1]

    def url(self, **values) -> str:
        template, params = normalize(self.regex)[0]
        return "/" + template % {name: values[name] for name in params}

    def methods(self, *, include_options: bool = False) -> list[str]:
        names = [m for m in self.view_class.http_method_names if hasattr(self.view_class, m)]
        return [m for m in names if m not in ("head", "trace") and (include_options or m != "options")]

    def __str__(self) -> str:
        return f"/{self.regex} ({self.view_class.__name__ if self.view_class else self.callback})"


def walk(resolver: URLResolver | None = None, prefix: str = ""):
    """Every URL pattern under ``resolver``, includes followed, as a full regex (without the leading ^)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, regex)
        else:
            yield Route(regex, pattern.callback, pattern.name)


def api_routes() -> list[Route]:
    return [route for route in walk() if route.is_api]


def admin_routes() -> list[Route]:
    return [route for route in walk() if route.regex.startswith("admin")]
