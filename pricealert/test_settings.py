"""Settings for the test suite: the real ones, with test-only overrides.

Redis is real (a dedicated database number, flushed per test); the database is
SQLite in memory unless DATABASE_URL names one (CI also runs on PostgreSQL).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")
# A fixed test key (processes the tests start inherit it); tests that rotate keys set their own.
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "test-field-encryption-key-not-for-production")
# Never the development Redis database: tests flush theirs.
os.environ["REDIS_URL"] = os.environ.get(
    "TEST_REDIS_URL", f"redis://127.0.0.1:6379/{os.environ.get('TEST_REDIS_DB', '15')}"
)
# The tests' password, if any, is in TEST_REDIS_URL (`make test` puts it there): a
# REDIS_PASSWORD in .env is the deployment's and must not be added to it.
os.environ["REDIS_PASSWORD"] = ""
# A feeder started by a test backfills from the fake Binance it is given, never from the real one.
os.environ.setdefault("BINANCE_API_URL", "http://127.0.0.1:9")

from .settings import *  # noqa: F403
from .settings import CACHES, REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test client's whitenoise would scan every app's static folder (~10 ms); the tests
# that fetch static files in production's way set it back (pricealert/tests/test_swagger.py).
WHITENOISE_USE_FINDERS = False
CACHES["default"]["KEY_PREFIX"] = "pricealert-test"
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]
# The API speaks JSON only: test clients send JSON unless a test says otherwise.
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
# Tests log in and register far more often than a person: throttles stay out of their
# way. The throttle tests lower these rates themselves (tests/security/test_throttling.py).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    scope: "100000/min" for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
