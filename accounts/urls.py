"""HTTP routes of the accounts app (each with and without a trailing slash)."""

from accounts import apis
from api.routing import slash_optional

urlpatterns = [
    slash_optional("register", apis.RegisterApi.as_view(), name="register"),
    slash_optional("signup", apis.RegisterApi.as_view(), name="signup"),
    slash_optional("token", apis.TokenObtainApi.as_view(), name="token"),
    slash_optional("login", apis.TokenObtainApi.as_view(), name="login"),
    slash_optional("token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    slash_optional("logout", apis.LogoutApi.as_view(), name="logout"),
    slash_optional("user", apis.UserMeApi.as_view(), name="user"),
]
