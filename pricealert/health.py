"""GET /health: can this deployment serve and evaluate alerts right now?"""

from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from feeds.store import redis_client


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


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(summary="Health of the database and Redis", responses={200: dict, 503: dict})
    def get(self, request):
        checks = {"database": database_ok(), "redis": redis_ok()}
        healthy = all(checks.values())
        body = {
            "status": "ok" if healthy else "unavailable",
            "checks": {name: "ok" if ok else "error" for name, ok in checks.items()},
        }
        return Response(body, status=200 if healthy else 503)
