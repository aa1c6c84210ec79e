"""Django admin for the alerts app."""

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from alerts.cache import invalidate_alert_lists
from alerts.models import Alert, Notification
from alerts.services import alerts_rearm, alerts_soft_delete
from alerts.tasks import retry_notifications

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

    def get_inlines(self, request, obj):
        # The emails it sent (NotificationInline, in the notifications block below);
        # none on the add page, where a new alert has none.
        return (NotificationInline,) if obj is not None else ()


# --- end of the alerts block ---------------------------------------------------


# --- Notifications (issue 5: the engine's email outbox) ------------------------

NOTIFICATION_FIELDS = (
    "channel",
    "to",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)


class NotificationInline(admin.TabularInline):
    """The emails an alert sent (or is sending): read-only, the outbox is written by the engine."""

    model = Notification
    fields = NOTIFICATION_FIELDS
    readonly_fields = NOTIFICATION_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "alert_link",
        "to",
        "channel",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "short_error",
    )
    list_filter = ("status", "channel")
    search_fields = ("to", "alert__symbol", "=alert__id", "=id")
    list_select_related = ("alert",)
    readonly_fields = ("alert", *NOTIFICATION_FIELDS)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("retry",)

    def has_add_permission(self, request):
        return False  # written by the engine, in the transaction that triggers the alert

    @admin.display(description="alert", ordering="alert__id")
    def alert_link(self, notification):
        url = reverse("admin:alerts_alert_change", args=[notification.alert_id])
        return format_html('<a href="{}">#{} {}</a>', url, notification.alert_id, notification.alert.symbol)

    @admin.display(description="last error")
    def short_error(self, notification):
        error = notification.last_error
        return error if len(error) <= 80 else error[:79] + "…"

    @admin.action(description="Retry sending the selected notifications (sent ones are never resent)")
    def retry(self, request, queryset):
        selected = list(queryset.values_list("id", flat=True))
        retried = retry_notifications(selected)
        skipped = len(selected) - retried
        self.message_user(request, f"{retried} notification(s) queued to send again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: already sent, or being sent or retried right now.",
                messages.WARNING,
            )


# --- end of the notifications block ---------------------------------------------
