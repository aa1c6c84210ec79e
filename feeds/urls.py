"""HTTP routes of the feeds app (each with and without a trailing slash)."""

from api.routing import slash_optional
from feeds import apis

urlpatterns = [
    slash_optional(r"prices/(?P<symbol>[A-Za-z0-9]{1,32})", apis.PriceApi.as_view(), name="price"),
]
