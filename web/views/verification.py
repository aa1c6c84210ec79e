"""Confirming an address from the emailed link (/app/verify), and asking for a new link.

The link opens a page with a button rather than confirming on GET: mail
scanners and link previews fetch links, and a GET must not change anything.
The POST confirms through ``accounts.services.address_verify``, as
``POST /verify`` does, under the same per-address throttle and in its words.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.serializers import VerifyInputSerializer
from accounts.services import RESENT, VERIFIED, address_verify, verification_resend
from accounts.throttling import TokenConfirmAddressThrottle, VerifyResendThrottle
from web.forms import field_errors, validated
from web.throttles import throttle_wait, throttled_page, too_many_message
from web.views.common import signed_in


@require_http_methods(["GET", "POST"])
def verify_view(request):
    token = (request.POST.get("token") if request.method == "POST" else request.GET.get("token")) or ""
    context = {"token": token, "errors": {}, "address": None}
    status = 200
    if request.method == "POST":
        wait = throttle_wait(request, [TokenConfirmAddressThrottle])
        if wait is not None:
            return throttled_page(request, "web/verify.html", context, wait)
        data, errors = validated(VerifyInputSerializer, {"token": token})
        if data is not None:
            try:
                _, address = address_verify(**data)
            except ValidationError as exc:
                errors = field_errors(exc)
            else:
                context.update(address=address, verified=VERIFIED)
        context["errors"] = errors
        status = 400 if errors else 200
    elif not token:
        context["errors"] = {"token": ["This link has no token: open the link from the email as it is."]}
    return render(request, "web/verify.html", context, status=status)


@signed_in
@require_POST
def verify_resend_view(request):
    wait = throttle_wait(request, [VerifyResendThrottle])
    if wait is not None:
        messages.error(request, too_many_message(wait))
        return redirect("web:account")
    try:
        verification_resend(user=request.user)
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        messages.success(request, RESENT)
    return redirect("web:account")
