"""HTTP endpoints of verified addresses: confirm with the emailed token, and ask for a new link."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import TAG, PublicApi
from accounts.serializers import DetailOutputSerializer, VerifiedOutputSerializer, VerifyInputSerializer
from accounts.services import RESENT, VERIFIED, address_verify, verification_resend
from accounts.throttling import TOO_MANY_REQUESTS, TokenConfirmAddressThrottle, VerifyResendThrottle
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer


class VerifyApi(PublicApi):
    throttle_classes = [TokenConfirmAddressThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="address_verify",
        summary="Confirm an address with the emailed token",
        auth=[],
        description="The token is in the link emailed at registration (or by `POST /verify/resend`, or for "
        "a new email channel). Confirms the account's address or the email channel's; notifications "
        "held while it was unconfirmed are then sent. Confirming twice is harmless. Throttled per "
        "client address (429).",
        request=VerifyInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: VerifiedOutputSerializer,
            400: error("The token is invalid or expired."),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = VerifyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _, address = address_verify(**payload.validated_data)
        return Response({"detail": VERIFIED, "address": address})


class VerifyResendApi(TooManyAttemptsAnswer, APIView):
    throttle_classes = [VerifyResendThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="address_verify_resend",
        summary="Email a new confirmation link to the account's address",
        description="For an account whose `email_verified` is false (400 once it is confirmed). Throttled "
        "per user (429).",
        request=None,
        parameters=[RETRY_AFTER],
        responses={
            202: DetailOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        verification_resend(user=request.user)
        return Response({"detail": RESENT}, status=status.HTTP_202_ACCEPTED)
