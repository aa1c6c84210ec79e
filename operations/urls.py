"""HTTP routes of the operations room (with and without a trailing slash)."""

from api.routing import slash_optional
from operations.health import HealthView

urlpatterns = [
    slash_optional("health", HealthView.as_view(), name="health"),
]
