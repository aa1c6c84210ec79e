"""GET /prices/<SYMBOL>: the latest price in the price store, its event time and age."""

import redis
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.openapi import UNAUTHENTICATED, error
from feeds.store import latest_price


class PriceStoreUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The price store is unavailable right now; try again shortly."
    default_code = "price_store_unavailable"


class PriceOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    price = serializers.CharField(help_text="The last traded price: a decimal string as Binance sent it.")
    event_time = serializers.DateTimeField(help_text="When that trade happened (exchange time, UTC).")
    age_seconds = serializers.FloatField(help_text="Seconds between the trade and now.")


class PriceApi(APIView):
    @extend_schema(
        tags=["prices"],
        operation_id="price_get",
        summary="Latest price of a symbol",
        description=(
            "Read from the live price store. The feeder follows the symbols that have waiting "
            "alerts, so a symbol nobody watches has no price yet (404)."
        ),
        parameters=[
            OpenApiParameter(
                "symbol", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. BTCUSDT (any case)."
            )
        ],
        responses={
            200: PriceOutputSerializer,
            401: UNAUTHENTICATED,
            404: error("No price is known for this symbol yet."),
            503: error("The price store (Redis) does not answer."),
        },
    )
    def get(self, request, symbol):
        symbol = symbol.upper()
        try:
            latest = latest_price(symbol)
        except redis.RedisError as exc:
            raise PriceStoreUnavailable() from exc
        if latest is None:
            raise NotFound(f"No price is known for {symbol} yet.")
        return Response(
            PriceOutputSerializer(
                {
                    "symbol": latest.symbol,
                    "price": str(latest.price),
                    "event_time": latest.event_time,
                    "age_seconds": round(latest.age_seconds, 3),
                }
            ).data
        )
