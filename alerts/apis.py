"""HTTP endpoints of the alerts app: each method is input -> service/selector -> output.

The seed paths (/alerts/create, /alerts/delete/<id>) and the REST forms
(/alerts/, /alerts/<id>) share the same operation classes; the combined views
at the bottom only put several operations on one path.
"""

from django.core.paginator import EmptyPage, Paginator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from alerts.filters import VALID_STATUSES
from alerts.group_serializers import AlertGroupOutputSerializer
from alerts.groups import alert_group_create, window_alert_group_create
from alerts.models import Alert
from alerts.selectors import alert_get, alert_list_page, alert_owned, alert_with_details
from alerts.serializers import (
    AlertCreateInputSerializer,
    AlertListQuerySerializer,
    AlertOutputSerializer,
    AlertPageOutputSerializer,
    AlertUpdateInputSerializer,
    MoveAlertCreateInputSerializer,
    VolumeAlertCreateInputSerializer,
    create_input_serializer,
)
from alerts.services import (
    AlertLimitReached,
    AlertNotEditable,
    alert_create,
    alert_delete,
    alert_update,
    window_alert_create,
)
from alerts.throttling import AlertCreateThrottle, too_many
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer

TAG = "alerts"
ALERT_ID = OpenApiParameter(
    "alert_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The alert's id."
)
NOT_YOURS = error("No alert with this id belongs to the caller.")


class AlertConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The alert cannot be changed in its current state."
    default_code = "conflict"


class AlertLimitConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "You have as many active alerts as allowed."
    default_code = "limit_reached"


def _owned_alert(request, alert_id: str, select=alert_get) -> Alert:
    alert = select(user=request.user, alert_id=int(alert_id))
    if alert is None:
        raise NotFound("Alert not found.")
    return alert


def _page_link(request, number: int | None) -> str | None:
    if number is None:
        return None
    url = request.build_absolute_uri()
    return remove_query_param(url, "page") if number == 1 else replace_query_param(url, "page", number)


def _paged_answer(request, items, query, output_serializer) -> Response:
    """One page of ``items`` as the list endpoints answer it (count, next, previous, results).

    ``query``: a validated page/per_page query serializer; a page past the last is a 404.
    """
    paginator = Paginator(items, query.validated_data["per_page"])
    number = query.validated_data["page"]
    try:
        page = paginator.page(number)
    except EmptyPage:
        raise NotFound("Invalid page.") from None
    return Response(
        {
            "count": paginator.count,
            "next": _page_link(request, number + 1 if page.has_next() else None),
            "previous": _page_link(request, number - 1 if page.has_previous() else None),
            "results": output_serializer(page.object_list, many=True).data,
        }
    )


class AlertCreateApi(TooManyAttemptsAnswer, APIView):
    # One budget for POST /alerts/create and POST /alerts/ (AlertCollectionApi inherits it).
    throttle_classes = [AlertCreateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="alert_create",
        summary="Create an alert",
        description=(
            "Creates a waiting alert for the caller. Also served at `POST /alerts/`. The symbol is "
            "upper-cased and must be a Binance spot symbol that is TRADING; the target must be within "
            "its PRICE_FILTER bounds. The target is `target_price`, or `change_percent` (a move from the "
            "latest price, resolved now; kept with `reference_price`). Without `direction`, it is "
            "inferred from the latest price (target above it: `above`; below: `below`); `cross` fixes "
            "the side the same way. With no price known yet, `direction` above/below and `target_price` "
            "are required. `repeat: every` fires again after `cooldown_seconds` once the price has moved "
            "back past the target by `rearm_percent`. `expires_at`, `note` and `channels` are optional. "
            "Creates are throttled per user (both paths share the budget): over it, 429 + Retry-After. "
            'A watchlist: `"symbols": [...]` instead of `symbol` creates one alert per symbol (all or '
            "none; each counts toward the cap) and answers with the watchlist (`/alert-groups/<id>`). "
            "Window kinds (issue 18): `move_percent` + `direction` (up/down/either) + `window` (1m, 5m, "
            "15m, 1h, 4h, 24h) fires when a traded price is that far from the window's lowest (up) or "
            "highest (down); `volume_quote` + `window` fires when the window's quote volume reaches it."
        ),
        request=PolymorphicProxySerializer(
            component_name="AlertCreateRequest",
            serializers=[
                AlertCreateInputSerializer,
                MoveAlertCreateInputSerializer,
                VolumeAlertCreateInputSerializer,
            ],
            resource_type_field_name=None,
        ),
        parameters=[RETRY_AFTER],
        responses={
            201: PolymorphicProxySerializer(
                component_name="AlertCreated",
                serializers=[AlertOutputSerializer, AlertGroupOutputSerializer],
                resource_type_field_name=None,
            ),
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            409: error(
                "The caller already has ALERTS_MAX_WAITING_PER_USER active alerts (default 200), or the "
                "watchlist's symbols would pass it."
            ),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: too_many("alerts created", "ALERT_CREATE"),
        },
    )
    def post(self, request, *args, **kwargs):
        payload = create_input_serializer(request.data)
        payload.is_valid(raise_exception=True)
        create = alert_create if isinstance(payload, AlertCreateInputSerializer) else window_alert_create
        try:
            if "symbols" in payload.validated_data:
                # A watchlist (alerts.groups): its alerts, all or none, answered as the group.
                create_group = (
                    alert_group_create
                    if isinstance(payload, AlertCreateInputSerializer)
                    else window_alert_group_create
                )
                group = create_group(user=request.user, **payload.validated_data)
                return Response(AlertGroupOutputSerializer(group).data, status=status.HTTP_201_CREATED)
            alert = create(user=request.user, **payload.validated_data)
        except AlertLimitReached as exc:
            raise AlertLimitConflict(str(exc)) from exc
        # The same fields as GET /alerts/<id>: a client needs no second read.
        return Response(AlertOutputSerializer(alert_with_details(alert)).data, status=status.HTTP_201_CREATED)


class AlertListApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_list",
        summary="List the caller's alerts",
        description=(
            "Newest first, paginated. Deleted alerts are hidden unless `?status=deleted`; "
            "`?status=` also takes created, rearming, triggered and expired. "
            "`?page_size=` is an alias of `?per_page=`. Each alert has the same fields as "
            "`GET /alerts/<id>` (`symbol_status` and `channels` included)."
        ),
        parameters=[
            AlertListQuerySerializer,
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=Alert.Status.values,
                description=f"Only alerts with this status ({VALID_STATUSES}); default: all but deleted.",
            ),
            OpenApiParameter(
                "symbol", OpenApiTypes.STR, description="Only alerts for this symbol (case-insensitive)."
            ),
        ],
        responses={
            200: AlertPageOutputSerializer,
            400: error("An unknown status, a malformed symbol, or a bad page/per_page."),
            401: UNAUTHENTICATED,
            404: error("The page number is past the last page."),
        },
    )
    def get(self, request, *args, **kwargs):
        query = AlertListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = alert_list_page(user=request.user, filters=request.query_params, **query.validated_data)
        return Response(
            {
                "count": page.count,
                "next": _page_link(request, page.next_number),
                "previous": _page_link(request, page.previous_number),
                "results": AlertOutputSerializer(page.alerts, many=True).data,
            }
        )


class AlertDetailApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_get",
        summary="Get one of the caller's alerts",
        description=(
            "The same fields as each alert of the list and the create answer, `symbol_status` (the "
            "symbol's catalogue status: `TRADING`, or `UNKNOWN` once delisted) and `channels` "
            "included. Deleted alerts are still readable here."
        ),
        parameters=[ALERT_ID],
        responses={200: AlertOutputSerializer, 401: UNAUTHENTICATED, 404: NOT_YOURS},
    )
    def get(self, request, alert_id, *args, **kwargs):
        alert = _owned_alert(request, alert_id)
        return Response(AlertOutputSerializer(alert).data)


class AlertUpdateApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_update",
        summary="Change a waiting alert's target, direction, note or expiry",
        description=(
            "Only while the alert is `created` (waiting) or `rearming`: a triggered, expired or deleted "
            "alert answers 409. Fields left out keep their value; the direction is not re-inferred "
            "(except for `cross`, whose side is fixed again from the latest price). A new target or "
            "direction re-arms the alert from now: it fires only on prices seen after the change."
        ),
        parameters=[ALERT_ID],
        request=AlertUpdateInputSerializer,
        responses={
            200: AlertOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
            409: error("The alert is triggered, expired or deleted, so it can no longer be changed."),
            415: UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def patch(self, request, alert_id, *args, **kwargs):
        alert = _owned_alert(request, alert_id)
        payload = AlertUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            alert = alert_update(alert=alert, **payload.validated_data)
        except AlertNotEditable as exc:
            raise AlertConflict(str(exc)) from exc
        return Response(AlertOutputSerializer(alert).data)


class AlertDeleteApi(APIView):
    @extend_schema(
        tags=[TAG],
        operation_id="alert_delete",
        summary="Delete an alert",
        description=(
            "Soft delete: the alert stops waiting and its status becomes `deleted`. Deleting an "
            "already deleted alert is harmless (204 again). Also served at `DELETE /alerts/delete/<id>`."
        ),
        parameters=[ALERT_ID],
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            404: NOT_YOURS,
        },
    )
    def delete(self, request, alert_id, *args, **kwargs):
        alert_delete(alert=_owned_alert(request, alert_id, select=alert_owned))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertCollectionApi(AlertListApi, AlertCreateApi):
    """GET and POST /alerts/."""


class AlertItemApi(AlertDetailApi, AlertUpdateApi, AlertDeleteApi):
    """GET, PATCH and DELETE /alerts/<id>."""
