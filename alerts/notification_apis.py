"""GET /notifications and GET /alerts/<id>/notifications: the delivery log, as the web app shows it.

Each notification is one delivery of one firing to one channel. Only the
caller's own: another user's alert is a 404, another user's channel or alert
as a filter matches nothing.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.apis import ALERT_ID, NOT_YOURS, _owned_alert, _paged_answer
from alerts.models import Channel, Notification
from alerts.notification_serializers import (
    NotificationListQuerySerializer,
    NotificationOutputSerializer,
    NotificationPageOutputSerializer,
)
from alerts.notifications import notification_list
from alerts.selectors import alert_owned
from api.openapi import UNAUTHENTICATED, error

TAG = "notifications"
FILTERS = [
    NotificationListQuerySerializer,
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        enum=Notification.Status.values,
        description="Only deliveries in this state.",
    ),
    OpenApiParameter(
        "channel", OpenApiTypes.INT, description="Only deliveries through this channel (its id)."
    ),
    OpenApiParameter(
        "kind", OpenApiTypes.STR, enum=Channel.Kind.values, description="Only this kind of channel."
    ),
]
BAD_FILTER = error("An unknown status or kind, an id that is not a number, or a bad page/per_page.")


def _page(request, filters) -> Response:
    query = NotificationListQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    notifications = notification_list(user=request.user, filters=filters)
    return _paged_answer(request, notifications, query, NotificationOutputSerializer)


class NotificationListApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="notification_list",
        summary="List the caller's deliveries",
        description=(
            "Newest first, paginated: one entry per channel each firing notified, with its status, "
            "attempts and last error. Filters: `?alert=<id>`, `?status=`, `?channel=<id>`, `?kind=`."
        ),
        parameters=[
            *FILTERS,
            OpenApiParameter(
                "alert", OpenApiTypes.INT, description="Only deliveries of this alert (its id)."
            ),
        ],
        responses={
            200: NotificationPageOutputSerializer,
            400: BAD_FILTER,
            401: UNAUTHENTICATED,
            404: error("The page number is past the last page."),
        },
    )
    def get(self, request, *args, **kwargs):
        return _page(request, request.query_params)


class AlertNotificationListApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_notification_list",
        summary="List one alert's deliveries",
        description="`GET /notifications?alert=<id>`, with a 404 for an alert that is not the caller's.",
        parameters=[ALERT_ID, *FILTERS],
        responses={
            200: NotificationPageOutputSerializer,
            400: BAD_FILTER,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
        },
    )
    def get(self, request, alert_id, *args, **kwargs):
        alert = _owned_alert(request, alert_id, select=alert_owned)
        filters = request.query_params.copy()
        filters["alert"] = str(alert.pk)
        return _page(request, filters)
