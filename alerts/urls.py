"""HTTP routes of the alerts app."""

urlpatterns = []
