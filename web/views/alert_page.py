"""An alert's page (/app/alerts/<id>) and its actions: delete, re-arm (duplicate is the new form's ?from=).

The page shows the chart of the last hours with the target and re-arm band,
the firings and each delivery (alerts.notifications.alert_firings). Actions
are POST forms (CSRF) that call the API's services.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from alerts.models import Alert
from alerts.notifications import alert_firings
from alerts.selectors import alert_list
from alerts.services import alert_delete, alerts_rearm
from web.chart import price_chart
from web.presenters import alert_rows
from web.views.common import not_found, owned_alert, signed_in


@signed_in
@require_GET
def alert_page(request, alert_id):
    alert = owned_alert(request, alert_id)
    if alert is None:
        return not_found(request, "alert")
    firings = alert_firings(alert=alert)
    until = timezone.now()
    since = until - timedelta(hours=settings.WEB_CHART_HOURS)
    context = {
        "alert": alert,
        "row": alert_rows([alert])[0],
        "firings": firings,
        "chart": price_chart(alert, firings, since=since, until=until),
        "chart_hours": settings.WEB_CHART_HOURS,
        "channels": list(alert.channels.all()),
    }
    return render(request, "web/alert.html", context)


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
