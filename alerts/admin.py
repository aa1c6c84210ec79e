"""Django admin for the alerts app."""

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from alerts.cache import invalidate_alert_lists
from alerts.delivery.outbox import retry_notifications
from alerts.models import Alert, Channel, Notification
from alerts.services import alerts_rearm, alerts_soft_delete, rearm_price

# --- Alerts ---------------------------------------------------------------------


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user_email",
        "symbol",
        "direction",
        "crossing",
        "target_price",
        "repeat",
        "status",
        "trigger_count",
        "created_at",
        "armed_at",
        "last_triggered_at",
        "expires_at",
    )
    list_filter = ("status", "direction", "crossing", "repeat", "symbol")
    search_fields = ("user__email", "symbol", "note", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    filter_horizontal = ("channels",)
    fields = (
        "user",
        "symbol",
        "direction",
        "crossing",
        "target_price",
        "reference_price",
        "change_percent",
        "status",
        "repeat",
        "cooldown_seconds",
        "rearm_percent",
        "rearm_price",
        "rearm_after_ms",
        "expires_at",
        "note",
        "channels",
        "created_at",
        "armed_at",
        "triggered_at",
        "triggered_price",
        "last_triggered_at",
        "trigger_count",
    )
    readonly_fields = (
        "created_at",
        "armed_at",
        "reference_price",
        "change_percent",
        "rearm_price",
        "rearm_after_ms",
        "last_triggered_at",
        "trigger_count",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("rearm", "soft_delete")

    @admin.display(description="user", ordering="user__email")
    def user_email(self, alert):
        return alert.user.email

    @admin.action(description="Re-arm selected alerts (back to waiting, counting prices from now)")
    def rearm(self, request, queryset):
        changed = alerts_rearm(alerts=queryset)
        self.message_user(request, f"{changed} alert(s) re-armed.", messages.SUCCESS)

    @admin.action(description="Soft-delete selected alerts")
    def soft_delete(self, request, queryset):
        changed = alerts_soft_delete(alerts=queryset)
        self.message_user(request, f"{changed} alert(s) deleted.", messages.SUCCESS)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        # Left out of the form, they keep the model's defaults (once, 0.1%).
        for name in ("repeat", "rearm_percent"):
            if name in form.base_fields:
                form.base_fields[name].required = False
        return form

    def save_model(self, request, obj, form, change):
        obj.symbol = obj.symbol.strip().upper()
        if obj.repeat == Alert.Repeat.ONCE:
            obj.cooldown_seconds = None
        obj.rearm_price = rearm_price(obj.target_price, obj.direction, obj.rearm_percent)
        if not change or {"target_price", "direction", "status"} & set(form.changed_data):
            # The engine counts only prices seen after this (a changed target re-arms from now).
            obj.armed_at = timezone.now()
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
        # The notifications it sent (NotificationInline, in the notifications block below);
        # none on the add page, where a new alert has none.
        return (NotificationInline,) if obj is not None else ()


# --- end of the alerts block ---------------------------------------------------


# --- Notifications (the outbox the engine writes) -------------------------------

NOTIFICATION_FIELDS = (
    "channel",
    "via",
    "to",
    "firing",
    "triggered_price",
    "triggered_at",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)


class NotificationInline(admin.TabularInline):
    """The notifications an alert sent (or is sending): read-only, the outbox is written by the engine."""

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
        "via",
        "firing",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "short_error",
    )
    list_filter = ("status", "channel")
    search_fields = ("to", "alert__symbol", "=alert__id", "=id")
    list_select_related = ("alert", "via")
    readonly_fields = ("alert", "user", *NOTIFICATION_FIELDS)
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


# --- Channels (where notifications go) -------------------------------------------


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "name", "enabled", "disabled_reason", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("user__email", "name", "url", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "secret")
    ordering = ("-id",)


# --- end of the channels block ---------------------------------------------------
