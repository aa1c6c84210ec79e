"""pricealert's wiring: settings, root URLs, the Celery app, WSGI/ASGI; the apps hold the code.

Importing the package loads the Celery app, so that the apps' shared tasks bind to it.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
