"""HTTP endpoints of passwords: change (signed in), reset by email, and the reset link's confirmation."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import TAG, PublicApi
from accounts.permissions import FORBIDDEN_WITH_API_KEY, NotWithApiKey
from accounts.serializers import (
    DetailOutputSerializer,
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
)
from accounts.services import RESET_REQUESTED, password_change, password_reset_confirm, password_reset_request
from accounts.throttling import (
    PASSWORD_RESET_THROTTLES,
    TOO_MANY_REQUESTS,
    PasswordChangeThrottle,
    TokenConfirmAddressThrottle,
)
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer

SESSIONS_ENDED = OpenApiResponse(
    description="Password changed; every session of the account has ended (log in again)."
)


class PasswordChangeApi(TooManyAttemptsAnswer, APIView):
    permission_classes = [IsAuthenticated, NotWithApiKey]
    throttle_classes = [PasswordChangeThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="password_change",
        summary="Change the password",
        description="Needs the current password. Every session of the account ends, this one included: "
        "all refresh tokens are revoked and access tokens issued before are refused (log in again). "
        "The account's address is told by email. Not allowed with an API key (403). Throttled per "
        "user (429).",
        request=PasswordChangeInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            204: SESSIONS_ENDED,
            400: error("Wrong current password, or the new one breaks the password rules."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN_WITH_API_KEY,
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = PasswordChangeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        password_change(user=request.user, **payload.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicApi):
    throttle_classes = PASSWORD_RESET_THROTTLES

    @extend_schema(
        tags=[TAG],
        operation_id="password_reset",
        summary="Ask for a password-reset link by email",
        auth=[],
        description="Always the same 202, whether or not the address has an account (nobody can find out "
        "which addresses are registered); an account's address gets a link with `uid` and `token` for "
        "`POST /password/reset/confirm`, good once, for `PASSWORD_RESET_TIMEOUT` seconds. Throttled per "
        "client address and per email address (429).",
        request=PasswordResetInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            202: DetailOutputSerializer,
            400: BAD_REQUEST,
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = PasswordResetInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        password_reset_request(**payload.validated_data)
        return Response({"detail": RESET_REQUESTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    throttle_classes = [TokenConfirmAddressThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="password_reset_confirm",
        summary="Set a new password with a reset link",
        auth=[],
        description="`uid` and `token` come from the emailed link. The link works once: it is refused "
        "after the reset (and after any login or password change since it was sent). Every session of "
        "the account ends; the address counts as confirmed. Throttled per client address (429).",
        request=PasswordResetConfirmInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            204: SESSIONS_ENDED,
            400: error("The link is invalid, expired or used, or the new password breaks the rules."),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = PasswordResetConfirmInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        password_reset_confirm(**payload.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
