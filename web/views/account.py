"""The account page (/app/account) and its forms: address, preferences, API keys, sessions, deletion.

Every form is checked by the API's serializer and done by the API's service
(PATCH /user's ``user_update_preferences``, ``api_key_create``/``revoke``,
``sessions_end_all`` as ``POST /logout {"all": true}``, ``account_delete``),
under the endpoint's throttle; errors show next to the field in the API's
words. The password form is web.views.passwords'.

``ACCOUNT_SECTIONS`` is the extension point: an app that adds account pages
appends (title, url name, one-line description) and the page links to it;
nothing else changes here.
"""

from django.contrib import messages
from django.contrib.auth import logout as session_logout
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.apikeys import MAX_KEYS_PER_USER, api_key_create, api_key_list, api_key_revoke
from accounts.serializers import (
    AccountDeleteInputSerializer,
    ApiKeyCreateInputSerializer,
    UserUpdateInputSerializer,
)
from accounts.services import (
    account_delete,
    email_verified,
    sessions_end_everywhere,
    user_update_preferences,
)
from accounts.throttling import AccountDeleteThrottle, ApiKeyCreateThrottle
from web.forms import field_errors, post_data, validated, with_passwords
from web.throttles import throttle_wait, too_many_errors, with_retry_after
from web.views.common import not_found, signed_in

# (title, URL name, what it is for): the account pages linked from /app/account.
ACCOUNT_SECTIONS: list[tuple[str, str, str]] = [
    ("Channels", "web:channels", "Where your alerts are delivered: email, webhooks, chat apps."),
]
# The plain key of a key just made, kept in the session for the one page that shows it.
NEW_KEY_SESSION = "web:new_api_key"

PREFERENCES_SAVED = "Time zone and quiet hours saved."
LOGGED_OUT_EVERYWHERE = (
    "Every session of your account has ended: API tokens on every device, and every browser. "
    "API keys still work until you revoke them."
)
ACCOUNT_DELETED = "Your account and everything of it (alerts, channels, notifications, keys) are deleted."


class WebAccountDeleteThrottle(AccountDeleteThrottle):
    """DELETE /user's budget (same scope), spent by the page's POST: password guesses count either way."""

    counted_methods = frozenset({"POST"})


def _sections() -> list[dict]:
    sections = []
    for title, url_name, description in ACCOUNT_SECTIONS:
        try:
            sections.append({"title": title, "url": reverse(url_name), "description": description})
        except NoReverseMatch:  # an app listed here but not installed: no dead link
            continue
    return sections


def render_account(request, *, status: int = 200, **errors_by_form):
    """The account page; ``errors_by_form`` (e.g. ``password_errors={...}``) shows under each form."""
    user = request.user
    context = {
        "user": user,
        "email_verified": email_verified(user),
        "sections": _sections(),
        "api_keys": api_key_list(user=user),
        "max_keys": MAX_KEYS_PER_USER,
        "new_key": request.session.pop(NEW_KEY_SESSION, None) if status == 200 else None,
        "preferences": {"time_zone": user.time_zone, "quiet_hours": user.quiet_hours},
        **{name: {} for name in ("preferences_errors", "key_errors", "password_errors", "delete_errors")},
        **errors_by_form,
    }
    return render(request, "web/account.html", context, status=status)


@signed_in
@require_GET
def account(request):
    return render_account(request)


@signed_in
@require_POST
def preferences_view(request):
    values = post_data(request.POST, keep_blank=("quiet_hours",))
    data, errors = validated(UserUpdateInputSerializer, values)
    if data is not None:
        try:
            user_update_preferences(user=request.user, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            messages.success(request, PREFERENCES_SAVED)
            return redirect("web:account")
    request.user.refresh_from_db(fields=["time_zone", "quiet_hours"])
    typed = {"time_zone": request.user.time_zone, "quiet_hours": request.user.quiet_hours, **values}
    return render_account(request, preferences_errors=errors, preferences=typed, status=400)


@signed_in
@require_POST
def api_key_create_view(request):
    wait = throttle_wait(request, [ApiKeyCreateThrottle])
    if wait is not None:
        return with_retry_after(render_account(request, key_errors=too_many_errors(wait), status=429), wait)
    data, errors = validated(ApiKeyCreateInputSerializer, post_data(request.POST))
    if data is not None:
        try:
            created = api_key_create(user=request.user, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            # Shown on the next page only (then gone from the session): redirect-after-post, so a
            # reload neither shows it again nor makes a second key.
            request.session[NEW_KEY_SESSION] = {"name": created.api_key.name, "key": created.key}
            return redirect(f"{reverse('web:account')}#api-keys")
    return render_account(request, key_errors=errors, status=400)


@signed_in
@require_POST
def api_key_revoke_view(request, key_id: str):
    if not api_key_revoke(user=request.user, key_id=int(key_id)):
        return not_found(request, "API key")
    messages.success(request, "API key revoked: it stops working at once.")
    return redirect(f"{reverse('web:account')}#api-keys")


@signed_in
@require_POST
def logout_everywhere_view(request):
    """As ``POST /logout {"all": true}``: every session's tokens refused; every browser logged out too
    (the session hash includes the session generation, accounts.models.User)."""
    sessions_end_everywhere(user=request.user)
    session_logout(request)
    messages.success(request, LOGGED_OUT_EVERYWHERE)
    return redirect("web:login")


@signed_in
@require_POST
def account_delete_view(request):
    wait = throttle_wait(request, [WebAccountDeleteThrottle])
    if wait is not None:
        return with_retry_after(
            render_account(request, delete_errors=too_many_errors(wait), status=429), wait
        )
    data, errors = validated(
        AccountDeleteInputSerializer, with_passwords(post_data(request.POST), request.POST, ("password",))
    )
    if data is not None:
        try:
            account_delete(user=request.user, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            session_logout(request)
            messages.success(request, ACCOUNT_DELETED)
            return redirect("web:login")
    return render_account(request, delete_errors=errors, status=400)
