"""HTTP endpoints of watchlists (/alert-groups/, /alert-groups/<id>) and of the snooze of one alert.

A watchlist is made by ``POST /alerts/`` with ``"symbols"`` (``alerts.apis``);
here it is listed, read, changed (paused, resumed, snoozed) and deleted as one.
Another user's watchlist or alert is the same 404 as a missing one.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.apis import ALERT_ID, NOT_YOURS, AlertConflict, AlertLimitConflict, _owned_alert, _paged_answer
from alerts.group_serializers import (
    AlertGroupListQuerySerializer,
    AlertGroupOutputSerializer,
    AlertGroupPageOutputSerializer,
    AlertGroupUpdateInputSerializer,
    AlertSnoozeInputSerializer,
)
from alerts.groups import (
    UNSET,
    GroupNotEditable,
    alert_group_delete,
    alert_group_get,
    alert_group_list,
    alert_group_update,
)
from alerts.models import AlertGroup
from alerts.selectors import alert_get
from alerts.serializers import AlertOutputSerializer
from alerts.services import AlertLimitReached, AlertNotEditable, alert_snooze
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error

TAG = "alert-groups"
GROUP_ID = OpenApiParameter(
    "group_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The watchlist's id."
)
GROUP_NOT_YOURS = error("No watchlist with this id belongs to the caller.")


class GroupConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The watchlist cannot be changed in its current state."
    default_code = "conflict"


def _owned_group(request, group_id: str) -> AlertGroup:
    group = alert_group_get(user=request.user, group_id=int(group_id))
    if group is None:
        raise NotFound("Watchlist not found.")
    return group


class AlertGroupCollectionApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_group_list",
        summary="List the caller's watchlists",
        description="Newest first, paginated (`?page=`, `?per_page=` 1..100, default 20), each with its "
        'alerts. Make one with `POST /alerts/` and `"symbols": [...]`.',
        parameters=[AlertGroupListQuerySerializer],
        responses={
            200: AlertGroupPageOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            404: error("The page number is past the last page."),
        },
    )
    def get(self, request, *args, **kwargs):
        query = AlertGroupListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return _paged_answer(request, alert_group_list(user=request.user), query, AlertGroupOutputSerializer)


class AlertGroupItemApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_group_get",
        summary="Get one of the caller's watchlists",
        parameters=[GROUP_ID],
        responses={200: AlertGroupOutputSerializer, 401: UNAUTHENTICATED, 404: GROUP_NOT_YOURS},
    )
    def get(self, request, group_id, *args, **kwargs):
        return Response(AlertGroupOutputSerializer(_owned_group(request, group_id)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="alert_group_update",
        summary="Change, pause, resume or snooze every alert of a watchlist at once",
        description=(
            "Applies to every alert of the watchlist that has not finished (waiting, re-arming or "
            "paused), in one transaction: a change one symbol refuses (e.g. a target outside its "
            "PRICE_FILTER) changes none. The fields of `PATCH /alerts/<id>`, plus `change_percent` "
            "(resolved per symbol from its own latest price), `paused` and `snoozed_until`. Resuming "
            "re-arms from now and counts toward the per-user cap again (409 if it would pass it)."
        ),
        parameters=[GROUP_ID],
        request=AlertGroupUpdateInputSerializer,
        responses={
            200: AlertGroupOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            404: GROUP_NOT_YOURS,
            409: error("Every alert of it has finished, or resuming would pass ALERTS_MAX_WAITING_PER_USER."),
            415: UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def patch(self, request, group_id, *args, **kwargs):
        group = _owned_group(request, group_id)
        payload = AlertGroupUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        snoozed_until = changes.pop("snoozed_until", UNSET)
        try:
            alert_group_update(group=group, snoozed_until=snoozed_until, **changes)
        except (GroupNotEditable, AlertNotEditable) as exc:
            raise GroupConflict(str(exc)) from exc
        except AlertLimitReached as exc:
            raise AlertLimitConflict(str(exc)) from exc
        return Response(AlertGroupOutputSerializer(_owned_group(request, group_id)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="alert_group_delete",
        summary="Delete a watchlist and all its alerts",
        description="Soft-deletes every alert of it (status `deleted`, still readable at /alerts/<id>) "
        "and removes the watchlist: afterwards it is a 404.",
        parameters=[GROUP_ID],
        responses={204: OpenApiResponse(description="Deleted."), 401: UNAUTHENTICATED, 404: GROUP_NOT_YOURS},
    )
    def delete(self, request, group_id, *args, **kwargs):
        alert_group_delete(group=_owned_group(request, group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertSnoozeApi(APIView):
    @extend_schema(
        tags=["alerts"],
        operation_id="alert_snooze",
        summary="Snooze one alert's notifications until a time",
        description=(
            "The alert goes on being evaluated, but no notification of a firing before `until` is "
            "delivered: each such firing is recorded (`trigger_count`, `last_triggered_at`, "
            "its notifications have status `snoozed`: "
            "`GET /alerts/<id>/notifications?status=snoozed`). When the "
            "snooze ends nothing recorded is sent late; later firings are delivered as usual. A one-shot "
            "alert that fires while snoozed is `triggered` all the same. `until: null` ends it now. "
            "Only a waiting, re-arming or paused alert can be snoozed (else 409)."
        ),
        parameters=[ALERT_ID],
        request=AlertSnoozeInputSerializer,
        responses={
            200: AlertOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            409: error("The alert has fired for good, expired or been deleted."),
            415: UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def post(self, request, alert_id, *args, **kwargs):
        alert = _owned_alert(request, alert_id)
        payload = AlertSnoozeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            alert_snooze(alert=alert, until=payload.validated_data["until"])
        except AlertNotEditable as exc:
            raise AlertConflict(str(exc)) from exc
        return Response(AlertOutputSerializer(alert_get(user=request.user, alert_id=alert.pk)).data)
