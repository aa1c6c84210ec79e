"""Django admin for the alerts app."""

from django.contrib import admin, messages
from django.db import transaction

from alerts.cache import invalidate_alert_lists
from alerts.models import Alert
from alerts.services import alerts_rearm, alerts_soft_delete

# --- Alerts (issue 3: the API's admin) ----------------------------------------


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user_email",
        "symbol",
        "direction",
        "target_price",
        "status",
        "created_at",
        "triggered_at",
        "triggered_price",
    )
    list_filter = ("status", "direction", "symbol")
    search_fields = ("user__email", "symbol", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("rearm", "soft_delete")

    @admin.display(description="user", ordering="user__email")
    def user_email(self, alert):
        return alert.user.email

    @admin.action(description="Re-arm selected alerts (back to waiting)")
    def rearm(self, request, queryset):
        changed = alerts_rearm(alerts=queryset)
        self.message_user(request, f"{changed} alert(s) re-armed.", messages.SUCCESS)

    @admin.action(description="Soft-delete selected alerts")
    def soft_delete(self, request, queryset):
        changed = alerts_soft_delete(alerts=queryset)
        self.message_user(request, f"{changed} alert(s) deleted.", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        obj.symbol = obj.symbol.strip().upper()
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            invalidate_alert_lists([obj.user_id])

    def delete_model(self, request, obj):
        with transaction.atomic():
            super().delete_model(request, obj)
            invalidate_alert_lists([obj.user_id])

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            user_ids = set(queryset.values_list("user_id", flat=True))
            super().delete_queryset(request, queryset)
            invalidate_alert_lists(user_ids)


# --- end of the alerts block ---------------------------------------------------
