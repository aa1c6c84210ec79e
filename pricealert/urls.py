"""Root URL configuration: wiring only; each app owns its routes."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.throttling import throttle_login_form
from api.routing import slash_optional
from operations.admin_page import operations_page

# The admin site's layout: the index opens with the operations page's panel, and no navigation
# sidebar, so a changelist's columns and filters fit a 1,280 px screen (the index and the
# breadcrumbs lead everywhere it did).
admin.site.index_template = "operations/admin_index.html"
admin.site.enable_nav_sidebar = False

handler400 = "api.errors.json_400"
handler404 = "api.errors.json_404"
handler500 = "api.errors.json_500"

urlpatterns = [
    # The admin's login form, under the same login throttles as POST /token.
    path("admin/login/", throttle_login_form(admin.site.login), name="admin-login"),
    # Before admin.site.urls, whose catch-all would answer it with a 404.
    path("admin/operations/", operations_page, name="admin-operations"),
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
