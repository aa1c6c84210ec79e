"""
WSGI config for pricealert project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pricealert.settings")

application = get_wsgi_application()
# Import the URLconf (and with it DRF, drf-spectacular and every view) while the worker
# boots: left to the first request, it cost that request about half a second of CPU in
# each gunicorn worker (docs/BENCHMARKS.md, Load).
get_resolver().url_patterns  # noqa: B018
