"""A watchlist's page (/app/groups/<id>): its alerts, and pause, resume or delete them all at once.

The same services as ``/alert-groups/<id>`` (alerts.groups): a pause or resume
is ``alert_group_update(paused=...)`` checked by the API's serializer, so a
resume past the per-user cap is refused in the API's words; delete is
``alert_group_delete``. Another user's watchlist is the same 404 as none.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from alerts.group_serializers import AlertGroupUpdateInputSerializer
from alerts.groups import GroupNotEditable, alert_group_delete, alert_group_get, alert_group_update
from alerts.models import Alert
from alerts.services import AlertLimitReached, AlertNotEditable
from web.forms import NON_FIELD, field_errors, validated
from web.presenters import alert_rows
from web.views.common import not_found, signed_in

ACTIONS = {"pause": True, "resume": False}


def owned_group(request, group_id: str):
    return alert_group_get(user=request.user, group_id=int(group_id))


def group_context(group) -> dict:
    alerts = sorted(group.alerts.all(), key=lambda alert: alert.pk)
    unfinished = [alert for alert in alerts if alert.status in Alert.EDITABLE_STATUSES]
    return {
        "group": group,
        "rows": alert_rows(alerts),
        "pausable": any(alert.status in Alert.ACTIVE_STATUSES for alert in unfinished),
        "resumable": any(alert.status == Alert.Status.PAUSED for alert in unfinished),
    }


@signed_in
@require_GET
def group_page(request, group_id):
    group = owned_group(request, group_id)
    if group is None:
        return not_found(request, "watchlist")
    return render(request, "web/group.html", group_context(group))


@signed_in
@require_POST
def group_paused(request, group_id):
    """Pause (``paused=true``) or resume (``paused=false``) every unfinished alert of the watchlist."""
    group = owned_group(request, group_id)
    if group is None:
        return not_found(request, "watchlist")
    data, errors = validated(AlertGroupUpdateInputSerializer, {"paused": request.POST.get("paused", "")})
    if data is not None:
        try:
            alert_group_update(group=group, **data)
        except ValidationError as exc:
            errors = field_errors(exc)
        except (GroupNotEditable, AlertNotEditable, AlertLimitReached) as exc:
            errors = {NON_FIELD: [str(exc)]}
    if errors:
        for message in (message for field in errors.values() for message in field):
            messages.error(request, message)
    elif data["paused"]:
        messages.success(request, "Watchlist paused: its alerts are not evaluated until you resume it.")
    else:
        messages.success(request, "Watchlist resumed: its alerts wait again from now.")
    return redirect("web:group", group_id=group.pk)


@signed_in
@require_POST
def group_delete(request, group_id):
    group = owned_group(request, group_id)
    if group is None:
        return not_found(request, "watchlist")
    deleted = alert_group_delete(group=group)
    messages.success(request, f"Watchlist deleted with its {deleted} alert{'s' if deleted != 1 else ''}.")
    return redirect("web:dashboard")
