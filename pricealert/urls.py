"""Root URL configuration: wiring only; each app owns its routes."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.throttling import throttle_login_form
from api.routing import slash_optional

handler400 = "api.errors.json_400"
handler404 = "api.errors.json_404"
handler500 = "api.errors.json_500"

urlpatterns = [
    # The admin's login form, under the same login throttles as POST /token.
    path("admin/login/", throttle_login_form(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    # Operators type /admin; a GET redirect is harmless (no API path ever redirects).
    path("admin", RedirectView.as_view(url="/admin/", permanent=False)),
    slash_optional("api/schema", SpectacularAPIView.as_view(), name="schema"),
    slash_optional("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The web app: pages for people (web/); the bare site sends them there.
    path("app/", include("web.urls")),
    path("app", RedirectView.as_view(url="/app/", permanent=False)),
    path("", RedirectView.as_view(url="/app/", permanent=False), name="home"),
    path("", include("accounts.urls")),
    path("", include("alerts.urls")),
    path("", include("feeds.urls")),
    path("", include("operations.urls")),
]
