"""What every page needs: the signed-in user, the 404 page, owned objects."""

import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

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


def signed_in(view):
    """``login_required``, with ``request.user`` the User itself rather than Django's lazy wrapper.

    The services take the user and use its class (``type(user).objects`` locks its row before a
    create), which the lazy wrapper is not.
    """

    @functools.wraps(view)
    def unwrapped(request, *args, **kwargs):
        request.user = getattr(request.user, "_wrapped", request.user)
        return view(request, *args, **kwargs)

    required = login_required(unwrapped)

    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if request.htmx and not request.user.is_authenticated:
            # A poll after the session ended: send the whole page to the login, rather than
            # swapping the login page into a table row.
            return HttpResponseClientRedirect(
                f"{settings.LOGIN_URL}?{urlencode({'next': request.htmx.current_url_abs_path or '/app/'})}"
            )
        return required(request, *args, **kwargs)

    return checked
