"""The API's throttles on the web app's forms: one budget per scope, whichever door is used.

A form that logs in, registers, creates an alert or a channel, or tests a
channel spends from the same counters as its API endpoint (the throttle
classes are the API's own), so the pages are no way around the limits.
"""

from api.throttling import TooManyAttempts


def throttle_wait(request, throttle_classes) -> int | None:
    """Seconds to wait if any of these throttles refuses this request (it is counted), else None."""
    throttles = [throttle() for throttle in throttle_classes]
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, None)]
    return max(waits) if waits else None


def too_many_message(wait: int) -> str:
    return f"{TooManyAttempts.default_detail} Expected available in {wait} seconds."
