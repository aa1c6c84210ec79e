"""Session login, signup and logout for the web app, with the accounts the API uses.

Login and signup spend the API's throttle budgets (per address and per
account) and answer in its words; signup never tells whether an address
already had an account (the owner is emailed instead, as with POST /register).
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login as session_login
from django.contrib.auth import logout as session_logout
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.serializers import RegisterInputSerializer, TokenObtainInputSerializer
from accounts.services import LoginFailed, user_authenticate, user_register
from accounts.throttling import LOGIN_THROTTLES, REGISTER_THROTTLES
from web.forms import NON_FIELD, field_errors, post_data, validated, with_passwords
from web.throttles import throttle_wait, throttled_page

REGISTRATION_RECEIVED = (
    "Registration received: log in with this email and password. If the address already had an "
    "account, nothing was changed and its owner has been emailed."
)


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target.startswith("/app/") else "/app/"


@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect("web:dashboard")
    errors, values = {}, {"email": request.GET.get("email", "")}
    if request.method == "POST":
        values = post_data(request.POST)
        values.pop("password", None)
        wait = throttle_wait(request, LOGIN_THROTTLES)
        if wait is not None:
            return throttled_page(request, "web/login.html", {"values": values}, wait)
        data, errors = validated(
            TokenObtainInputSerializer, with_passwords(post_data(request.POST), request.POST, ("password",))
        )
        if data is not None:
            try:
                user = user_authenticate(login=data["login"], password=data["password"], request=request)
            except LoginFailed as exc:
                errors = {NON_FIELD: [str(exc)]}
            else:
                session_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(_next_url(request))
    status = 400 if errors else 200
    context = {"errors": errors, "values": values, "next": request.GET.get("next", "")}
    return render(request, "web/login.html", context, status=status)


@require_http_methods(["GET", "POST"])
def signup_view(request):
    errors, values = {}, {}
    if request.method == "POST":
        values = post_data(request.POST)
        values.pop("password", None)
        wait = throttle_wait(request, REGISTER_THROTTLES)
        if wait is not None:
            return throttled_page(request, "web/signup.html", {"values": values}, wait)
        data, errors = validated(
            RegisterInputSerializer, with_passwords(post_data(request.POST), request.POST, ("password",))
        )
        if data is not None:
            try:
                registration = user_register(**data)
            except ValidationError as exc:
                errors = field_errors(exc)
            else:
                messages.success(request, REGISTRATION_RECEIVED)
                return redirect(f"/app/login?{urlencode({'email': registration.email})}")
    return render(
        request, "web/signup.html", {"errors": errors, "values": values}, status=400 if errors else 200
    )


@require_POST
def logout_view(request):
    session_logout(request)
    messages.info(request, "You are logged out.")
    return redirect("web:login")
