"""The WSGI module gunicorn loads is ready to serve before its first request."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


def test_loading_the_wsgi_application_imports_the_urlconf_and_views():
    # In a fresh interpreter, as a gunicorn worker boots: the URLconf and the API views
    # are imported by then, not by the first request (which used to pay ~0.5 s for it).
    probe = (
        "import sys, pricealert.wsgi; print('pricealert.urls' in sys.modules, 'alerts.apis' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pricealert.settings", "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
