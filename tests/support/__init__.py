"""Test helpers every app's tests share: real local servers and readers of what the code really did.

- ``smtp``: a real SMTP server (aiosmtpd) that records and can refuse messages;
- ``http``: a real HTTP server that records requests and answers as scripted;
- ``broker``: what Celery really queued in the test Redis.

The fixtures built on them (``mail``, the alert and notification factories)
are in the root conftest.py.
"""
