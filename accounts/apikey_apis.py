"""HTTP endpoints of API keys: create (the key shown once), list (no secret), revoke.

Managing keys needs a session's access token: a key cannot make, list or
revoke keys (403), so a leaked key cannot mint itself successors.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apikeys import MAX_KEYS_PER_USER, api_key_create, api_key_list, api_key_revoke
from accounts.apis import TAG
from accounts.permissions import FORBIDDEN_WITH_API_KEY, NotWithApiKey
from accounts.serializers import (
    ApiKeyCreatedOutputSerializer,
    ApiKeyCreateInputSerializer,
    ApiKeyOutputSerializer,
)
from accounts.throttling import TOO_MANY_REQUESTS, ApiKeyCreateThrottle
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer

KEY_ID = OpenApiParameter("key_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The key's id.")


class ApiKeyCollectionApi(TooManyAttemptsAnswer, APIView):
    permission_classes = [IsAuthenticated, NotWithApiKey]
    throttle_classes = [ApiKeyCreateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="api_key_list",
        summary="List the caller's API keys (never the keys themselves)",
        responses={200: ApiKeyOutputSerializer(many=True), 401: UNAUTHENTICATED, 403: FORBIDDEN_WITH_API_KEY},
    )
    def get(self, request):
        return Response(ApiKeyOutputSerializer(api_key_list(user=request.user), many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="api_key_create",
        summary="Create an API key for a script",
        description="The answer holds the key (`pa_...`) this once; only its SHA-256 digest is stored. Send "
        "it as `Authorization: Bearer <key>`: it works like an access token, without expiring every "
        "15 minutes, until it is revoked or reaches `expires_at`. A key cannot manage keys, change the "
        f"password or delete the account (403). At most {MAX_KEYS_PER_USER} keys per user. Creating is "
        "throttled per user (429).",
        request=ApiKeyCreateInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: ApiKeyCreatedOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN_WITH_API_KEY,
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = ApiKeyCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = api_key_create(user=request.user, **payload.validated_data)
        body = {**ApiKeyOutputSerializer(created.api_key).data, "key": created.key}
        return Response(ApiKeyCreatedOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ApiKeyItemApi(APIView):
    permission_classes = [IsAuthenticated, NotWithApiKey]

    @extend_schema(
        tags=[TAG],
        operation_id="api_key_revoke",
        summary="Revoke an API key",
        description="The key stops working at once.",
        parameters=[KEY_ID],
        responses={
            204: OpenApiResponse(description="Revoked."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN_WITH_API_KEY,
            404: error("No API key with this id belongs to the caller."),
        },
    )
    def delete(self, request, key_id):
        if not api_key_revoke(user=request.user, key_id=int(key_id)):
            raise NotFound("API key not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)
