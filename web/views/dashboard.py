"""The dashboard (/app/): the user's alerts with live prices, and the rows fragment htmx polls.

The rows are one fragment (``/app/alerts/rows``) that htmx fetches again every
WEB_REFRESH_SECONDS: the alert page comes from the per-user list cache the API
uses (alerts.selectors.alert_list_page), the prices from the price store, so
a poll costs two Redis reads and no database query while nothing changes.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from alerts.models import Alert
from alerts.selectors import alert_list_page
from web.forms import field_errors
from web.presenters import alert_rows, status_words
from web.views.common import signed_in

PER_PAGE = 20


def _listing(request) -> dict:
    """The filtered page of alerts the query string asks for, as rows; errors in words."""
    filters = {name: request.GET.get(name, "").strip() for name in ("status", "symbol")}
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    context = {"filters": filters, "rows": [], "page": None, "errors": {}}
    try:
        page = alert_list_page(
            user=request.user, filters={k: v for k, v in filters.items() if v}, page=number, per_page=PER_PAGE
        )
    except ValidationError as exc:
        context["errors"] = field_errors(exc)
        return context
    except Http404:
        context["errors"] = {"page": ["There is no such page."]}
        return context
    context.update(rows=alert_rows(page.alerts), page=page)
    return context


def _query(filters: dict, number: int | None = None) -> str:
    params = {k: v for k, v in filters.items() if v}
    if number and number > 1:
        params["page"] = number
    return urlencode(params)


def _context(request) -> dict:
    context = _listing(request)
    page = context["page"]
    context.update(
        statuses=[(value, status_words(value)) for value in Alert.Status.values],
        refresh_seconds=settings.WEB_REFRESH_SECONDS,
        query=_query(context["filters"], page.number if page else None),
        next_query=_query(context["filters"], page.next_number) if page and page.next_number else None,
        previous_query=_query(context["filters"], page.previous_number)
        if page and page.previous_number
        else None,
    )
    return context


@signed_in
@require_GET
def dashboard(request):
    return render(request, "web/dashboard.html", _context(request))


@signed_in
@require_GET
def alert_rows_fragment(request):
    """The dashboard's table body alone: what htmx swaps in every WEB_REFRESH_SECONDS."""
    return render(request, "web/_alert_rows.html", _context(request))
