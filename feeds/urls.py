"""HTTP routes of the feeds app."""

urlpatterns = []
