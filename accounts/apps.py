from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self):
        # Registers the schema's names for the authentication classes (drf-spectacular extensions).
        from accounts import openapi  # noqa: F401
