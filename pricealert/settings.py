"""Django settings for pricealert.

Every value is read once, here, from the environment through one reader
(django-environ). Defaults are safe for development; a production deployment
(DEBUG false) must set SECRET_KEY or the process refuses to start.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue
from whitenoise.compress import Compressor

from pricealert.env_values import check_networks, redis_url_with_password, throttle_rate

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# An optional .env file beside manage.py; real environment variables win.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is false. "
            "Set SECRET_KEY in the environment (or DEBUG=true for local development)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "feeds",
    "alerts",
    "operations",
    # The web app (/app/): pages for people, on the same services as the API. (django-htmx is
    # used through its middleware only: as an app it would add its own copy of htmx to collectstatic.)
    "csp",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "pricealert.urls"
# Paths are matched with and without a trailing slash by the URL patterns
# themselves, so no redirect ever turns a POST into a GET.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    # The emails a firing sends (alerts/jinja2/): Jinja2, escaping as Django does (alerts.delivery.jinja).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "emails",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "alerts.delivery.jinja.environment", "keep_trailing_newline": True},
    },
]

WSGI_APPLICATION = "pricealert.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Lets parallel test runs on one PostgreSQL server use separate test databases.
_TEST_DATABASE_NAME = env.str("TEST_DATABASE_NAME", default="")
if _TEST_DATABASE_NAME:
    DATABASES["default"]["TEST"] = {"NAME": _TEST_DATABASE_NAME}
# Several processes (web, worker, beat) share a SQLite file: wait for locks, and
# take the write lock when a transaction begins. A transaction that read first
# and writes later cannot wait for it: SQLite answers "database is locked" at
# once (a register failed with a 500 that way while the engine was writing).
SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_STORAGE",
            default="pricealert.staticfiles.CollectedOrAppStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
# Files collectstatic did not collect are served from their app's static folder, so
# pages still have their CSS and JS without it (pricealert/staticfiles.py).
WHITENOISE_USE_FINDERS = True
# collectstatic compresses each hashed file only (the unhashed copies are not served: the
# fallback above reads the apps' folders) and skips source maps, which browsers fetch only
# with developer tools open: most of its time went to brotli on the API docs' maps.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = ("map", *Compressor.SKIP_COMPRESS_EXTENSIONS)

# --- Redis: Celery broker, live price store, Django cache -------------------


REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis takes a password (docs/SECURITY.md): in REDIS_URL, or on its own here.
# docker-compose.yml generates one (scripts/docker-entrypoint.sh) and hands it over
# this way; REDIS_URL then carries it to the broker, the price store and the cache.
if _redis_password := env.str("REDIS_PASSWORD", default=""):
    REDIS_URL = redis_url_with_password(REDIS_URL, _redis_password)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "pricealert",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            # JSON, never pickle: whoever can write a key must not get code run by reading it
            # (docs/SECURITY.md, "No code from data"; alerts/cache.py stores JSON values).
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }
}
ALERT_LIST_CACHE_SECONDS = env.int("ALERT_LIST_CACHE_SECONDS", default=300)

# --- Email ------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="pricealert <alerts@localhost>")
# The site's address in what it sends: links in emails and alert messages, the emails' Message-ID domain.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")

# --- Binance market data ------------------------------------------------------
BINANCE_WS_URL = env.str("BINANCE_WS_URL", default="wss://stream.binance.com:9443")
BINANCE_REST_URL = env.str("BINANCE_REST_URL", default="https://data-api.binance.vision")
# The callable that tells the feeder which symbols to follow, and each one's frontier (the
# prices past which a trade wakes the engine at once); feeds never imports alerts.
FEEDER_SYMBOLS_SOURCE = env.str("FEEDER_SYMBOLS_SOURCE", default="alerts.selectors.waiting_frontiers")
# A feed older than this while alerts wait makes /health report "degraded".
FEED_STALE_SECONDS = env.float("FEED_STALE_SECONDS", default=60.0)
# manage.py runfeeder: how often windows go to Redis, how often the symbol set is re-read,
# when a connection is replaced ahead of Binance's 24 h limit, and the reconnect backoff cap.
FEEDER_FLUSH_SECONDS = env.float("FEEDER_FLUSH_SECONDS", default=0.2)
# Backfill of missed trades (issue 15): Binance's REST API, how far back, how long a symbol's
# frames wait for it, the share of the REST weight limit it may use; and how long a symbol
# stays followed after its last waiting alert is gone.
BINANCE_API_URL = env.str("BINANCE_API_URL", default="https://api.binance.com")
FEEDER_BACKFILL_CAP_SECONDS = env.float("FEEDER_BACKFILL_CAP_SECONDS", default=600.0)
FEEDER_BACKFILL_HOLD_SECONDS = env.float("FEEDER_BACKFILL_HOLD_SECONDS", default=10.0)
# A percent alert's reference or an inferred direction uses the feeder's latest price only if at
# most this old; otherwise the price is asked from Binance REST (ticker/price) at BINANCE_API_URL.
ALERTS_PRICE_MAX_AGE_SECONDS = env.float("ALERTS_PRICE_MAX_AGE_SECONDS", default=10.0)
FEEDER_REST_WEIGHT_SHARE = env.float("FEEDER_REST_WEIGHT_SHARE", default=0.5)
FEEDER_LINGER_SECONDS = env.float("FEEDER_LINGER_SECONDS", default=600.0)
FEEDER_REFRESH_SECONDS = env.float("FEEDER_REFRESH_SECONDS", default=1.5)
FEEDER_MAX_CONNECTION_AGE_SECONDS = env.float(
    "FEEDER_MAX_CONNECTION_AGE_SECONDS", default=23 * 3600 + 50 * 60
)
FEEDER_RECONNECT_MAX_SECONDS = env.float("FEEDER_RECONNECT_MAX_SECONDS", default=60.0)

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Celery's Django fixup closes every database connection before and after each task
# unless this is set, whatever CONN_MAX_AGE says: a new PostgreSQL backend per task (a
# crash day's hundred send batches, the engine's tick every second), about 4 ms of CPU
# each. Set, it closes them only every that many tasks; pricealert.celery applies
# Django's own rule at each task instead, as for a web request (CONN_MAX_AGE, and
# CONN_HEALTH_CHECKS for a connection the database dropped).
CELERY_DB_REUSE_MAX = 1000
# JSON only, never pickle, whatever a message says it is: a task message is data, and
# whoever can push one onto Redis must not get code run by a worker (docs/SECURITY.md).
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_EVENT_SERIALIZER = "json"
# Engine ticks and the sweeper have a queue of their own, "engine", consumed by a
# worker process type of its own (Procfile and docker-compose.yml: `engine`, -Q engine,
# concurrency 1); the delivery `worker` consumes only the default queue, "celery". A
# backlog of sends or retries, or a user's destination that never answers, then holds
# delivery processes only and can never hold a tick back (docs/SECURITY.md).
CELERY_TASK_QUEUES = (
    Queue("celery", Exchange("celery"), routing_key="celery"),
    Queue("engine", Exchange("engine"), routing_key="engine"),
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "alerts.tasks.evaluate_alerts": {"queue": "engine"},
    "alerts.tasks.requeue_stuck_notifications": {"queue": "engine"},
    "alerts.tasks.requeue_expired_leases": {"queue": "engine"},
    "alerts.tasks.release_held_notifications": {"queue": "engine"},
}
ALERTS_EVALUATE_INTERVAL = env.float("ALERTS_EVALUATE_INTERVAL", default=1.0)
# Notifications on every channel (alerts.tasks.send_notification): attempts before one is
# marked failed, the first retry delay (doubling, with jitter, capped at 15 min),
# and how long a pending one may sit untouched before the sweeper re-enqueues it.
ALERTS_NOTIFY_MAX_ATTEMPTS = env.int("ALERTS_NOTIFY_MAX_ATTEMPTS", default=8)
ALERTS_NOTIFY_RETRY_SECONDS = env.float("ALERTS_NOTIFY_RETRY_SECONDS", default=10.0)
ALERTS_NOTIFY_STUCK_SECONDS = env.int("ALERTS_NOTIFY_STUCK_SECONDS", default=300)
# Per-user limits: active (waiting or re-arming) alerts, deliveries (one per channel of a
# firing) per hour, later ones recorded "suppressed", and channels, the email one included;
# 0 turns a limit off.
ALERTS_MAX_WAITING_PER_USER = env.int("ALERTS_MAX_WAITING_PER_USER", default=200)
ALERTS_MAX_NOTIFICATIONS_PER_HOUR = env.int("ALERTS_MAX_NOTIFICATIONS_PER_HOUR", default=60)
ALERTS_MAX_CHANNELS_PER_USER = env.int("ALERTS_MAX_CHANNELS_PER_USER", default=10)
# Seconds one outbound delivery (a webhook, an Apprise notification) may take, connect and
# read together. ALERTS_WEBHOOK_TIMEOUT_SECONDS is its older, webhook-only name: still read,
# and the default of OUTBOUND_TIMEOUT_SECONDS; both names hold the value in force.
ALERTS_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERTS_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
OUTBOUND_TIMEOUT_SECONDS = env.float("OUTBOUND_TIMEOUT_SECONDS", default=ALERTS_WEBHOOK_TIMEOUT_SECONDS)
ALERTS_WEBHOOK_TIMEOUT_SECONDS = OUTBOUND_TIMEOUT_SECONDS
# Notifications per send_notifications task (alerts.tasks.SEND_BATCH must not exceed it).
ALERTS_SEND_BATCH = 100
# Celery's hard deadline, a backstop behind the transports' own timeouts: a send that
# outlives them (a library that ignores its timeout, a slow DNS answer) gets
# SoftTimeLimitExceeded, settled like any failed attempt (retried later), and its pool
# process is killed at the hard limit. One send is one request or one SMTP session of
# a few round trips: twice the longer timeout, plus time for its database work. A send
# keeps its claim while its process lives (the lease heartbeat), so no other worker can
# claim it while it runs; a process killed at the hard limit lets go a lease later.
SEND_SOFT_TIME_LIMIT = 2 * max(OUTBOUND_TIMEOUT_SECONDS, EMAIL_TIMEOUT) + 5
CELERY_TASK_ANNOTATIONS = {
    "alerts.tasks.send_notification": {
        "soft_time_limit": SEND_SOFT_TIME_LIMIT,
        "time_limit": SEND_SOFT_TIME_LIMIT + 5,
    },
    "alerts.tasks.test_channel": {
        "soft_time_limit": SEND_SOFT_TIME_LIMIT,
        "time_limit": SEND_SOFT_TIME_LIMIT + 5,
    },
    "alerts.tasks.send_notifications": {
        "soft_time_limit": ALERTS_SEND_BATCH * SEND_SOFT_TIME_LIMIT,
        "time_limit": ALERTS_SEND_BATCH * SEND_SOFT_TIME_LIMIT + 5,
    },
}
# After one of a user's webhook or Apprise sends times out, their other such sends wait
# this long (deferred, no attempt spent), so a destination that never answers holds
# delivery workers for one timeout per period, not one per notification (0: off).
ALERTS_SLOW_OWNER_HOLD_SECONDS = env.float("ALERTS_SLOW_OWNER_HOLD_SECONDS", default=60.0)
# How long POST /channels/<id>/test waits for the delivery worker's outcome before it
# answers 202 (the outcome then lands on the channel).
CHANNEL_TEST_WAIT_SECONDS = env.float("CHANNEL_TEST_WAIT_SECONDS", default=1.0)
# --- Outbound requests on users' behalf (alerts.delivery.egress) ---------------------
# CIDRs a user's webhook or Apprise URL may reach although they are private or local
# (a self-hosted ntfy or Gotify on the LAN); empty: the public internet only.
OUTBOUND_ALLOW_NETWORKS = env.str("OUTBOUND_ALLOW_NETWORKS", default="")
check_networks("OUTBOUND_ALLOW_NETWORKS", OUTBOUND_ALLOW_NETWORKS)
# Apprise schemes whose host the service itself fixes (the user names only a token,
# a channel or a topic). Any other scheme (json, xml, form, irc, mailto, syslog,
# apprise, ...) lets the user pick the host and is refused unless that host is
# inside OUTBOUND_ALLOW_NETWORKS.
APPRISE_ALLOWED_SCHEMES = env.list(
    "APPRISE_ALLOWED_SCHEMES",
    default=[
        "tgram",
        "discord",
        "slack",
        "pover",
        "pbul",
        "msteams",
        "ntfy",
        "ntfys",
        "matrix",
        "matrixs",
        "join",
        "line",
        "gchat",
        "pushed",
        "spush",
    ],
)
# How often the sweeper looks for stuck ones; how long a send claim (lease) lasts unless
# its worker's heartbeat renews it (every third of it), and how often the lease sweeper
# hands on the leases a dead worker stopped renewing: what it held resumes within about
# lease + lease sweep (docs/RELIABILITY.md).
ALERTS_NOTIFY_SWEEP_SECONDS = env.float("ALERTS_NOTIFY_SWEEP_SECONDS", default=60.0)
ALERTS_NOTIFY_LEASE_SECONDS = env.float("ALERTS_NOTIFY_LEASE_SECONDS", default=10.0)
ALERTS_NOTIFY_LEASE_SWEEP_SECONDS = env.float("ALERTS_NOTIFY_LEASE_SWEEP_SECONDS", default=3.0)
# --- Watchlists, quiet hours, message templates (issue 18) ---------------------
# Symbols one watchlist ("symbols": [...]) may name; the longest template a channel may
# carry (a webhook's JSON body, an Apprise body); how often held deliveries whose quiet
# hours ended are released as digests (alerts.delivery.digests).
ALERTS_MAX_SYMBOLS_PER_GROUP = env.int("ALERTS_MAX_SYMBOLS_PER_GROUP", default=50)
ALERTS_TEMPLATE_MAX_CHARS = env.int("ALERTS_TEMPLATE_MAX_CHARS", default=4000)
ALERTS_QUIET_RELEASE_SECONDS = env.float("ALERTS_QUIET_RELEASE_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE = {
    "evaluate-alerts": {
        "task": "alerts.tasks.evaluate_alerts",
        "schedule": ALERTS_EVALUATE_INTERVAL,
        # A tick nobody picked up in time is dropped, not piled up.
        "options": {"expires": max(ALERTS_EVALUATE_INTERVAL * 2, 1.0)},
    },
    "requeue-stuck-notifications": {
        "task": "alerts.tasks.requeue_stuck_notifications",
        "schedule": ALERTS_NOTIFY_SWEEP_SECONDS,
        "options": {"expires": max(ALERTS_NOTIFY_SWEEP_SECONDS - 5, 1.0)},
    },
    "requeue-expired-leases": {
        "task": "alerts.tasks.requeue_expired_leases",
        "schedule": ALERTS_NOTIFY_LEASE_SWEEP_SECONDS,
        "options": {"expires": max(ALERTS_NOTIFY_LEASE_SWEEP_SECONDS, 1.0)},
    },
    "release-held-notifications": {
        "task": "alerts.tasks.release_held_notifications",
        "schedule": ALERTS_QUIET_RELEASE_SECONDS,
        "options": {"expires": max(ALERTS_QUIET_RELEASE_SECONDS, 1.0)},
    },
}

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON numbers parse to exact Decimals (prices are never floats).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.DecimalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.json_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # Throttles of login, register and refresh (accounts.throttling) and, per user, of creating
    # alerts and channels and testing channels (alerts' APIs), counted in the cache.
    "DEFAULT_THROTTLE_RATES": {
        "login_ip": throttle_rate("THROTTLE_LOGIN_IP", env.str("THROTTLE_LOGIN_IP", default="10/min")),
        "login_account": throttle_rate(
            "THROTTLE_LOGIN_ACCOUNT", env.str("THROTTLE_LOGIN_ACCOUNT", default="5/min")
        ),
        "register_ip": throttle_rate(
            "THROTTLE_REGISTER_IP", env.str("THROTTLE_REGISTER_IP", default="20/hour")
        ),
        "register_account": throttle_rate(
            "THROTTLE_REGISTER_ACCOUNT", env.str("THROTTLE_REGISTER_ACCOUNT", default="5/hour")
        ),
        "refresh_ip": throttle_rate("THROTTLE_REFRESH_IP", env.str("THROTTLE_REFRESH_IP", default="30/min")),
        "refresh_account": throttle_rate(
            "THROTTLE_REFRESH_ACCOUNT", env.str("THROTTLE_REFRESH_ACCOUNT", default="10/min")
        ),
        "alert_create": throttle_rate(
            "THROTTLE_ALERT_CREATE", env.str("THROTTLE_ALERT_CREATE", default="60/min")
        ),
        "channel_create": throttle_rate(
            "THROTTLE_CHANNEL_CREATE", env.str("THROTTLE_CHANNEL_CREATE", default="20/hour")
        ),
        "channel_test": throttle_rate(
            "THROTTLE_CHANNEL_TEST", env.str("THROTTLE_CHANNEL_TEST", default="20/hour")
        ),
    },
    # Reverse proxies in front of the app that append to X-Forwarded-For. 0: the client
    # address is REMOTE_ADDR and X-Forwarded-For is ignored (anyone can forge it).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# --- Accounts: sessions, password reset, verified addresses, API keys, secrets at rest (issue 16) ---
# A login's refresh tokens stop working this long after the login, however often rotated.
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30)
# How long a password-reset link works (Django's setting, in seconds; default 1 hour).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# "mandatory": nothing is delivered to an address until its owner clicks the emailed link;
# "none": addresses are trusted as typed (a closed, single-operator install).
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory").strip().lower()
if ACCOUNT_EMAIL_VERIFICATION not in ("mandatory", "none"):
    raise ImproperlyConfigured('ACCOUNT_EMAIL_VERIFICATION must be "mandatory" or "none".')
ACCOUNT_VERIFICATION_LINK_DAYS = env.int("ACCOUNT_VERIFICATION_LINK_DAYS", default=7)
# Fernet keys of webhook secrets and Apprise URLs in the database (alerts.encryption): comma-separated,
# newest first; older ones still decrypt. docker compose generates one; only with DEBUG may it be
# unset (a key derived from SECRET_KEY is used then).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
if not FIELD_ENCRYPTION_KEY and not DEBUG:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is required when DEBUG is false: it encrypts channel secrets in the "
        "database. Make one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())' (docker compose generates one)."
    )
_rates = {
    "password_change": ("THROTTLE_PASSWORD_CHANGE", env.str("THROTTLE_PASSWORD_CHANGE", default="10/hour")),
    "password_reset_ip": (
        "THROTTLE_PASSWORD_RESET_IP",
        env.str("THROTTLE_PASSWORD_RESET_IP", default="20/hour"),
    ),
    "password_reset_account": (
        "THROTTLE_PASSWORD_RESET_ACCOUNT",
        env.str("THROTTLE_PASSWORD_RESET_ACCOUNT", default="5/hour"),
    ),
    "token_confirm_ip": (
        "THROTTLE_TOKEN_CONFIRM_IP",
        env.str("THROTTLE_TOKEN_CONFIRM_IP", default="30/hour"),
    ),
    "verify_resend": ("THROTTLE_VERIFY_RESEND", env.str("THROTTLE_VERIFY_RESEND", default="5/hour")),
    "account_delete": ("THROTTLE_ACCOUNT_DELETE", env.str("THROTTLE_ACCOUNT_DELETE", default="5/hour")),
    "api_key_create": ("THROTTLE_API_KEY_CREATE", env.str("THROTTLE_API_KEY_CREATE", default="20/hour")),
}
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(
    {scope: throttle_rate(name, rate) for scope, (name, rate) in _rates.items()},
    # The account a login resolves to (its email and username together) has the per-account budget.
    login_user=REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login_account"],
)
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "accounts.authentication.ApiKeyAuthentication",
    "accounts.authentication.SessionJWTAuthentication",
]

SPECTACULAR_SETTINGS = {
    "TITLE": "pricealert API",
    "DESCRIPTION": "Self-hosted cryptocurrency price alerts from Binance's live market streams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.openapi.typed_nullables"],
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "alerts.serializers.ALERT_STATUSES",
        "MoveDirectionEnum": "alerts.serializers.MOVE_DIRECTIONS",
        "AlertKindEnum": "alerts.serializers.ALERT_KINDS",
        "DirectionEnum": "alerts.serializers.DIRECTION_WORDS",
        "KindEnum": "alerts.serializers.CHANNEL_KINDS",
        "AlertDirectionEnum": "alerts.serializers.OUTPUT_DIRECTIONS",
        "CheckStateEnum": "operations.health.CHECK_STATES",
        "FeedStatusEnum": "operations.health.FEED_STATES",
        "StreamStatusEnum": "operations.health.STREAM_STATES",
        "HealthStatusEnum": "operations.health.HEALTH_STATES",
    },
}

# --- Web app (/app/, web/): session login, CSP, htmx --------------------------
from csp.constants import NONE, SELF  # noqa: E402 - django-csp's policy words, used only here

LOGIN_URL = "/app/login"
LOGIN_REDIRECT_URL = "/app/"
# Every asset is served from the site itself (whitenoise): no inline script or style, no CDN.
# Swagger UI and the admin bring their own inline code, so they are left out of the policy.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/docs", "/admin"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# How often the dashboard's rows (prices, statuses) are polled, in seconds (at most 2 s apart).
WEB_REFRESH_SECONDS = env.float("WEB_REFRESH_SECONDS", default=2.0)
# The chart on an alert's page covers this many hours of 1-minute candles.
WEB_CHART_HOURS = env.int("WEB_CHART_HOURS", default=6)

# --- Production hardening (toggled from the environment) ---------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers and container healthchecks probe /health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/?$"]

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s",
        },
    },
    "filters": {
        "routine_tasks": {
            "()": "pricealert.logfilters.DropRoutineTaskLines",
            "tasks": ["alerts.tasks.evaluate_alerts"],
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["routine_tasks"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
