"""The operations app: installed for its management command (pricealert_status); no models."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
