"""Logging filters: keep the one-line logs about events, not about the clock.

Celery logs three INFO lines per run of every task (beat sent it, the worker
received it, it succeeded). For the evaluation tick that runs every second this
is most of the log and says nothing: the task logs itself when it fires alerts,
and failures are still logged at WARNING and above.
"""

import logging
from collections.abc import Iterable


class DropRoutineTaskLines(logging.Filter):
    """Drop INFO-and-below records whose arguments name one of ``tasks``."""

    def __init__(self, tasks: Iterable[str] = ()):
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not self.tasks:
            return True
        args = record.args
        values = args.values() if isinstance(args, dict) else (args or ())
        return not any(isinstance(value, str) and value in self.tasks for value in values)
