"""The account page (/app/account): who you are, and the account pages other apps add.

``ACCOUNT_SECTIONS`` is the extension point: an app that adds account pages
(sessions, API keys, password change, ...) appends (title, url name,
one-line description) and the page links to it; nothing else changes here.
"""

from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from web.views.common import signed_in

# (title, URL name, what it is for): the account pages linked from /app/account.
ACCOUNT_SECTIONS: list[tuple[str, str, str]] = [
    ("Channels", "web:channels", "Where your alerts are delivered: email, webhooks, chat apps."),
]


def _sections() -> list[dict]:
    sections = []
    for title, url_name, description in ACCOUNT_SECTIONS:
        try:
            sections.append({"title": title, "url": reverse(url_name), "description": description})
        except NoReverseMatch:  # an app listed here but not installed: no dead link
            continue
    return sections


@signed_in
@require_GET
def account(request):
    return render(request, "web/account.html", {"user": request.user, "sections": _sections()})
