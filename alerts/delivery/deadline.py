"""A hard wall-clock deadline around one send, whatever the library underneath does.

Socket timeouts bound each connect and each read, not their sum: a destination
that answers one byte every few seconds, or an Apprise plugin that retries,
could hold a worker far longer. In a Celery prefork worker a task runs in the
process's main thread, so an interval timer (SIGALRM) can interrupt the send at
the deadline wherever it is. Elsewhere (a thread, as in a threaded test worker)
there is no timer and the socket timeouts alone bound the send; Celery's
soft/hard time limits stay the backstop behind both.
"""

import signal
import threading
from contextlib import contextmanager

from django.conf import settings

from alerts.delivery.errors import NotificationError


class DeadlineExceeded(BaseException):
    """Raised by the timer. A BaseException, so that plugins' ``except Exception`` cannot swallow it."""


def _expire(signum, frame):
    raise DeadlineExceeded


@contextmanager
def send_deadline(seconds: float):
    """Run the block for at most ``seconds``; past that, NotificationError("timed out")."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except DeadlineExceeded:
        raise NotificationError("timed out") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outbound_timeout() -> float:
    """Seconds one webhook or Apprise send may take, connect and read together.

    OUTBOUND_TIMEOUT_SECONDS, or its older webhook-only name if that one is set
    lower at run time (both hold the same value when read from the environment).
    """
    return min(settings.OUTBOUND_TIMEOUT_SECONDS, settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS)
