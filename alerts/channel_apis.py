"""HTTP endpoints of notification channels: /channels/ CRUD and /channels/<id>/test.

Owner-scoped like alerts: another user's channel is the same 404 as a missing one.
"""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.channels import (
    ChannelConflict,
    ChannelLimitReached,
    channel_create,
    channel_delete,
    channel_get,
    channel_list,
    channel_preview,
    channel_rotate_secret,
    channel_test,
    channel_update,
)
from alerts.models import Channel
from alerts.serializers import (
    ChannelCreatedOutputSerializer,
    ChannelCreateInputSerializer,
    ChannelOutputSerializer,
    ChannelTestOutputSerializer,
    ChannelTestQueuedSerializer,
    ChannelUpdateInputSerializer,
)
from alerts.throttling import ChannelCreateThrottle, ChannelRepointThrottle, ChannelTestThrottle, too_many
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer

TAG = "channels"
CHANNEL_ID = OpenApiParameter(
    "channel_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The channel's id."
)
NOT_YOURS = error("No channel with this id belongs to the caller.")


class ChannelStateConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The channel cannot be changed that way."
    default_code = "conflict"


class ChannelLimitConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "You have as many channels as allowed."
    default_code = "limit_reached"


def _owned_channel(request, channel_id: str) -> Channel:
    channel = channel_get(user=request.user, channel_id=int(channel_id))
    if channel is None:
        raise NotFound("Channel not found.")
    return channel


class ChannelCollectionApi(TooManyAttemptsAnswer, APIView):
    # Counts POSTs only: listing is free.
    throttle_classes = [ChannelCreateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="channel_list",
        summary="List the caller's notification channels",
        description="Every user has an `email` channel for the account's address; webhooks and Apprise "
        "URLs are added with POST. Not paginated (a user has a handful).",
        responses={200: ChannelOutputSerializer(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request, *args, **kwargs):
        channels = channel_list(user=request.user).select_related("user")
        return Response(ChannelOutputSerializer(channels, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="channel_create",
        summary="Add a notification channel",
        description=(
            "`webhook`: `url` is http(s); each delivery is a JSON POST signed with HMAC-SHA256 "
            "(`X-Pricealert-Signature: sha256=<hex>` over `<X-Pricealert-Timestamp>.<raw body>`), "
            f"a {settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS:g} s timeout (set by the operator), "
            "retried with backoff on 5xx, 408, 429, timeouts and connection errors, never on "
            "other 4xx; a 404 or 410 disables the channel (see `disabled_reason`). The `secret` is in "
            "this answer only. `apprise`: `url` is an Apprise URL (Telegram, Discord, Slack, ntfy, "
            "Pushover, ...). `email`: every user already has one (a second is a 409). A user has at "
            "most `ALERTS_MAX_CHANNELS_PER_USER` channels (default 10), the email one included: one "
            "more is a 409. Creates are throttled per user (429 + Retry-After)."
        ),
        request=ChannelCreateInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: ChannelCreatedOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            409: error(
                "The caller already has an email channel, or ALERTS_MAX_CHANNELS_PER_USER channels "
                "(default 10)."
            ),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: too_many("channels created", "CHANNEL_CREATE"),
        },
    )
    def post(self, request, *args, **kwargs):
        payload = ChannelCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            channel = channel_create(user=request.user, **payload.validated_data)
        except ChannelConflict as exc:
            raise ChannelStateConflict(str(exc)) from exc
        except ChannelLimitReached as exc:
            raise ChannelLimitConflict(str(exc)) from exc
        return Response(ChannelCreatedOutputSerializer(channel).data, status=status.HTTP_201_CREATED)


class ChannelItemApi(TooManyAttemptsAnswer, APIView):
    # Counts PATCHes that re-point a channel only (an email address is sent a confirmation link).
    throttle_classes = [ChannelRepointThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="channel_get",
        summary="Get one of the caller's channels",
        parameters=[CHANNEL_ID],
        responses={200: ChannelOutputSerializer, 401: UNAUTHENTICATED, 404: NOT_YOURS},
    )
    def get(self, request, channel_id, *args, **kwargs):
        return Response(ChannelOutputSerializer(_owned_channel(request, channel_id)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="channel_update",
        summary="Rename, re-point, enable or disable a channel",
        description="Enabling a channel that delivery disabled clears its `disabled_reason`. "
        "The account's own email channel has no URL; an email channel with an address of its own can be "
        "given another one, which is sent a confirmation link (nothing goes to it before). Changes of "
        "`url` are throttled per user (429). `quiet_hours` (own window, `off`, or empty for the account's) "
        "and the templates are checked as on create (a template that cannot render is a 400).",
        parameters=[CHANNEL_ID, RETRY_AFTER],
        request=ChannelUpdateInputSerializer,
        responses={
            200: ChannelOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            415: UNSUPPORTED_MEDIA_TYPE,
            429: too_many("channels re-pointed", "VERIFY_RESEND"),
        },
    )
    def patch(self, request, channel_id, *args, **kwargs):
        channel = _owned_channel(request, channel_id)
        payload = ChannelUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        channel = channel_update(channel=channel, **payload.validated_data)
        return Response(ChannelOutputSerializer(channel).data)

    @extend_schema(
        tags=[TAG],
        operation_id="channel_delete",
        summary="Delete a webhook or Apprise channel",
        description="Alerts that named it notify their other channels (or all, if none is left). "
        "The email channel cannot be deleted (409): disable it instead.",
        parameters=[CHANNEL_ID],
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            409: error("The email channel cannot be deleted."),
        },
    )
    def delete(self, request, channel_id, *args, **kwargs):
        try:
            channel_delete(channel=_owned_channel(request, channel_id))
        except ChannelConflict as exc:
            raise ChannelStateConflict(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTestApi(TooManyAttemptsAnswer, APIView):
    throttle_classes = [ChannelTestThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="channel_test",
        summary="Send a test message through a channel",
        description="Queues one test message (no retries), enabled or not, sent by a delivery worker "
        "like any notification. If the worker settles it within about a second "
        f"({settings.CHANNEL_TEST_WAIT_SECONDS:g} s), 200 says whether it was delivered and, if not, "
        "why, in a short category (`timed out`, `connection refused`, `HTTP 404`, `destination not "
        "allowed`); otherwise 202, and the outcome appears on the channel (`last_test_delivered`, "
        "`last_test_error`, `last_test_at`) when the worker is done. A failed test never disables "
        "the channel. Tests are throttled per user (429 + Retry-After). `preview` is what the test "
        "sends: the channel's templates (`title_template`, `body_template`) filled with an example firing.",
        parameters=[CHANNEL_ID, RETRY_AFTER],
        request=None,
        responses={
            200: ChannelTestOutputSerializer,
            202: ChannelTestQueuedSerializer,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            409: error("An email address not confirmed yet: nothing is sent to it."),
            429: too_many("channel tests", "CHANNEL_TEST"),
        },
    )
    def post(self, request, channel_id, *args, **kwargs):
        channel = _owned_channel(request, channel_id)
        try:
            preview = channel_preview(channel=channel)
            outcome = channel_test(channel=channel)
        except ChannelConflict as exc:
            raise ChannelStateConflict(str(exc)) from exc
        if outcome is None:
            return Response(
                {
                    "preview": preview,
                    "delivered": None,
                    "error": None,
                    "detail": "The test message is on its way; its outcome will be on the channel.",
                },
                status=status.HTTP_202_ACCEPTED,
            )
        return Response({"preview": preview, "delivered": outcome.delivered, "error": outcome.error})


class ChannelRotateSecretApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="channel_rotate_secret",
        summary="Give a webhook a new signing secret",
        description="The answer holds the new `secret` this once; deliveries are signed with it from now on "
        "and the old one stops at once. Only webhooks have a secret (409 for other kinds).",
        parameters=[CHANNEL_ID],
        request=None,
        responses={
            200: ChannelCreatedOutputSerializer,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            409: error("The channel is not a webhook."),
        },
    )
    def post(self, request, channel_id, *args, **kwargs):
        try:
            channel = channel_rotate_secret(channel=_owned_channel(request, channel_id))
        except ChannelConflict as exc:
            raise ChannelStateConflict(str(exc)) from exc
        return Response(ChannelCreatedOutputSerializer(channel).data)
