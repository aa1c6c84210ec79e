"""Root URL configuration: wiring only; each app owns its routes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from pricealert.health import HealthView

handler400 = "pricealert.errors.json_400"
handler404 = "pricealert.errors.json_404"
handler500 = "pricealert.errors.json_500"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("accounts.urls")),
    path("", include("alerts.urls")),
    path("", include("feeds.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("health/", HealthView.as_view()),
]
