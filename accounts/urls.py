"""HTTP routes of the accounts app (with and without a trailing slash); /signup and /login are aliases."""

from accounts import apikey_apis, apis, password_apis, verify_apis
from api.routing import alias, slash_optional

urlpatterns = [
    slash_optional("register", apis.RegisterApi.as_view(), name="register"),
    alias("signup", apis.RegisterApi, name="signup"),
    slash_optional("token", apis.TokenObtainApi.as_view(), name="token"),
    alias("login", apis.TokenObtainApi, name="login"),
    slash_optional("token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    slash_optional("logout", apis.LogoutApi.as_view(), name="logout"),
    slash_optional("user", apis.UserMeApi.as_view(), name="user"),
    slash_optional("user/password", password_apis.PasswordChangeApi.as_view(), name="password-change"),
    slash_optional("password/reset", password_apis.PasswordResetApi.as_view(), name="password-reset"),
    slash_optional(
        "password/reset/confirm",
        password_apis.PasswordResetConfirmApi.as_view(),
        name="password-reset-confirm",
    ),
    slash_optional("verify", verify_apis.VerifyApi.as_view(), name="verify"),
    slash_optional("verify/resend", verify_apis.VerifyResendApi.as_view(), name="verify-resend"),
    slash_optional("api-keys", apikey_apis.ApiKeyCollectionApi.as_view(), name="api-keys"),
    slash_optional(r"api-keys/(?P<key_id>[0-9]{1,19})", apikey_apis.ApiKeyItemApi.as_view(), name="api-key"),
]
