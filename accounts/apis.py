"""HTTP endpoints of the accounts app: register, token, refresh, logout, the caller."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.permissions import FORBIDDEN_WITH_API_KEY, NotWithApiKey
from accounts.serializers import (
    AccountDeleteInputSerializer,
    LogoutInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    RegisterOutputSerializer,
    TokenObtainInputSerializer,
    TokenPairOutputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)
from accounts.services import (
    LoginFailed,
    account_delete,
    token_blacklist,
    token_obtain,
    token_refresh,
    user_register,
    user_update_preferences,
)
from accounts.throttling import (
    LOGIN_THROTTLES,
    REFRESH_THROTTLES,
    REGISTER_THROTTLES,
    TOO_MANY_REQUESTS,
    AccountDeleteThrottle,
)
from api.openapi import BAD_REQUEST, UNAUTHENTICATED, UNSUPPORTED_MEDIA_TYPE, error
from api.throttling import RETRY_AFTER, TooManyAttemptsAnswer

TAG = "accounts"
REGISTRATION_RECEIVED = (
    "Registration received: log in at /token with this email and password. If the address "
    "already had an account, nothing was changed and its owner has been emailed."
)


class PublicApi(TooManyAttemptsAnswer, APIView):
    """An endpoint that takes credentials in its body instead of a bearer token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        # Makes a failed login a 401 (DRF turns it into a 403 without a challenge).
        return f'{jwt_settings.AUTH_HEADER_TYPES[0]} realm="api"'


class RegisterApi(PublicApi):
    throttle_classes = REGISTER_THROTTLES

    @extend_schema(
        tags=[TAG],
        operation_id="user_register",
        summary="Create an account",
        auth=[],
        description=(
            "Registers a user; the email address is the login (case-insensitive, unique). "
            "Also served at `/signup`. The password is never returned.\n\n"
            "The answer is the same whether or not the address already has an account, so "
            "nobody can find out which addresses are registered: a new address gets its account "
            "and a welcome email; an address that already has one is left unchanged and its "
            "owner is emailed that someone tried to register with it. Log in at `/token` "
            "afterwards. Throttled per client address and per email address (429)."
        ),
        request=RegisterInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: RegisterOutputSerializer,
            400: error("Invalid input, a weak password, or the username is taken."),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = RegisterInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        registration = user_register(**payload.validated_data)
        body = {
            "detail": REGISTRATION_RECEIVED,
            "email": registration.email,
            "username": registration.username,
        }
        return Response(RegisterOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(PublicApi):
    throttle_classes = LOGIN_THROTTLES

    @extend_schema(
        tags=[TAG],
        operation_id="token_obtain",
        summary="Log in: get an access and a refresh token",
        auth=[],
        description=(
            'Send `{"email", "password"}` or `{"username", "password"}` (the username may also be the '
            "email). Also served at `/login`. Use the access token as `Authorization: Bearer <access>`. "
            "Throttled per client address and per login (429)."
        ),
        request=TokenObtainInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: TokenPairOutputSerializer,
            400: BAD_REQUEST,
            401: error("Wrong credentials or inactive account (one message for both)."),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = TokenObtainInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            tokens = token_obtain(request=request, **payload.validated_data)
        except LoginFailed as exc:
            raise AuthenticationFailed(str(exc), "no_active_account") from exc
        return Response(TokenPairOutputSerializer(tokens).data)


class TokenRefreshApi(PublicApi):
    throttle_classes = REFRESH_THROTTLES

    @extend_schema(
        tags=[TAG],
        operation_id="token_refresh",
        summary="Exchange a refresh token for a new token pair",
        auth=[],
        description=(
            "Returns a new access token and a new refresh token; the refresh token sent is "
            "blacklisted (rotation), so each refresh token works exactly once. "
            "Throttled per client address and per account (429)."
        ),
        request=RefreshInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            200: TokenPairOutputSerializer,
            400: BAD_REQUEST,
            401: error("The refresh token is invalid, expired or already used/blacklisted."),
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def post(self, request):
        payload = RefreshInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            tokens = token_refresh(**payload.validated_data)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        except LoginFailed as exc:
            raise AuthenticationFailed(str(exc), "no_active_account") from exc
        return Response(TokenPairOutputSerializer(tokens).data)


class LogoutApi(PublicApi):
    @extend_schema(
        tags=[TAG],
        operation_id="token_revoke",
        summary="Log out: end this session, or every session",
        auth=[],
        description=(
            "Blacklists the refresh token and ends its session: its refresh tokens are refused, and "
            'so are the access tokens it issued. With `"all": true`, every session of the account '
            "ends (every device, every token issued so far). The refresh token is the credential "
            "here; no access token is needed. API keys are not sessions: revoke them at "
            "`DELETE /api-keys/<id>`."
        ),
        request=LogoutInputSerializer,
        responses={
            204: OpenApiResponse(description="Logged out."),
            400: BAD_REQUEST,
            401: error("The refresh token is invalid, expired or already blacklisted."),
            415: UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def post(self, request):
        payload = LogoutInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            token_blacklist(**payload.validated_data)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserMeApi(TooManyAttemptsAnswer, APIView):
    # Counts DELETEs only (password guesses through deletion); reading is free.
    throttle_classes = [AccountDeleteThrottle]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated(), NotWithApiKey()]
        return super().get_permissions()

    @extend_schema(
        tags=[TAG],
        operation_id="user_me",
        summary="The authenticated user",
        description="The account the bearer token (or API key) belongs to, with its time zone and quiet "
        "hours. `email_verified` false: nothing is delivered to the address until it is confirmed "
        "(`POST /verify/resend` sends a new link).",
        responses={200: UserOutputSerializer, 401: UNAUTHENTICATED},
    )
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(
        tags=[TAG],
        operation_id="user_update",
        summary="Set the caller's time zone and quiet hours",
        description=(
            "`time_zone`: an IANA name (validated against the tz database). `quiet_hours`: "
            '"HH:MM-HH:MM" wall-clock time in that zone (start included, end excluded; "23:00-07:00" '
            'spans midnight), "" for none. Deliveries that fall in them are held and sent when they '
            "end as one digest per channel, never dropped; the hours follow the zone's DST changes. "
            "What is held already is re-timed to the new hours."
        ),
        request=UserUpdateInputSerializer,
        responses={
            200: UserOutputSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            415: UNSUPPORTED_MEDIA_TYPE,
        },
    )
    def patch(self, request):
        payload = UserUpdateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = user_update_preferences(user=request.user, **payload.validated_data)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(
        tags=[TAG],
        operation_id="user_delete",
        summary="Delete the account",
        description="Deletes the account and everything of it (alerts, channels, notifications, sessions, "
        "API keys), at once and for good. Needs the password; not allowed with an API key (403). "
        "Throttled per user (429).",
        request=AccountDeleteInputSerializer,
        parameters=[RETRY_AFTER],
        responses={
            204: OpenApiResponse(description="Deleted."),
            400: error("Wrong password or invalid input."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN_WITH_API_KEY,
            415: UNSUPPORTED_MEDIA_TYPE,
            429: TOO_MANY_REQUESTS,
        },
    )
    def delete(self, request):
        payload = AccountDeleteInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        account_delete(user=request.user, **payload.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)
