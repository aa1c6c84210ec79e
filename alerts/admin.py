"""Django admin for the alerts app."""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.templatetags.admin_list import _boolean_icon
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from alerts.admin_forms import (
    ALERT_EDITABLE,
    CHANNEL_DELIVERY_FIELDS,
    MASK,
    AlertAdminForm,
    ChannelAdminForm,
    masked_url,
)
from alerts.admin_lists import CappedCountPaginator, SortableOnlyChangeList
from alerts.cache import invalidate_alert_lists
from alerts.channels import (
    ChannelConflict,
    ChannelLimitReached,
    channel_create,
    channel_delete,
    channel_display_url,
    channel_update,
    channels_set_enabled,
)
from alerts.delivery.outbox import retry_notifications
from alerts.models import DEFAULT_REARM_PERCENT, MAX_DB_ID, Alert, AlertGroup, Channel, Notification
from alerts.services import (
    AlertLimitReached,
    AlertNotEditable,
    alert_create,
    alert_update,
    alerts_rearm,
    alerts_soft_delete,
    lock_for_hard_delete,
)
from feeds.selectors import symbol_get


def short_time(value) -> str:
    """A list column's time, compact: "2026-11-30 05:23" in the site's time zone (UTC), the date
    never broken across lines; "-" for none."""
    if not value:
        return "-"
    local = timezone.localtime(value)
    return format_html(
        '<span class="nowrap">{}</span> {}', local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
    )


def search_by_id_symbol_or_email(queryset, term: str, *, by_alert_id: bool):
    """The admin's search of alerts and notifications, each way by an index.

    Digits: the row's id (and, for notifications, the alert's). A symbol of the catalogue (any
    case): its alerts. Anything else: part of a user's email, the matching users found first so
    the big table is read by its user index. Never a substring scan of the big table, or an OR
    across joins that defeats every index (Django's search_fields: seconds at 300k notifications).
    """
    term = term.strip()
    if not term:
        return queryset
    if term.isdigit():
        number = int(term)
        if number > MAX_DB_ID:
            return queryset.none()
        return (
            queryset.filter(Q(pk=number) | Q(alert_id=number)) if by_alert_id else queryset.filter(pk=number)
        )
    if term.isalnum() and symbol_get(term) is not None:
        symbol = term.upper()
        if by_alert_id:
            return queryset.filter(alert_id__in=Alert.objects.filter(symbol=symbol).values("pk"))
        return queryset.filter(symbol=symbol)
    return queryset.filter(user_id__in=get_user_model().objects.filter(email__icontains=term).values("pk"))


class ChannelKindFilter(admin.SimpleListFilter):
    """By channel kind, from the known kinds (listing the values found read the whole table)."""

    title = "channel"
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return Channel.Kind.choices

    def queryset(self, request, queryset):
        return queryset.filter(channel=self.value()) if self.value() else queryset


# Rows per list page: rendering is most of a list's time once its queries use indexes
# (bench/admin.py); 50 keeps a page's first byte well inside 300 ms on a busy 2-core machine.
LIST_PER_PAGE = 50


class ListColumns:
    """The stylesheet that lets long values wrap inside their list column (alerts/static/alerts/admin.css)."""

    css = {"all": ("alerts/admin.css",)}


def compact_duration(seconds: int) -> str:
    """90 -> "90s", 3600 -> "1h", 86400 -> "1d", 5400 -> "90m": the largest whole unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def clipped(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def log_bulk_action(request, queryset, what: str, changed: int) -> None:
    """An entry in each selected object's history: who ran which action, on how many, how many changed."""
    ids = list(queryset.values_list("pk", flat=True))  # the selection, without the page's annotations
    selected = list(queryset.model.objects.filter(pk__in=ids))
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
    "group",
    "snoozed_until",
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
    Media = ListColumns
    # Chosen to fit a 1,280 px screen beside the filters (alerts/tests/test_admin_browser.py):
    # the rest (created, armed, expiry, band, note) is on the alert's page.
    list_display = (
        "id",
        "user_email",
        "symbol",
        "watches",
        "target",
        "status",
        "repeats",
        "fired",
        "last_fired",
    )
    # No symbol filter: listing its choices read every alert (?symbol=BTCUSDT still filters, and the
    # operations page links each watched symbol so).
    # Created "today, past 7 days, ...": Django's date links above the list read every alert's date.
    list_filter = (
        "status",
        "kind",
        "direction",
        "crossing",
        "repeat",
        "window_seconds",
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("user__email", "symbol", "=id")  # read by get_search_results below
    search_help_text = "An alert id, a symbol (exact, any case) or a user's email (or part of it)."
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = LIST_PER_PAGE
    # Sorted by id or, by default, newest first: both by index. Another column's sort read and
    # sorted every alert (0.2 s at 200k, bench/admin.py); filters narrow the list instead.
    sortable_by = ("id",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    filter_horizontal = ("channels",)
    ordering = ("-created_at", "-id")
    actions = ("rearm", "soft_delete")

    def get_search_results(self, request, queryset, search_term):
        return search_by_id_symbol_or_email(queryset, search_term, by_alert_id=False), False

    def get_changelist(self, request, **kwargs):
        return SortableOnlyChangeList

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

    @admin.display(description="target price", ordering="target_price")
    def target(self, alert):
        # "70000.5", not "70000.50000000": the exact value, without the column's padding.
        if alert.kind == Alert.Kind.MOVE:
            return f"{alert.move_percent.normalize():f} %"
        if alert.kind == Alert.Kind.VOLUME:
            return f"{alert.volume_quote.normalize():f} quote"
        return f"{alert.target_price.normalize():f}"

    @admin.display(description="watches", ordering="direction")
    def watches(self, alert):
        if alert.kind in Alert.WINDOW_KINDS:
            what = f"move {alert.move_direction}" if alert.kind == Alert.Kind.MOVE else "volume"
            return f"{what} in {alert.window}"
        return f"cross ({alert.direction})" if alert.crossing else alert.direction

    @admin.display(description="repeat", ordering="repeat")
    def repeats(self, alert):
        if alert.repeat != Alert.Repeat.EVERY:
            return "once"
        return f"every {compact_duration(alert.cooldown_seconds or 0)}"

    @admin.display(description="fired", ordering="trigger_count")
    def fired(self, alert):
        return alert.trigger_count

    @admin.display(description="last fired", ordering="last_triggered_at")
    def last_fired(self, alert):
        return short_time(alert.last_triggered_at)

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
            lock_for_hard_delete(Alert.objects.filter(pk=obj.pk))
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
    Media = ListColumns
    # Fits a 1,280 px screen beside the filters; the rest (created, the channel's name, price,
    # next attempt) is on its page.
    list_display = (
        "id",
        "alert_link",
        "user_email",
        "channel",
        "status",
        "tries",
        "sent",
        "short_error",
    )
    list_filter = ("status", ChannelKindFilter, ("created_at", admin.DateFieldListFilter))
    search_fields = ("user__email", "alert__symbol", "=alert__id", "=id")  # read by get_search_results
    search_help_text = (
        "A notification or alert id, a symbol (exact, any case) or a user's email (or part of it)."
    )
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = LIST_PER_PAGE
    list_select_related = ("alert", "user")  # the columns shown: its alert's symbol, its user's email
    readonly_fields = ("alert", "user", *NOTIFICATION_FIELDS)
    # Newest first by id (given in creation order): the primary key's index, where "-created_at"
    # sorted the whole table (no index on it: each would cost every firing an index entry). Dates
    # by the created filter, not the date links above the list (they read the whole table's).
    ordering = ("-id",)
    sortable_by = ("id",)  # as the alerts: by index only
    actions = ("retry",)

    def has_add_permission(self, request):
        return False  # written by the engine, in the transaction that triggers the alert

    def get_search_results(self, request, queryset, search_term):
        return search_by_id_symbol_or_email(queryset, search_term, by_alert_id=True), False

    def get_changelist(self, request, **kwargs):
        return SortableOnlyChangeList

    @admin.display(description="alert, firing", ordering="alert__id")
    def alert_link(self, notification):
        url = reverse("admin:alerts_alert_change", args=[notification.alert_id])
        return format_html(
            '<a href="{}">#{} {}</a> #{}',
            url,
            notification.alert_id,
            notification.alert.symbol,
            notification.firing,
        )

    @admin.display(description="user", ordering="user__email")
    def user_email(self, notification):
        return notification.user.email if notification.user else "-"

    @admin.display(description="tries", ordering="attempts")
    def tries(self, notification):
        return notification.attempts

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, notification):
        return short_time(notification.sent_at)

    @admin.display(description="last error")
    def short_error(self, notification):
        return clipped(notification.last_error, 40)

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
    Media = ListColumns
    # Fits a 1,280 px screen beside the filters.
    list_display = (
        "id",
        "user_email",
        "kind",
        "name",
        "state",
        "failures",
        "last_failure",
        "last_delivery",
    )
    list_filter = ("kind", "enabled")
    search_fields = ("user__email", "name", "url", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    ordering = ("-id",)
    list_per_page = LIST_PER_PAGE
    actions = ("enable", "disable", "retry_failed")

    def get_actions(self, request):
        actions = super().get_actions(request)
        # "Delete selected" would delete email channels too (the page's delete refuses them), and
        # skip the alert-list cache: one channel at a time from its page, or "disable" in bulk.
        actions.pop("delete_selected", None)
        return actions

    @staticmethod
    def _selected_ids(queryset) -> list[int]:
        return list(queryset.values_list("pk", flat=True))

    @admin.action(description="Enable selected channels")
    def enable(self, request, queryset):
        changed = channels_set_enabled(channel_ids=self._selected_ids(queryset), enabled=True)
        log_bulk_action(request, queryset, "enable", changed)
        self.message_user(request, f"{changed} channel(s) enabled.", messages.SUCCESS)

    @admin.action(description='Disable selected channels (their owners see "Disabled by an operator.")')
    def disable(self, request, queryset):
        changed = channels_set_enabled(channel_ids=self._selected_ids(queryset), enabled=False)
        log_bulk_action(request, queryset, "disable", changed)
        self.message_user(request, f"{changed} channel(s) disabled.", messages.SUCCESS)

    @admin.action(description="Retry the failed notifications of the selected channels")
    def retry_failed(self, request, queryset):
        failed = Notification.objects.filter(
            via_id__in=self._selected_ids(queryset), status=Notification.Status.FAILED
        )
        retried = retry_notifications(list(failed.values_list("pk", flat=True)))
        log_bulk_action(request, queryset, "retry failed notifications", retried)
        self.message_user(
            request, f"{retried} failed notification(s) queued to send again.", messages.SUCCESS
        )

    def delete_model(self, request, obj):
        # Through the service: the owner's cached alert lists stop showing the channel at once.
        try:
            channel_delete(channel=obj)
        except ChannelConflict as error:
            raise PermissionDenied(str(error)) from error

    def get_queryset(self, request):
        # Which channels fail, in the same query as the page (no query per row): each figure a
        # subquery answered by a partial index of the channel's failed or sent notifications
        # (notification_via_failed_idx, notification_via_sent_idx), never by reading them all.
        mine = Notification.objects.filter(via=OuterRef("pk")).order_by()
        failed = mine.filter(status=Notification.Status.FAILED)
        sent = mine.filter(status=Notification.Status.SENT)
        count = failed.values("via").annotate(n=Count("id")).values("n")
        return (
            super()
            .get_queryset(request)
            .annotate(
                failure_count=Coalesce(Subquery(count), 0),
                last_sent_at=Subquery(sent.order_by("-sent_at").values("sent_at")[:1]),
                last_error=Subquery(failed.order_by("-id").values("last_error")[:1]),
            )
        )

    @admin.display(description="failures", ordering="failure_count")
    def failures(self, channel):
        url = reverse("admin:alerts_notification_changelist")
        return format_html(
            '<a href="{}?via__exact={}&status__exact=failed">{}</a>', url, channel.pk, channel.failure_count
        )

    @admin.display(description="user", ordering="user__email")
    def user_email(self, channel):
        return channel.user.email

    @admin.display(description="enabled", ordering="enabled")
    def state(self, channel):
        # Off: why (delivery switched it off on a 404/410, or an operator did), as its owner reads it.
        if channel.enabled:
            return _boolean_icon(True)
        return format_html("{} {}", _boolean_icon(False), clipped(channel.disabled_reason, 30))

    @admin.display(description="last error")
    def last_failure(self, channel):
        return clipped(channel.last_error or "", 36)

    @admin.display(description="last delivery", ordering="last_sent_at")
    def last_delivery(self, channel):
        return short_time(channel.last_sent_at)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "kind", "name", "new_url", "enabled", *CHANNEL_DELIVERY_FIELDS)
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
            *CHANNEL_DELIVERY_FIELDS,
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
        # Apprise URLs in Apprise's privacy mode (tokens masked), like the API shows them.
        if channel.kind == Channel.Kind.APPRISE:
            return channel_display_url(channel) or "-"
        return masked_url(channel.url) or "-"

    @admin.display(description="signing secret")
    def masked_secret(self, channel):
        return f"{MASK} (set; shown to its owner once, on creation)" if channel.secret else "-"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        delivery = {name: data.get(name, "") for name in CHANNEL_DELIVERY_FIELDS}
        if change:
            channel_update(
                channel=obj,
                name=data["name"],
                url=data.get("new_url") or None,
                enabled=data["enabled"],
                **delivery,
            )
            return
        try:
            saved = channel_create(
                user=data["user"], kind=data["kind"], name=data["name"], url=data["new_url"], **delivery
            )
        except (ChannelConflict, ChannelLimitReached) as error:
            # Another channel was made since the form was checked: nothing was written.
            raise PermissionDenied(str(error)) from error
        if not data["enabled"]:
            channel_update(channel=saved, enabled=False)
        obj.pk = saved.pk
        obj.refresh_from_db()


# --- end of the channels block ---------------------------------------------------


# --- Watchlists (alert groups) -----------------------------------------------------


@admin.register(AlertGroup)
class AlertGroupAdmin(admin.ModelAdmin):
    """Watchlists are made and changed through the API (one transaction for all their alerts);
    here operators find them and reach their alerts."""

    list_display = ("id", "user", "created_at", "alert_count", "its_alerts")
    search_fields = ("user__email", "=id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("user", "created_at", "alert_count", "its_alerts")
    fields = readonly_fields
    ordering = ("-created_at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_alerts=Count("alerts"))

    def has_add_permission(self, request):
        return False

    @admin.display(description="alerts", ordering="n_alerts")
    def alert_count(self, group):
        return group.n_alerts

    @admin.display(description="its alerts")
    def its_alerts(self, group):
        url = reverse("admin:alerts_alert_changelist")
        return format_html('<a href="{}?group__exact={}">open</a>', url, group.pk)


# --- end of the watchlists block ---------------------------------------------------
