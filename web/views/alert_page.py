"""An alert's page (/app/alerts/<id>) and its actions: delete, re-arm, snooze (duplicate: ?from=).

The page shows the chart of the last hours with the target and re-arm band,
the firings and each delivery (alerts.notifications.alert_firings). Actions
are POST forms (CSRF) that call the API's services.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from alerts.group_serializers import AlertSnoozeInputSerializer
from alerts.models import Alert
from alerts.notifications import alert_firings
from alerts.selectors import alert_list
from alerts.services import AlertNotEditable, alert_delete, alert_snooze, alerts_rearm
from web.chart import price_chart
from web.forms import NON_FIELD, field_errors, validated
from web.presenters import alert_rows
from web.views.common import not_found, owned_alert, signed_in


@signed_in
@require_GET
def alert_page(request, alert_id):
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    return render(request, "web/alert.html", page_context(alert))


def page_context(alert: Alert, *, snooze_errors: dict | None = None, snooze_until: str = "") -> dict:
    firings = alert_firings(alert=alert)
    until = timezone.now()
    since = until - timedelta(hours=settings.WEB_CHART_HOURS)
    return {
        "alert": alert,
        "row": alert_rows([alert])[0],
        "firings": firings,
        "chart": price_chart(alert, firings, since=since, until=until),
        "chart_hours": settings.WEB_CHART_HOURS,
        "channels": list(alert.channels.all()),
        "window_kind": alert.kind in Alert.WINDOW_KINDS,
        "snoozable": alert.status in Alert.EDITABLE_STATUSES,
        "snooze_errors": snooze_errors or {},
        "snooze_until": snooze_until,
    }


@signed_in
@require_POST
def alert_delete_view(request, alert_id):
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    alert_delete(alert=alert)
    messages.success(request, f"Alert {alert.symbol} deleted.")
    return redirect("web:dashboard")


@signed_in
@require_POST
def alert_rearm_view(request, alert_id):
    """Put a triggered or expired alert back to waiting, armed from now (the admin's re-arm)."""
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    if alert.status not in (Alert.Status.TRIGGERED, Alert.Status.EXPIRED):
        messages.error(
            request, f"Only a triggered or expired alert can be re-armed; this one is {alert.status}."
        )
    else:
        mine = alert_list(user=request.user, filters={"status": alert.status}).filter(pk=alert.pk)
        if alerts_rearm(alerts=mine):
            messages.success(request, f"Alert {alert.symbol} re-armed: it waits again from now.")
    return redirect("web:alert", alert_id=alert.pk)


@signed_in
@require_POST
def alert_snooze_view(request, alert_id):
    """Snooze the alert's notifications until a time (``until``, UTC) or end the snooze (``end``):
    POST /alerts/<id>/snooze's serializer and service; a refusal shows next to the field."""
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    body = {"until": None} if "end" in request.POST else {"until": request.POST.get("until", "").strip()}
    data, errors = validated(AlertSnoozeInputSerializer, body)
    if data is not None:
        try:
            alert_snooze(alert=alert, until=data["until"])
        except ValidationError as exc:
            errors = field_errors(exc)
        except AlertNotEditable as exc:
            errors = {NON_FIELD: [str(exc)]}
    if errors:
        return render(
            request,
            "web/alert.html",
            page_context(alert, snooze_errors=errors, snooze_until=body["until"] or ""),
            status=400,
        )
    if data["until"] is None:
        messages.success(request, "Snooze ended: its notifications are delivered again.")
    else:
        messages.success(
            request, f"Snoozed until {data['until']:%Y-%m-%d %H:%M} UTC: firings are recorded, not delivered."
        )
    return redirect("web:alert", alert_id=alert.pk)
