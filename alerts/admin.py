"""Django admin for the alerts app."""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils.html import format_html

from alerts.admin_forms import ALERT_EDITABLE, MASK, AlertAdminForm, ChannelAdminForm, masked_url
from alerts.cache import invalidate_alert_lists
from alerts.channels import ChannelConflict, ChannelLimitReached, channel_create, channel_update
from alerts.delivery.outbox import retry_notifications
from alerts.models import DEFAULT_REARM_PERCENT, Alert, Channel, Notification
from alerts.services import (
    AlertLimitReached,
    AlertNotEditable,
    alert_create,
    alert_update,
    alerts_rearm,
    alerts_soft_delete,
)


def log_bulk_action(request, queryset, what: str, changed: int) -> None:
    """An entry in each selected object's history: who ran which action, on how many, how many changed."""
    selected = list(queryset.model.objects.filter(pk__in=queryset.values("pk")))
    LogEntry.objects.log_actions(
        request.user.pk,
        selected,
        CHANGE,
        change_message=f'Bulk action "{what}" on {len(selected)} selected: {changed} changed.',
    )


# --- Alerts ---------------------------------------------------------------------


ALERT_SHOWN = (
    "user",
    "symbol",
    "status",
    *ALERT_EDITABLE,
    "crossing",
    "reference_price",
    "change_percent",
    "rearm_price",
    "rearm_after_ms",
    "created_at",
    "armed_at",
    "triggered_at",
    "triggered_price",
    "last_triggered_at",
    "trigger_count",
    "deliveries",
    # Window kinds (issue 18): shown, never edited here (create a new alert through the API).
    "kind",
    "window_seconds",
    "move_percent",
    "move_direction",
    "volume_quote",
)
# A window alert has no price target: these stay read-only on it.
WINDOW_READ_ONLY = ("direction", "target_price", "rearm_percent")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    form = AlertAdminForm
    list_display = (
        "id",
        "user_email",
        "symbol",
        "kind",
        "direction",
        "crossing",
        "target_price",
        "window_seconds",
        "repeat",
        "status",
        "trigger_count",
        "created_at",
        "armed_at",
        "last_triggered_at",
        "expires_at",
    )
    list_filter = ("status", "kind", "direction", "crossing", "repeat", "window_seconds", "symbol")
    search_fields = ("user__email", "symbol", "note", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    filter_horizontal = ("channels",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    actions = ("rearm", "soft_delete")

    def get_fields(self, request, obj=None):
        # A new alert: what POST /alerts/ takes. A saved one shows everything, edits ALERT_EDITABLE.
        return ("user", "symbol", *ALERT_EDITABLE) if obj is None else ALERT_SHOWN

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        window = obj.kind in Alert.WINDOW_KINDS
        return tuple(f for f in ALERT_SHOWN if f not in ALERT_EDITABLE or (window and f in WINDOW_READ_ONLY))

    def has_change_permission(self, request, obj=None):
        # Like the API, only a waiting (or re-arming) alert can be changed; the others are
        # shown read-only and go back to waiting through the re-arm action.
        if obj is not None and obj.status not in Alert.ACTIVE_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # A hard delete would take the alert's notifications with it: soft delete only.
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="user", ordering="user__email")
    def user_email(self, alert):
        return alert.user.email

    @admin.display(description="deliveries")
    def deliveries(self, alert):
        url = reverse("admin:alerts_notification_changelist") + f"?alert__exact={alert.pk}"
        count = alert.notifications.count()
        return format_html('<a href="{}">{} notification(s), every one</a>', url, count)

    @admin.action(description="Re-arm selected alerts (back to waiting, counting prices from now)")
    def rearm(self, request, queryset):
        changed = alerts_rearm(alerts=queryset)
        log_bulk_action(request, queryset, "re-arm", changed)
        self.message_user(request, f"{changed} alert(s) re-armed.", messages.SUCCESS)

    @admin.action(description="Soft-delete selected alerts")
    def soft_delete(self, request, queryset):
        changed = alerts_soft_delete(alerts=queryset)
        log_bulk_action(request, queryset, "soft delete", changed)
        self.message_user(request, f"{changed} alert(s) deleted.", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        channels = [channel.pk for channel in data.get("channels") or ()]
        try:
            saved = (
                self._update(obj, data, set(form.changed_data), channels)
                if change
                else alert_create(
                    user=data["user"],
                    symbol=data["symbol"],
                    target_price=data["target_price"],
                    direction=data["direction"],
                    repeat=data.get("repeat") or Alert.Repeat.ONCE,
                    cooldown_seconds=data.get("cooldown_seconds"),
                    rearm_percent=data.get("rearm_percent") or DEFAULT_REARM_PERCENT,
                    expires_at=data.get("expires_at"),
                    note=data.get("note") or "",
                    channels=channels,
                )
            )
        except (ValidationError, AlertNotEditable, AlertLimitReached) as error:
            # Changed by someone else since the form was checked: nothing was written.
            raise PermissionDenied(" ".join(getattr(error, "messages", [str(error)]))) from error
        obj.pk = saved.pk
        obj.refresh_from_db()

    @staticmethod
    def _update(alert, data, changed, channels):
        kwargs = {name: data[name] for name in ("target_price", "direction", "note") if name in changed}
        if "expires_at" in changed:
            kwargs["expires_at"] = data["expires_at"]
        if {"repeat", "cooldown_seconds", "rearm_percent"} & changed:
            kwargs.update(
                repeat=data.get("repeat") or Alert.Repeat.ONCE,
                cooldown_seconds=data.get("cooldown_seconds"),
                rearm_percent=data.get("rearm_percent") or DEFAULT_REARM_PERCENT,
            )
        if "channels" in changed:
            kwargs["channels"] = channels
        return alert_update(alert=Alert.objects.get(pk=alert.pk), **kwargs)

    def save_related(self, request, form, formsets, change):
        # The channels were saved by alert_create/alert_update; the inline is read-only.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        with transaction.atomic():
            super().delete_model(request, obj)
            invalidate_alert_lists([obj.user_id])

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


INLINE_NOTIFICATIONS = 20


class NotificationInline(admin.TabularInline):
    """The notifications an alert sent (or is sending): read-only, the outbox is written by the engine."""

    model = Notification
    fields = NOTIFICATION_FIELDS
    readonly_fields = NOTIFICATION_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-created_at", "-id")
    verbose_name_plural = (
        f"latest {INLINE_NOTIFICATIONS} notifications (all of them: the deliveries link above)"
    )

    def get_queryset(self, request):
        # Only the latest ones: an alert with thousands of deliveries must still open at once.
        queryset = super().get_queryset(request)
        alert_id = (request.resolver_match.kwargs if request.resolver_match else {}).get("object_id")
        if alert_id is None or not str(alert_id).isdigit():
            return queryset.none()
        latest = queryset.filter(alert_id=alert_id).order_by("-created_at", "-id")[:INLINE_NOTIFICATIONS]
        return queryset.filter(pk__in=list(latest.values_list("pk", flat=True)))

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
        "user_email",
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
    list_filter = ("status", "channel", "firing")
    search_fields = ("user__email", "to", "alert__symbol", "=alert__id", "=id")
    list_select_related = ("alert", "via", "user")
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

    @admin.display(description="user", ordering="user__email")
    def user_email(self, notification):
        return notification.user.email if notification.user else "-"

    @admin.display(description="last error")
    def short_error(self, notification):
        error = notification.last_error
        return error if len(error) <= 80 else error[:79] + "…"

    @admin.action(description="Retry sending the selected notifications (sent ones are never resent)")
    def retry(self, request, queryset):
        selected = list(queryset.values_list("id", flat=True))
        retried = retry_notifications(selected)
        skipped = len(selected) - retried
        log_bulk_action(request, queryset, "retry sending", retried)
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
    form = ChannelAdminForm
    list_display = (
        "id",
        "user",
        "kind",
        "name",
        "enabled",
        "failures",
        "last_failure",
        "last_delivery",
        "disabled_reason",
    )
    list_filter = ("kind", "enabled")
    search_fields = ("user__email", "name", "url", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    ordering = ("-id",)

    def get_queryset(self, request):
        # Which channels fail, in the same query as the page (no query per row).
        failed = Notification.objects.filter(via=OuterRef("pk"), status=Notification.Status.FAILED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                failure_count=Count("notifications", filter=Q(notifications__status="failed")),
                last_sent_at=Max("notifications__sent_at"),
                last_error=Subquery(failed.order_by("-created_at", "-id").values("last_error")[:1]),
            )
        )

    @admin.display(description="failures", ordering="failure_count")
    def failures(self, channel):
        url = reverse("admin:alerts_notification_changelist")
        return format_html(
            '<a href="{}?via__exact={}&status__exact=failed">{}</a>', url, channel.pk, channel.failure_count
        )

    @admin.display(description="last error")
    def last_failure(self, channel):
        error = channel.last_error or ""
        return error if len(error) <= 60 else error[:59] + "…"

    @admin.display(description="last delivery", ordering="last_sent_at")
    def last_delivery(self, channel):
        return channel.last_sent_at

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "kind", "name", "new_url", "enabled")
        return (
            "user",
            "kind",
            "name",
            "masked_url",
            "new_url",
            "masked_secret",
            "enabled",
            "disabled_reason",
            "created_at",
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("user", "kind", "masked_url", "masked_secret", "disabled_reason", "created_at")

    def has_delete_permission(self, request, obj=None):
        # The email channel is the account's address: it can be disabled, never deleted.
        if obj is not None and obj.kind == Channel.Kind.EMAIL:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="URL (masked)")
    def masked_url(self, channel):
        return masked_url(channel.url) or "-"

    @admin.display(description="signing secret")
    def masked_secret(self, channel):
        return f"{MASK} (set; shown to its owner once, on creation)" if channel.secret else "-"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            channel_update(
                channel=obj, name=data["name"], url=data.get("new_url") or None, enabled=data["enabled"]
            )
            return
        try:
            saved = channel_create(
                user=data["user"], kind=data["kind"], name=data["name"], url=data["new_url"]
            )
        except (ChannelConflict, ChannelLimitReached) as error:
            # Another channel was made since the form was checked: nothing was written.
            raise PermissionDenied(str(error)) from error
        if not data["enabled"]:
            channel_update(channel=saved, enabled=False)
        obj.pk = saved.pk
        obj.refresh_from_db()


# --- end of the channels block ---------------------------------------------------
