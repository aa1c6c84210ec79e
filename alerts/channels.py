"""Writes and reads of notification channels: a user's email, webhooks and Apprise URLs.

Every user has one email channel (the account's address), made with the
account (a post_save signal, so registration, createsuperuser and the admin
all get one); it can be disabled and renamed but not deleted. Webhooks get a
random signing secret, shown only in the answer that creates them (and in the
one that rotates it). URLs and secrets are encrypted at rest (alerts.encryption);
an Apprise URL is only ever shown in Apprise's privacy mode (tokens masked).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import verification_resend
from alerts.cache import invalidate_alert_lists
from alerts.delivery.compose import preview
from alerts.delivery.digests import retime_held
from alerts.delivery.kinds import KINDS
from alerts.delivery.kinds.apprise import private_url
from alerts.delivery.probe import OUTCOME_TTL_SECONDS, ProbeOutcome, new_token, wait_for_outcome
from alerts.delivery.quiet import check_window
from alerts.delivery.tasks import test_channel
from alerts.delivery.templates import check_json_template, check_text_template
from alerts.models import MAX_DB_ID, TITLE_TEMPLATE_MAX_LENGTH, Channel


class ChannelConflict(Exception):
    """The change is not allowed for this channel (a second email channel, deleting the email one)."""


class ChannelLimitReached(Exception):
    """The user already has as many channels as ALERTS_MAX_CHANNELS_PER_USER allows."""


def email_channel_for(user) -> Channel:
    """The user's email channel, made if missing."""
    channel, _ = Channel.objects.get_or_create(user=user, kind=Channel.Kind.EMAIL, defaults={"name": "Email"})
    return channel


def _checked_templates(kind: str, title_template: str | None, body_template: str | None) -> dict:
    """The templates as stored, checked for this kind (alerts.delivery.templates); None: not given."""
    checked: dict = {}
    if title_template is not None:
        if title_template.strip() and kind != Channel.Kind.APPRISE:
            raise ValidationError({"title_template": "Only an Apprise channel has a title template."})
        checked["title_template"] = check_text_template(
            title_template, field="title_template", max_chars=TITLE_TEMPLATE_MAX_LENGTH
        )
    if body_template is not None:
        if kind == Channel.Kind.WEBHOOK:
            checked["body_template"] = check_json_template(body_template)
        elif kind == Channel.Kind.APPRISE:
            checked["body_template"] = check_text_template(body_template, field="body_template")
        elif body_template.strip():
            raise ValidationError({"body_template": "An email channel has no templates."})
        else:
            checked["body_template"] = ""
    return checked


def channel_create(
    *,
    user,
    kind: str,
    name: str = "",
    url: str = "",
    quiet_hours: str = "",
    title_template: str = "",
    body_template: str = "",
) -> Channel:
    """A new enabled channel. A second email channel is a ChannelConflict; one past the
    per-user cap (every channel counts, the email one too) is ChannelLimitReached."""
    if kind not in Channel.Kind.values:
        raise ValidationError({"kind": 'Must be "email", "webhook" or "apprise".'})
    url = KINDS[kind].check_url(url)
    extra = {
        "quiet_hours": check_window(quiet_hours, allow_off=True),
        **_checked_templates(kind, title_template, body_template),
    }
    secret = KINDS[kind].new_secret()
    try:
        with transaction.atomic():
            _check_channel_cap(user)
            channel = Channel.objects.create(
                user=user, kind=kind, name=name.strip(), url=url, secret=secret, **extra
            )
            _confirm_or_ask(channel)
            return channel
    except IntegrityError as exc:
        raise ChannelConflict(
            "You already have an email channel for your account's address: enable or rename that one "
            '(or give "url": another address).'
        ) from exc


def address_confirmed(channel: Channel) -> bool:
    """Whether email may go to this channel's address (webhooks and Apprise: always)."""
    if channel.kind != Channel.Kind.EMAIL or settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        return True
    if not channel.url:
        return channel.user.email_verified_at is not None
    return channel.verified_at is not None


def _confirm_or_ask(channel: Channel) -> None:
    """An email channel with an address of its own: confirmed already (no verification, or the
    account's own confirmed address), else its owner is sent a confirmation link."""
    if channel.kind != Channel.Kind.EMAIL or not channel.url:
        return
    user = channel.user
    same_as_account = channel.url.lower() == user.email.lower() and user.email_verified_at is not None
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none" or same_as_account:
        Channel.objects.filter(pk=channel.pk).update(verified_at=timezone.now())
        channel.verified_at = timezone.now()
        return
    verification_resend(user=user, address=channel.url)


def channel_address_confirmed(*, user, address: str) -> list[int]:
    """Mark the user's email channels with this address confirmed; returns their ids.

    The addresses are encrypted in the table, so they are compared here, not in SQL.
    """
    matching = [
        channel.pk
        for channel in Channel.objects.filter(user=user, kind=Channel.Kind.EMAIL).exclude(url="")
        if channel.url.lower() == address.lower()
    ]
    if matching:
        Channel.objects.filter(pk__in=matching, verified_at__isnull=True).update(verified_at=timezone.now())
    return matching


def _check_channel_cap(user) -> None:
    cap = settings.ALERTS_MAX_CHANNELS_PER_USER
    if cap <= 0:
        return
    # Locks the user's row first (PostgreSQL; SQLite's write lock is global), so concurrent
    # creates count one after the other and cannot both pass the cap.
    type(user).objects.select_for_update().filter(pk=user.pk).exists()
    if Channel.objects.filter(user=user).count() >= cap:
        raise ChannelLimitReached(
            f"You have {cap} channels, the most allowed: delete one (or re-point it) to add another."
        )


def channel_update(
    *,
    channel: Channel,
    name: str | None = None,
    url: str | None = None,
    enabled: bool | None = None,
    quiet_hours: str | None = None,
    title_template: str | None = None,
    body_template: str | None = None,
) -> Channel:
    """Rename, re-point or switch a channel, or change its quiet hours or templates; enabling it
    clears the reason it was switched off. New quiet hours re-time what the channel holds."""
    changes: dict = _checked_templates(channel.kind, title_template, body_template)
    if quiet_hours is not None:
        changes["quiet_hours"] = check_window(quiet_hours, allow_off=True)
    if name is not None:
        changes["name"] = name.strip()
    if url is not None:
        changes["url"] = KINDS[channel.kind].check_url(url)
        if channel.kind == Channel.Kind.EMAIL and (not channel.url) != (not changes["url"]):
            raise ValidationError(
                {
                    "url": "An email channel cannot switch between your account's address and another one: "
                    "add a new channel instead."
                }
            )
        if channel.kind == Channel.Kind.EMAIL and changes["url"] == channel.url:
            del changes["url"]
        elif channel.kind == Channel.Kind.EMAIL:
            changes["verified_at"] = None  # a new address is confirmed anew
    if enabled is not None:
        changes["enabled"] = enabled
        if enabled:
            changes["disabled_reason"] = ""
    if changes:
        with transaction.atomic():
            Channel.objects.filter(pk=channel.pk).update(**changes)
            channel.refresh_from_db()
            if "verified_at" in changes:
                _confirm_or_ask(channel)
            if "quiet_hours" in changes:
                retime_held(user=channel.user, channel=channel)
    return channel


def channel_display_url(channel: Channel) -> str:
    """The URL as the API and the admin show it: an Apprise URL with its tokens masked."""
    if channel.kind == Channel.Kind.APPRISE:
        return private_url(channel.url)
    return channel.url


def channel_rotate_secret(*, channel: Channel) -> Channel:
    """A new signing secret for a webhook (the old one stops signing at once); the channel carries it."""
    if channel.kind != Channel.Kind.WEBHOOK:
        raise ChannelConflict("Only a webhook channel has a signing secret.")
    secret = KINDS[channel.kind].new_secret()
    Channel.objects.filter(pk=channel.pk).update(secret=secret)
    channel.secret = secret
    return channel


OPERATOR_DISABLED = "Disabled by an operator."


def channels_set_enabled(*, channel_ids: list[int], enabled: bool) -> int:
    """Switch many channels on or off at once (the admin's bulk actions); returns how many changed.

    Switched off, a channel says why to its owner (``disabled_reason``); switched on, the
    reason is cleared, as ``channel_update`` does.
    """
    reason = "" if enabled else OPERATOR_DISABLED
    return Channel.objects.filter(pk__in=channel_ids, enabled=not enabled).update(
        enabled=enabled, disabled_reason=reason
    )


def channel_delete(*, channel: Channel) -> None:
    """Delete a webhook or Apprise channel; the email channel can only be disabled."""
    if channel.kind == Channel.Kind.EMAIL:
        raise ChannelConflict("The email channel cannot be deleted: disable it instead.")
    with transaction.atomic():
        channel.delete()
        # The alerts that named it no longer do: their cached list pages show its id.
        invalidate_alert_lists([channel.user_id])


def channel_test(*, channel: Channel) -> ProbeOutcome | None:
    """Queue a test message; its outcome if a worker settled it within about a second, else None.

    Sent by a delivery worker, never in the web request: a destination that
    never answers must not hold a web worker (alerts.delivery.probe).
    """
    if not address_confirmed(channel):
        raise ChannelConflict(
            "This address is not confirmed yet: open the link emailed to it first (nothing is sent to it "
            "before)."
        )
    token = new_token()
    Channel.objects.filter(pk=channel.pk).update(last_test_requested_at=timezone.now())
    test_channel.apply_async((channel.pk, token), expires=OUTCOME_TTL_SECONDS)
    return wait_for_outcome(token, settings.CHANNEL_TEST_WAIT_SECONDS)


def channel_preview(*, channel: Channel) -> dict[str, str]:
    """What a test of this channel sends: its templates filled with an example firing."""
    return preview(channel)


def channel_list(*, user):
    return Channel.objects.filter(user=user).order_by("id")


def channel_get(*, user, channel_id: int) -> Channel | None:
    """The user's channel with this id; None for no such channel or someone else's (both a 404)."""
    if not 0 < channel_id <= MAX_DB_ID:
        return None
    return Channel.objects.filter(user=user, pk=channel_id).select_related("user").first()
