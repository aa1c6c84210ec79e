"""Signals other apps listen to (accounts imports no other app)."""

from django.dispatch import Signal

# Sent on commit when an address is confirmed: kwargs ``user`` and ``address`` (lower-cased).
# The alerts app verifies the user's email channels with that address and sends what was held.
address_verified = Signal()
