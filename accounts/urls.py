"""HTTP routes of the accounts app (with and without a trailing slash); /signup and /login are aliases."""

from accounts import apis
from api.routing import alias, slash_optional

urlpatterns = [
    slash_optional("register", apis.RegisterApi.as_view(), name="register"),
    alias("signup", apis.RegisterApi, name="signup"),
    slash_optional("token", apis.TokenObtainApi.as_view(), name="token"),
    alias("login", apis.TokenObtainApi, name="login"),
    slash_optional("token/refresh", apis.TokenRefreshApi.as_view(), name="token-refresh"),
    slash_optional("logout", apis.LogoutApi.as_view(), name="logout"),
    slash_optional("user", apis.UserMeApi.as_view(), name="user"),
]
