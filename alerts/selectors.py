"""Reads of alerts."""

from alerts.models import Alert


def waiting_symbols() -> set[str]:
    """Symbols with at least one waiting alert: what the feeder must follow."""
    return set(Alert.objects.filter(status=Alert.Status.CREATED).values_list("symbol", flat=True).distinct())
