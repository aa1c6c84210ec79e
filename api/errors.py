"""One JSON error shape for the whole API: {"detail": "...", "errors": {...}}."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    return str(detail)


def json_exception_handler(exc, context):
    # Services raise Django's ValidationError (they are called from the admin and
    # the shell too); over HTTP it is the same 400 as a serializer's.
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "errors": response.data}
    return response


def json_404(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_400(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)
