"""The Celery app: `celery -A pricealert worker` and `celery -A pricealert beat`.

Broker is Redis (REDIS_URL); configuration comes from Django settings
(CELERY_* names), the beat schedule included.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")

app = Celery("pricealert")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
