"""Alerts, the notifications they send, and the evaluator's checkpoint."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Length, Now
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from alerts.encryption import EncryptedTextField

PRICE_DIGITS = 20
PRICE_DECIMALS = 8  # Binance's precision: 0.00001234 round-trips exactly.


NOTE_MAX_LENGTH = 500
TITLE_TEMPLATE_MAX_LENGTH = 250
MIN_COOLDOWN_SECONDS = 60
DEFAULT_REARM_PERCENT = Decimal("0.1")
# The largest id a bigint primary key holds: a larger one asked for is "no such row",
# never a database error.
MAX_DB_ID = 2**63 - 1


class Channel(models.Model):
    """Where a user's alerts are delivered: the account's email, a webhook, or an Apprise URL."""

    class Kind(models.TextChoices):
        EMAIL = "email", "email"
        WEBHOOK = "webhook", "webhook"
        APPRISE = "apprise", "apprise"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True, default="")
    # webhook: the http(s) URL; apprise: the Apprise URL; email: empty for the account's own address
    # (its channel made with the account), or another address, delivered to once confirmed.
    # Both encrypted at rest (alerts.encryption; an Apprise URL carries bot tokens); the
    # 2,000-character limit on the URL is the serializer's and the admin form's.
    url = EncryptedTextField(blank=True, default="")
    # webhook only: the HMAC-SHA256 key of the signature header, shown once on creation (and on rotation).
    secret = EncryptedTextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    # An email channel with an address of its own: when its owner confirmed the address (the
    # emailed link); nothing is sent to it before. The account's own address: see User.email_verified_at.
    verified_at = models.DateTimeField(null=True, blank=True)
    # Why delivery turned it off (a webhook answering 404/410); empty while enabled by the user.
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # POST /channels/<id>/test is sent by a delivery worker (alerts.delivery.probe):
    # when the last one was asked for, when it finished, and how (a short category, never
    # the destination's own words).
    last_test_requested_at = models.DateTimeField(null=True, blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_delivered = models.BooleanField(null=True, blank=True)
    last_test_error = models.CharField(max_length=100, blank=True, default="")
    # Quiet hours and message templates (alerts.delivery.quiet, alerts.delivery.templates).
    # quiet_hours: "" follows the account's, "off" is never quiet, "23:00-07:00" its own window.
    quiet_hours = models.CharField(max_length=11, blank=True, default="", db_default="")
    # apprise: the title; webhook: unused.
    title_template = models.CharField(
        max_length=TITLE_TEMPLATE_MAX_LENGTH, blank=True, default="", db_default=""
    )
    # webhook: a JSON body; apprise: the body text. Empty: the built-in message.
    body_template = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            # alerts.delivery.outbox._insert_notifications: a firing user's enabled channels.
            models.Index(fields=["user"], condition=Q(enabled=True), name="channel_user_enabled_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["email", "webhook", "apprise"]), name="channel_kind_valid"
            ),
            # One email channel per user for the account's own address (others name their address).
            models.UniqueConstraint(
                fields=["user"], condition=Q(kind="email", url=""), name="channel_one_account_email"
            ),
            models.CheckConstraint(condition=Q(kind="email") | ~Q(url=""), name="channel_url_required"),
        ]

    def __str__(self):
        return f"{self.kind} channel {self.name or self.pk} of user {self.user_id}"


class AlertGroup(models.Model):
    """A watchlist: one rule over many symbols, one alert per symbol (alerts.groups)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # alerts.groups.group_list: a user's groups, newest first.
            models.Index(fields=["user", "-created_at"], name="alertgroup_user_created_idx"),
        ]

    def __str__(self):
        return f"alert group {self.pk} of user {self.user_id}"


class Alert(models.Model):
    class Direction(models.TextChoices):
        ABOVE = "above", "above"
        BELOW = "below", "below"

    class Repeat(models.TextChoices):
        ONCE = "once", "once"
        EVERY = "every", "every time (with cooldown)"

    class Status(models.TextChoices):
        CREATED = "created", "created (waiting)"
        # A repeating alert that fired: waiting out its cooldown and for the price to move back.
        REARMING = "rearming", "fired, re-arming"
        TRIGGERED = "triggered", "triggered"
        EXPIRED = "expired", "expired"
        DELETED = "deleted", "deleted"
        # Stopped by its owner (a watchlist paused): not evaluated, not followed (alerts.groups).
        PAUSED = "paused", "paused"

    # The alerts the engine still works on: waiting to fire, or fired and waiting to re-arm.
    ACTIVE_STATUSES = (Status.CREATED, Status.REARMING)
    # What its owner may still change (and snooze): the active ones and the paused ones.
    EDITABLE_STATUSES = (Status.CREATED, Status.REARMING, Status.PAUSED)
    # The direction word for "either side": stored as ``crossing`` plus the side it watches.
    CROSS = "cross"
    # What a user may ask for: a side, or "cross".
    DIRECTION_WORDS = (*Direction.values, CROSS)

    # Indexed by alert_user_created_idx (user first): a single-column index too would only cost
    # every firing another index entry.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    # Price alerts only (kind "price"); null for the window kinds, which the price statements never see.
    target_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    # The engine counts only prices seen after this: set on create, on a change of
    # target or direction, on the admin's re-arm and when a repeating alert re-arms.
    # Database defaults on the new columns keep raw INSERTs (benchmarks, operators' SQL) working.
    armed_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # "cross": the user asked for "either side"; ``direction`` is the side fixed
    # from the latest price at creation (the engine only ever reads ``direction``).
    crossing = models.BooleanField(default=False, db_default=False)
    # Percent alerts: what the user asked for; ``target_price`` is resolved from them.
    reference_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    change_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    repeat = models.CharField(
        max_length=5, choices=Repeat.choices, default=Repeat.ONCE, db_default=Repeat.ONCE
    )
    cooldown_seconds = models.PositiveIntegerField(null=True, blank=True)
    rearm_percent = models.DecimalField(
        max_digits=7, decimal_places=4, default=DEFAULT_REARM_PERCENT, db_default=DEFAULT_REARM_PERCENT
    )
    # The price the market must pass (strictly) to re-arm a repeating alert:
    # target * (1 - rearm%) for "above", target * (1 + rearm%) for "below".
    rearm_price = models.DecimalField(
        max_digits=PRICE_DIGITS + 6, decimal_places=PRICE_DECIMALS + 6, null=True, blank=True
    )
    # Event time (epoch ms) before which a fired repeating alert cannot re-arm: its firing + cooldown.
    rearm_after_ms = models.BigIntegerField(null=True, blank=True)
    # What the engine watches for, kept by the database: a waiting alert its
    # target in its direction; a fired repeating alert its re-arm price the other
    # way (an "above" alert re-arms when the price falls back under it). One index
    # (alert_watch_idx) then answers both "crossed?" and "may re-arm?" for a
    # symbol with the same two probes.
    watch_direction = models.GeneratedField(
        expression=Case(
            When(Q(status="rearming") & Q(direction="above"), then=Value("below")),
            When(status="rearming", then=Value("above")),
            default=F("direction"),
        ),
        output_field=models.CharField(max_length=10),
        db_persist=True,
    )
    watch_price = models.GeneratedField(
        expression=Case(When(status="rearming", then=F("rearm_price")), default=F("target_price")),
        output_field=models.DecimalField(max_digits=PRICE_DIGITS + 6, decimal_places=PRICE_DECIMALS + 6),
        db_persist=True,
    )
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    trigger_count = models.PositiveIntegerField(default=0, db_default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True, default="", db_default="")
    # Empty: every enabled channel of the user.
    channels = models.ManyToManyField(Channel, blank=True, related_name="alerts")
    # The watchlist it belongs to (alerts.groups); null: an alert of its own.
    # Indexed only where set (alert_group_idx): most alerts are in no watchlist, and every index
    # entry is one more write for each alert a firing changes.
    group = models.ForeignKey(
        AlertGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        db_index=False,
    )
    # Firings before this are recorded but not delivered (alerts.delivery.outbox, "snoozed" rows).
    snoozed_until = models.DateTimeField(null=True, blank=True)

    # --- Window kinds (issue 18): a move within a trailing window, a volume spike --------------
    # They read the feeder's price history (feeds.history) in alerts.engine.windows; a null
    # target_price keeps them out of every price statement and of the feeder's frontier.
    class Kind(models.TextChoices):
        PRICE = "price", "price (above / below / cross)"
        MOVE = "move", "move within a window"
        VOLUME = "volume", "quote volume within a window"

    class MoveDirection(models.TextChoices):
        UP = "up", "up"
        DOWN = "down", "down"
        EITHER = "either", "either"

    WINDOW_KINDS = (Kind.MOVE, Kind.VOLUME)
    # The windows a user may ask for, in seconds.
    WINDOWS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "24h": 86400}

    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.PRICE, db_default=Kind.PRICE)
    window_seconds = models.PositiveIntegerField(null=True, blank=True)
    move_percent = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    # Null, not "", for the other kinds: the kind constraint tells each kind's fields by null.
    move_direction = models.CharField(  # noqa: DJ001
        max_length=6, choices=MoveDirection.choices, null=True, blank=True
    )
    volume_quote = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # alerts.engine.statements: per-symbol probes (is anything crossed or able to re-arm?),
            # then the index ranges the trigger and re-arm UPDATEs change. Status and end
            # of cooldown are in the key so that the probes never read the table.
            models.Index(
                fields=["symbol", "watch_direction", "watch_price", "status", "rearm_after_ms"],
                condition=Q(status__in=["created", "rearming"]),
                name="alert_watch_idx",
            ),
            # alerts.engine.evaluation.expire_alerts and the expiry probe: alerts that can still expire.
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["created", "rearming"], expires_at__isnull=False),
                name="alert_expiring_idx",
            ),
            # alerts.services.alert_create: the per-user cap counts a user's active alerts.
            models.Index(
                fields=["user"], condition=Q(status__in=["created", "rearming"]), name="alert_user_active_idx"
            ),
            # alerts.selectors.alert_list: a user's alerts, newest first.
            models.Index(fields=["user", "-created_at"], name="alert_user_created_idx"),
            # alerts.groups: a watchlist's alerts (and SET_NULL when one goes).
            models.Index(fields=["group"], condition=Q(group__isnull=False), name="alert_group_idx"),
            # alerts.engine.windows: which moved symbols have active window alerts, and which windows.
            # Every column the probe reads is in the key: an index-only scan.
            models.Index(
                fields=[
                    "symbol",
                    "window_seconds",
                    "kind",
                    "status",
                    "move_direction",
                    "move_percent",
                    "volume_quote",
                    "rearm_after_ms",
                ],
                condition=Q(status__in=["created", "rearming"], kind__in=["move", "volume"]),
                name="alert_window_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(target_price__gt=0), name="alert_target_price_positive"),
            models.CheckConstraint(
                condition=Q(triggered_price__isnull=True) | Q(triggered_price__gt=0),
                name="alert_triggered_price_positive",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=["above", "below"]), name="alert_direction_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["created", "rearming", "triggered", "expired", "deleted", "paused"]),
                name="alert_status_valid_v3",
            ),
            models.CheckConstraint(condition=Q(repeat__in=["once", "every"]), name="alert_repeat_valid"),
            models.CheckConstraint(
                condition=Q(repeat="once", cooldown_seconds__isnull=True)
                | Q(repeat="every", cooldown_seconds__gte=MIN_COOLDOWN_SECONDS),
                name="alert_cooldown_valid",
            ),
            models.CheckConstraint(
                condition=Q(rearm_percent__gte=0) & Q(rearm_percent__lt=100), name="alert_rearm_percent_valid"
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("note"), NOTE_MAX_LENGTH), name="alert_note_length"
            ),
            models.CheckConstraint(
                condition=Q(reference_price__isnull=True) | Q(reference_price__gt=0),
                name="alert_reference_price_positive",
            ),
            # Each kind carries exactly its own fields.
            models.CheckConstraint(
                condition=Q(
                    kind="price",
                    target_price__isnull=False,
                    window_seconds__isnull=True,
                    move_percent__isnull=True,
                    move_direction__isnull=True,
                    volume_quote__isnull=True,
                )
                | Q(
                    kind="move",
                    target_price__isnull=True,
                    window_seconds__in=[60, 300, 900, 3600, 14400, 86400],
                    move_percent__gt=0,
                    move_direction__in=["up", "down", "either"],
                    volume_quote__isnull=True,
                )
                | Q(
                    kind="volume",
                    target_price__isnull=True,
                    window_seconds__in=[60, 300, 900, 3600, 14400, 86400],
                    move_percent__isnull=True,
                    move_direction__isnull=True,
                    volume_quote__gt=0,
                ),
                name="alert_kind_fields",
            ),
        ]

    def __str__(self):
        return f"{self.symbol} {self.describe()} ({self.status})"

    @property
    def window(self) -> str | None:
        """The window as the user wrote it ("1h"), for the window kinds."""
        return next((name for name, seconds in self.WINDOWS.items() if seconds == self.window_seconds), None)

    def describe(self) -> str:
        """What the alert waits for, in a few words ("above 70000", "up 5% within 1h")."""
        if self.kind == self.Kind.MOVE:
            return f"{self.move_direction} {self.move_percent.normalize():f}% within {self.window}"
        if self.kind == self.Kind.VOLUME:
            return f"quote volume {self.volume_quote.normalize():f} within {self.window}"
        return f"{self.direction} {self.target_price}"


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        # Over the user's notifications-per-hour cap: recorded, never sent.
        SUPPRESSED = "suppressed", "suppressed"
        # To an address its owner has not confirmed yet (ACCOUNT_EMAIL_VERIFICATION=mandatory):
        # kept, and sent once the address is confirmed (alerts.delivery.unconfirmed).
        UNCONFIRMED = "unconfirmed", "held (address not confirmed)"
        # In its channel's quiet hours: sent in one digest per channel when they end (held_until).
        HELD = "held", "held (quiet hours)"
        # Its alert was snoozed when it fired: recorded, never sent.
        SNOOZED = "snoozed", "snoozed"

    # No database constraint: checked per inserted row at commit, it was a tenth of a crash-day
    # tick (100,000 firings: 0.5 s of 4.7 s, docs/BENCHMARKS.md). The engine writes these rows
    # from the alerts it has just updated (locked) in the same transaction, so the id exists;
    # alerts are soft-deleted, and a hard delete (an account's, the admin's) locks the alerts
    # before Django's cascade collects their notifications (alerts.signals), so no firing lands
    # between the two. Deleting an alert still deletes these rows (Django's cascade).
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="notifications", db_constraint=False
    )
    # The alert's owner, copied so the per-hour cap counts a user's recent notifications by index
    # (notification_user_created_idx). No database constraint: the alert's own foreign key already
    # ties it to the user, and a constraint checked per row at commit doubled a firing tick's commit
    # (docs/BENCHMARKS.md). Deleting a user still deletes these rows (Django's cascade).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The kind of channel (email, webhook, apprise); ``via`` is the channel itself
    # (null: the account's address of a user without channels, or no enabled channel).
    channel = models.CharField(max_length=20, default="email")
    # No database constraint and no index either: each would cost every firing another
    # random write. Deleting a channel leaves its id here (the row keeps ``channel`` and
    # ``to``); a sender treats a channel gone meanwhile as a permanent failure, the admin
    # shows it empty.
    via = models.ForeignKey(
        Channel,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="notifications",
        db_constraint=False,
        db_index=False,
    )
    to = models.CharField(max_length=254)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Which firing of the alert this reports (its trigger_count then), with that firing's price and time.
    firing = models.PositiveIntegerField(default=1, db_default=1)
    triggered_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    triggered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Nobody but the current owner may try to send it before this time: set to a
    # lease while a worker sends it and to the retry time while a retry waits
    # (alerts.delivery.claims.claim_notification, alerts.delivery.outbox.requeue_stuck).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set only while a worker holds the claim, renewed by its heartbeat
    # (alerts.delivery.heartbeat); a lease past its time means the holder died, and the
    # lease sweeper (alerts.delivery.outbox.requeue_expired_leases) hands it on within seconds.
    leased_until = models.DateTimeField(null=True, blank=True)
    # Held in quiet hours: when they end (alerts.delivery.digests releases it then).
    held_until = models.DateTimeField(null=True, blank=True)
    # A digest: the row that carries it (itself for the carrier); every held row with this
    # value is sent, or fails, with the carrier (alerts.delivery.claims). No constraint, as ``via``.
    digest = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # When it was given up on (attempts exhausted, a permanent error, no enabled channel);
    # null on every other status. The admin's operations page counts the last hour's by it.
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # alerts.delivery.digests.release_held: held rows whose quiet hours are over.
            models.Index(fields=["held_until"], condition=Q(status="held"), name="notification_held_idx"),
            # alerts.delivery.claims: a digest's rows, settled with their carrier.
            models.Index(
                fields=["digest"], condition=Q(digest__isnull=False), name="notification_digest_idx"
            ),
            # alerts.selectors.recent_failures and failing_channels: failures of the last hour or
            # day. Partial: only a failure writes an entry, never a firing or a send.
            models.Index(fields=["failed_at"], condition=Q(status="failed"), name="notification_failed_idx"),
            # The admin's channel list: each channel's failures (count, latest error) and its last
            # delivery, by index. Partial: a failure writes an entry in the first, a send in the
            # second, a firing in neither (``via`` itself stays unindexed, see above).
            models.Index(
                fields=["via", "id"], condition=Q(status="failed"), name="notification_via_failed_idx"
            ),
            models.Index(
                fields=["via", "sent_at"], condition=Q(status="sent"), name="notification_via_sent_idx"
            ),
            # alerts.delivery.outbox.requeue_stuck: pending ones, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="notification_pending_idx"
            ),
            # alerts.delivery.outbox._over_the_cap: a user's notifications of the last hour (hourly cap).
            models.Index(fields=["user", "created_at"], name="notification_user_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=["pending", "sent", "failed", "suppressed", "unconfirmed", "held", "snoozed"]
                ),
                name="notification_status_valid_v4",
            ),
        ]

    def __str__(self):
        return f"{self.channel} to {self.to} for alert {self.alert_id} ({self.status})"


class EvaluationCheckpoint(models.Model):
    """How far the evaluator has read the price stream.

    Saved in the same transaction as the triggers it caused, so a crash
    re-reads windows but can never skip them or fire twice.
    """

    # The one evaluator's checkpoint (evaluators sharded by symbol would each have their own).
    DEFAULT = "default"

    name = models.CharField(max_length=64, primary_key=True)
    stream_id = models.CharField(max_length=64, default="0")
    evaluated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} at {self.stream_id}"
