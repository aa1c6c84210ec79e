"""GET /health: can this deployment serve and evaluate alerts right now?"""

import time

from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.selectors import evaluation_lag_seconds, last_evaluated_at, notification_backlog
from feeds.store import heartbeats, newest_stream_entry, redis_client, stream_losses


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_ok() -> bool:
    try:
        return bool(redis_client().ping())
    except Exception:
        return False


def feed_status() -> dict:
    """Age of each feeder connection's last message; "stale" when alerts wait on an old or absent feed."""
    try:
        now = time.time()
        ages = {name: round(max(0.0, now - at), 1) for name, at in sorted(heartbeats().items())}
    except Exception:
        return {"status": "unknown", "age_seconds": None, "connections": {}, "waiting_symbols": None}
    newest = min(ages.values(), default=None)
    try:
        waiting = len(import_string(settings.FEEDER_SYMBOLS_SOURCE)())
    except Exception:
        waiting = None
    stale = bool(waiting) and (newest is None or newest > settings.FEED_STALE_SECONDS)
    return {
        "status": "stale" if stale else "ok",
        "age_seconds": newest,
        "connections": ages,
        "waiting_symbols": waiting,
    }


def stream_status() -> dict:
    """Price stream entries the engine found lost before it read them (within the last day), by evaluator."""
    try:
        losses = stream_losses()
    except Exception:
        return {"status": "unknown", "losses": {}}
    return {"status": "lost_entries" if losses else "ok", "losses": losses}


def evaluation_status() -> dict:
    """When the alert engine last finished a tick, and how far its checkpoint is behind the price stream.

    ``lag_seconds``: the newest stream entry's flush time minus the committed
    checkpoint's (0 when caught up): on a crash day, how far behind the market
    evaluation is running.
    """
    body = {"last_evaluated_at": None, "age_seconds": None, "newest_stream_id": None, "lag_seconds": None}
    try:
        at = last_evaluated_at()
    except Exception:
        return body
    if at is not None:
        body["last_evaluated_at"] = at.isoformat()
        body["age_seconds"] = round(max(0.0, time.time() - at.timestamp()), 1)
    try:
        body["newest_stream_id"] = newest_stream_entry()
        lag = evaluation_lag_seconds(body["newest_stream_id"])
    except Exception:
        return body
    body["lag_seconds"] = None if lag is None else round(lag, 3)
    return body


def delivery_status() -> dict:
    """The delivery backlog: notifications queued (pending), those being sent right now, the oldest's age."""
    try:
        backlog = notification_backlog()
    except Exception:
        return {"queued": None, "sending": None, "oldest_age_seconds": None}
    oldest = backlog.oldest_pending_at
    return {
        "queued": backlog.pending,
        "sending": backlog.sending,
        "oldest_age_seconds": None
        if oldest is None
        else round(max(0.0, time.time() - oldest.timestamp()), 1),
    }


# The body's words, named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] (several fields are called "status").
CHECK_STATES = ["ok", "error"]
FEED_STATES = ["ok", "stale", "unknown"]
STREAM_STATES = ["ok", "lost_entries", "unknown"]
HEALTH_STATES = ["ok", "degraded", "unavailable"]


class ChecksSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=CHECK_STATES)
    redis = serializers.ChoiceField(choices=CHECK_STATES)


class FeedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=FEED_STATES, help_text="stale: alerts wait on an old or absent feed."
    )
    age_seconds = serializers.FloatField(allow_null=True, help_text="Age of the freshest connection.")
    connections = serializers.DictField(
        child=serializers.FloatField(), help_text="Feeder connection -> seconds since its last message."
    )
    waiting_symbols = serializers.IntegerField(allow_null=True, help_text="Symbols with waiting alerts.")


class EvaluationSerializer(serializers.Serializer):
    last_evaluated_at = serializers.DateTimeField(
        allow_null=True, help_text="The engine's last finished tick."
    )
    age_seconds = serializers.FloatField(allow_null=True)
    newest_stream_id = serializers.CharField(allow_null=True, help_text="The price stream's newest entry.")
    lag_seconds = serializers.FloatField(allow_null=True, help_text="How far the checkpoint is behind it.")


class StreamSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STREAM_STATES)
    losses = serializers.DictField(
        child=serializers.CharField(), help_text="Evaluator -> its last reported loss (within a day)."
    )


class DeliverySerializer(serializers.Serializer):
    queued = serializers.IntegerField(allow_null=True, help_text="Notifications waiting to be sent.")
    sending = serializers.IntegerField(allow_null=True, help_text="Notifications being sent now.")
    oldest_age_seconds = serializers.FloatField(allow_null=True, help_text="Age of the oldest queued one.")


class HealthSerializer(serializers.Serializer):
    """The /health body: null figures are those that could not be read (Redis or the database down)."""

    status = serializers.ChoiceField(
        choices=HEALTH_STATES,
        help_text="unavailable (503): the database or Redis does not answer; degraded (200): a stale feed "
        "or lost stream entries.",
    )
    checks = ChecksSerializer()
    feed = FeedSerializer()
    evaluation = EvaluationSerializer()
    stream = StreamSerializer()
    delivery = DeliverySerializer()


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health_get",
        summary="Health of the database and Redis",
        auth=[],
        responses={
            200: OpenApiResponse(HealthSerializer, description="The database and Redis answer."),
            503: OpenApiResponse(HealthSerializer, description="The database or Redis does not answer."),
        },
    )
    def get(self, request):
        checks = {"database": database_ok(), "redis": redis_ok()}
        healthy = all(checks.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: "ok" if ok else "error" for name, ok in checks.items()},
        }
        body["feed"] = feed_status()
        body["evaluation"] = evaluation_status()
        body["stream"] = stream_status()
        body["delivery"] = delivery_status()
        if healthy and (body["feed"]["status"] == "stale" or body["stream"]["status"] == "lost_entries"):
            body["status"] = "degraded"  # still 200: the API serves, only fresh prices are missing
        return Response(body, status=200 if healthy else 503)
