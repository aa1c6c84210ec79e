"""Alerts, the notifications they send, and the evaluator's checkpoint."""

from django.conf import settings
from django.db import models
from django.db.models import Q

PRICE_DIGITS = 20
PRICE_DECIMALS = 8  # Binance's precision: 0.00001234 round-trips exactly.


class Alert(models.Model):
    class Direction(models.TextChoices):
        ABOVE = "above", "above"
        BELOW = "below", "below"

    class Status(models.TextChoices):
        CREATED = "created", "created (waiting)"
        TRIGGERED = "triggered", "triggered"
        DELETED = "deleted", "deleted"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts")
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    target_price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # alerts.engine: per-symbol probes for waiting alerts that a window crossed.
            models.Index(
                fields=["symbol", "direction", "target_price"],
                condition=Q(status="created"),
                name="alert_waiting_target_idx",
            ),
            # alerts.selectors.alert_list: a user's alerts, newest first.
            models.Index(fields=["user", "-created_at"], name="alert_user_created_idx"),
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
                condition=Q(status__in=["created", "triggered", "deleted"]), name="alert_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.symbol} {self.direction} {self.target_price} ({self.status})"


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=20, default="email")
    to = models.CharField(max_length=254)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Nobody but the current owner may try to send it before this time: set to a
    # lease while a worker sends it and to the retry time while a retry waits
    # (alerts.notify.claim_notification, alerts.tasks.requeue_stuck_notifications).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # alerts.tasks.requeue_stuck_notifications: pending ones, oldest first.
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="notification_pending_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]), name="notification_status_valid"
            ),
        ]

    def __str__(self):
        return f"{self.channel} to {self.to} for alert {self.alert_id} ({self.status})"


class EvaluationCheckpoint(models.Model):
    """How far the evaluator has read the price stream.

    Saved in the same transaction as the triggers it caused, so a crash
    re-reads windows but can never skip them or fire twice.
    """

    name = models.CharField(max_length=64, primary_key=True)
    stream_id = models.CharField(max_length=64, default="0")
    evaluated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} at {self.stream_id}"
