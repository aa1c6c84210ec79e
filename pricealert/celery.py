"""The Celery app: `celery -A pricealert worker` and `celery -A pricealert beat`.

Broker is Redis (REDIS_URL); configuration comes from Django settings
(CELERY_* names), the beat schedule included.
"""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")

app = Celery("pricealert")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs):
    """Worker and beat log like every other process: settings.LOGGING's one-line format and level.

    Connecting this signal stops Celery from installing its own handlers and format.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
