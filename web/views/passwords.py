"""Password pages: ask for a reset link, set a new password from it, and change it when signed in.

Each form is checked by the API's serializer and done by the API's service
(accounts.services), under the endpoint's throttles and in its words: the
reset request always gives the same answer (no enumeration), a reset link
works once, and a change or reset ends every session (API tokens and this
browser's session alike: the session's hash is made from the password).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout as session_logout
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.serializers import (
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
)
from accounts.services import (
    RESET_REQUESTED,
    password_change,
    password_reset_confirm,
    password_reset_request,
)
from accounts.throttling import PASSWORD_RESET_THROTTLES, PasswordChangeThrottle, TokenConfirmAddressThrottle
from web.forms import field_errors, post_data, validated, with_passwords
from web.throttles import throttle_wait, throttled_page, too_many_message
from web.views.account import render_account
from web.views.common import signed_in

PASSWORD_RESET_DONE = "Your password is changed and every session has ended: log in with the new one."
PASSWORD_CHANGED = (
    "Your password is changed. Every session of the account has ended, this one included "
    "(API tokens too): log in with the new password."
)


@require_http_methods(["GET", "POST"])
def password_reset_view(request):
    context = {"errors": {}, "values": {}, "done": None}
    if request.method == "POST":
        context["values"] = values = post_data(request.POST)
        wait = throttle_wait(request, PASSWORD_RESET_THROTTLES)
        if wait is not None:
            return throttled_page(request, "web/password_reset.html", context, wait)
        data, errors = validated(PasswordResetInputSerializer, values)
        if data is not None:
            password_reset_request(**data)
            context["done"] = RESET_REQUESTED
        context["errors"] = errors
    status = 400 if context["errors"] else 200
    return render(request, "web/password_reset.html", context, status=status)


@require_http_methods(["GET", "POST"])
def password_reset_confirm_view(request):
    source = request.POST if request.method == "POST" else request.GET
    context = {"uid": source.get("uid", ""), "token": source.get("token", ""), "errors": {}}
    if request.method == "POST":
        wait = throttle_wait(request, [TokenConfirmAddressThrottle])
        if wait is not None:
            return throttled_page(request, "web/password_reset_confirm.html", context, wait)
        data, errors = validated(
            PasswordResetConfirmInputSerializer,
            with_passwords(
                post_data(request.POST, keep_blank=("uid", "token")), request.POST, ("new_password",)
            ),
        )
        if data is not None:
            try:
                password_reset_confirm(**data)
            except ValidationError as exc:
                errors = field_errors(exc)
            else:
                session_logout(request)
                messages.success(request, PASSWORD_RESET_DONE)
                return redirect("web:login")
        context["errors"] = errors
    elif not (context["uid"] and context["token"]):
        context["errors"] = {"token": ["This link is incomplete: open the link from the email as it is."]}
    status = 400 if context["errors"] else 200
    return render(request, "web/password_reset_confirm.html", context, status=status)


@signed_in
@require_POST
def password_change_view(request):
    """The account page's password form: on success every session ends and the user is told so."""
    wait = throttle_wait(request, [PasswordChangeThrottle])
    if wait is not None:
        messages.error(request, too_many_message(wait))
        return redirect("web:account")
    data, errors = validated(
        PasswordChangeInputSerializer,
        with_passwords(post_data(request.POST), request.POST, ("old_password", "new_password")),
    )
    if data is not None:
        try:
            password_change(user=request.user, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        else:
            email = request.user.email
            session_logout(request)
            messages.success(request, PASSWORD_CHANGED)
            return redirect(f"/app/login?{urlencode({'email': email})}")
    return render_account(request, password_errors=errors, status=400)
