"""Signals other apps listen to (accounts imports no other app)."""

from django.dispatch import Signal

# Sent inside the confirming transaction: kwargs ``user`` and ``address`` (lower-cased). The alerts
# app confirms the user's email channels with that address (returning True if there were any) and
# sends what was held once the transaction commits.
address_verified = Signal()

# Sent inside the deleting transaction, before Django's cascade collects the user's rows: kwargs
# ``users`` (a queryset or list of users). The alerts app locks their alerts, so a firing in progress
# commits its notifications first (and the cascade sees them) or finds the alerts gone.
deleting_accounts = Signal()
