"""What every page needs: the 404 page, owned objects, pagination links."""

from django.shortcuts import render

from alerts.channels import channel_get
from alerts.selectors import alert_get


def not_found(request, what: str = "page"):
    """The same 404 page for "no such id" and "someone else's": nobody learns which ids exist."""
    return render(request, "web/not_found.html", {"what": what}, status=404)


def owned_alert(request, alert_id: str):
    """The signed-in user's alert with this id (deleted ones too), or None (a 404 either way)."""
    return alert_get(user=request.user, alert_id=int(alert_id))


def owned_channel(request, channel_id: str):
    return channel_get(user=request.user, channel_id=int(channel_id))
