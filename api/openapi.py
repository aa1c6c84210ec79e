"""OpenAPI pieces shared by every app: the error body and the usual error responses."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error: one human-readable message; validation errors also list them per field."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = serializers.DictField(
        required=False,
        help_text="Validation errors only: field name -> list of messages.",
    )


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


BAD_REQUEST = error("Invalid input: malformed JSON or a field that fails validation.")
UNAUTHENTICATED = error("Missing, invalid or expired access token.")
UNSUPPORTED_MEDIA_TYPE = error("The body is not application/json.")
