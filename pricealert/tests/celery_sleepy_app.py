"""The project's Celery app plus one slow task: the broker-restart test runs it across a restart."""

import time
from pathlib import Path

from pricealert.celery import app


@app.task(name="pricealert.tests.sleep_then_touch", acks_late=True, ignore_result=True)
def sleep_then_touch(path: str, seconds: float) -> None:
    time.sleep(seconds)
    Path(path).touch()
