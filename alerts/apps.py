"""The alerts app: alerts, their channels and notifications, the engine (alerts/engine/) and delivery
(alerts/delivery/)."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"

    def ready(self):
        from alerts import signals  # noqa: F401  (connects the new-user email channel)
        from alerts.delivery import unconfirmed  # noqa: F401  (releases emails kept until an address is confirmed)
