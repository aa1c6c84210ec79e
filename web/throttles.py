"""The API's throttles on the web app's forms: one budget per scope, whichever door is used.

A form that logs in, registers, creates an alert or a channel, or tests a
channel spends from the same counters as its API endpoint (the throttle
classes are the API's own), so the pages are no way around the limits.
"""

from django.shortcuts import render

from api.throttling import TooManyAttempts
from web.forms import NON_FIELD


def throttle_wait(request, throttle_classes) -> int | None:
    """Seconds to wait if any of these throttles refuses this request (it is counted), else None."""
    throttles = [throttle() for throttle in throttle_classes]
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, None)]
    return max(waits) if waits else None


def too_many_message(wait: int) -> str:
    return f"{TooManyAttempts.default_detail} Expected available in {wait} seconds."


def too_many_errors(wait: int) -> dict[str, list[str]]:
    """A form's errors when its throttle refuses: one message over the whole form."""
    return {NON_FIELD: [too_many_message(wait)]}


def with_retry_after(response, wait: int):
    """The refused form's page (status 429), saying when to come back, as the API's 429 does."""
    response["Retry-After"] = str(wait)
    return response


def throttled_page(request, template: str, context: dict, wait: int):
    """``template`` with ``context`` and the throttle's message as its errors, 429, Retry-After."""
    context["errors"] = too_many_errors(wait)
    return with_retry_after(render(request, template, context, status=429), wait)
