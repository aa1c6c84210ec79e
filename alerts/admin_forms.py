"""The admin's alert and channel forms: the API's checks, refusals in words, secrets never shown.

The forms only validate; the admin saves through alerts.services and
alerts.channels, the same writes the API makes.
"""

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.delivery.kinds import KINDS
from alerts.delivery.kinds.apprise import host_is_fixed
from alerts.models import DEFAULT_REARM_PERCENT, Alert, Channel
from alerts.services import alert_check

MASK = "••••••"

# What an operator may change on a waiting alert: what PATCH /alerts/<id> changes, saved through it.
ALERT_EDITABLE = (
    "direction",
    "target_price",
    "repeat",
    "cooldown_seconds",
    "rearm_percent",
    "expires_at",
    "note",
    "channels",
)


def masked_url(url: str) -> str:
    """Scheme and host of a channel URL, the rest (path, tokens, password, query) masked.

    An Apprise service whose host the service fixes (tgram://, discord://, ...)
    carries its tokens where a host would be: only the scheme is shown.
    """
    if not url:
        return ""
    parts = urlsplit(url)
    if not parts.scheme or (parts.scheme not in ("http", "https") and host_is_fixed(url)):
        return f"{parts.scheme}://{MASK}" if parts.scheme else MASK
    try:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number: show nothing of it
        host, port = "", ""
    return f"{parts.scheme}://{host}{port}/{MASK}"


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class AlertAdminForm(forms.ModelForm):
    """Checks an alert like POST/PATCH /alerts/ does: symbol, target band, repeat, expiry, channels, cap."""

    class Meta:
        model = Alert
        fields = ("user", "symbol", *ALERT_EDITABLE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of the form, they keep the model's defaults (once, 0.1%).
        for name in ("repeat", "rearm_percent"):
            if name in self.fields:
                self.fields[name].required = False
        # A price alert needs its target (the column is nullable for the window kinds only).
        if "target_price" in self.fields and self.instance.pk is None:
            self.fields["target_price"].required = True
        if "channels" in self.fields and self.instance.pk:
            self.fields["channels"].queryset = Channel.objects.filter(user_id=self.instance.user_id)

    def clean(self):
        data = super().clean()
        adding = self.instance.pk is None
        user = data.get("user") if adding else self.instance.user
        symbol = data.get("symbol") if adding else self.instance.symbol
        if user is None or not symbol:
            return data  # already refused as required
        changed = set(self.changed_data)
        foreign = [c.pk for c in data.get("channels") or () if c.user_id != user.pk]
        if foreign:
            self.add_error(
                "channels",
                f"Channel #{foreign[0]} belongs to another user: "
                "an alert notifies only its owner's channels.",
            )
        repeat_changed = adding or bool({"repeat", "cooldown_seconds", "rearm_percent"} & changed)
        percent = data.get("rearm_percent")
        try:
            alert_check(
                symbol=symbol,
                user=user if adding else None,
                target_price=data.get("target_price") if adding or "target_price" in changed else None,
                repeat=(data.get("repeat") or Alert.Repeat.ONCE) if repeat_changed else None,
                cooldown_seconds=data.get("cooldown_seconds"),
                rearm_percent=DEFAULT_REARM_PERCENT if percent is None else percent,
                expires_at=data.get("expires_at") if adding or "expires_at" in changed else None,
            )
        except ValidationError as error:
            _add_errors(self, error)
        return data


# A channel's quiet hours and templates, edited in the admin as in the API.
CHANNEL_DELIVERY_FIELDS = ("quiet_hours", "title_template", "body_template")


class ChannelAdminForm(forms.ModelForm):
    """A channel's URL is never shown back; a new one is checked by its kind's egress policy."""

    new_url = forms.CharField(
        label="URL",
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        help_text="webhook: its http(s) URL; apprise: its Apprise URL; email: none. "
        "On a saved channel, leave empty to keep the current one (shown masked).",
    )

    class Meta:
        model = Channel
        fields = ("user", "kind", "name", "enabled", *CHANNEL_DELIVERY_FIELDS)

    def clean(self):
        data = super().clean()
        adding = self.instance.pk is None
        kind = data.get("kind") if adding else self.instance.kind
        user = data.get("user") if adding else self.instance.user
        if kind not in KINDS or user is None:
            return data
        url = data.get("new_url", "")
        if adding or url.strip():
            try:
                data["new_url"] = KINDS[kind].check_url(url)
            except ValidationError as error:
                self.add_error("new_url", error.message_dict.get("url", error.messages))
        if adding:
            self._check_new_channel(user, kind)
        self._check_delivery_fields(data, kind)
        return data

    def _check_delivery_fields(self, data: dict, kind: str) -> None:
        # The API's checks: a window, and templates that render for this kind.
        from alerts.channels import _checked_templates
        from alerts.delivery.quiet import check_window

        try:
            data["quiet_hours"] = check_window(data.get("quiet_hours", ""), allow_off=True)
            data.update(
                _checked_templates(kind, data.get("title_template", ""), data.get("body_template", ""))
            )
        except ValidationError as error:
            _add_errors(self, error)

    def _check_new_channel(self, user, kind: str) -> None:
        if kind == Channel.Kind.EMAIL and Channel.objects.filter(user=user, kind=kind).exists():
            self.add_error("kind", "This user already has an email channel: enable or rename that one.")
        cap = settings.ALERTS_MAX_CHANNELS_PER_USER
        if cap > 0 and Channel.objects.filter(user=user).count() >= cap:
            self.add_error("user", f"This user has {cap} channels, the most allowed.")
