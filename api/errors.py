"""One JSON error shape for the whole API: {"detail": "...", "errors": {"field": ["..."]}}."""

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


def _flatten(detail, path: str = "") -> dict[str, list[str]]:
    """Field errors as the documented map, field -> messages; a nested field is named by its path.

    ``{"channels": {0: [...]}}`` becomes ``{"channels.0": [...]}``.
    """
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = enumerate(detail)  # a list of items, each with its own errors (empty when it passed)
    else:
        return {path or "non_field_errors": [str(message) for message in detail]} if detail else {}
    flat = {}
    for key, value in items:
        flat.update(_flatten(value, f"{path}.{key}" if path else str(key)))
    return flat


def json_exception_handler(exc, context):
    # Services raise Django's ValidationError (they are called from the admin and
    # the shell too); over HTTP it is the same 400 as a serializer's.
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": _first_message(exc.detail), "errors": _flatten(response.data)}
    else:
        # One sentence and nothing else: simplejwt's token errors also carry "code" and "messages".
        response.data = {"detail": _first_message(response.data)}
    return response


def json_404(request, exception=None):
    return JsonResponse({"detail": "Not found."}, status=404)


def json_500(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def json_400(request, exception=None):
    return JsonResponse({"detail": "Bad request."}, status=400)
