"""Signals other apps listen to (accounts imports no other app)."""

from django.dispatch import Signal

# Sent inside the confirming transaction: kwargs ``user`` and ``address`` (lower-cased). The alerts
# app confirms the user's email channels with that address (returning True if there were any) and
# sends what was held once the transaction commits.
address_verified = Signal()
