"""Production settings: what the container runs with passes `check --deploy` and is safe by default.

Each check runs Django in a fresh subprocess with the container's environment
(DEBUG unset or false, a long random SECRET_KEY, the SECURE_* toggles on),
because settings are read once at import and the test settings differ.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRODUCTION_STORAGE = "pricealert.staticfiles.CollectedOrAppStaticFilesStorage"

HTTPS_TOGGLES = {
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
}


def container_env(**overrides) -> dict[str, str]:
    """The environment docker-compose.yml gives the app, minus anything from the test run."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pricealert.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        # docker compose generates it like SECRET_KEY (scripts/docker-entrypoint.sh).
        FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="alerts.example.com",
        CSRF_TRUSTED_ORIGINS="https://alerts.example.com",
    )
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def django_run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def settings_value(expression: str, env: dict[str, str]) -> object:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = django_run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_the_https_toggles_on():
    result = django_run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], container_env(**HTTPS_TOGGLES)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_each_toggle_left_off():
    """The toggles are what makes the check clean: without them Django says which are missing."""
    result = django_run(["manage.py", "check", "--deploy"], container_env())

    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr, result.stderr


def test_debug_is_off_and_email_is_smtp_when_nothing_is_set():
    env = container_env(DEBUG=None, EMAIL_BACKEND=None)

    assert settings_value("settings.DEBUG", env) is False
    assert settings_value("settings.EMAIL_BACKEND", env) == "django.core.mail.backends.smtp.EmailBackend"
    # whitenoise's compressed manifest storage, which also serves what collectstatic missed.
    assert settings_value("settings.STORAGES['staticfiles']['BACKEND']", env) == PRODUCTION_STORAGE
    middleware = settings_value("settings.MIDDLEWARE", env)
    assert middleware[:2] == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]


def test_missing_secret_key_stops_startup_with_a_clear_message():
    result = django_run(["manage.py", "check"], container_env(SECRET_KEY=None, DEBUG="false"))

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is false" in result.stderr


def test_logs_are_one_line_with_time_level_process_and_logger():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('pricealert.ops').warning('feed %s is stale', 'btcusdt')"
    )
    result = django_run(["-c", code], container_env())

    assert result.returncode == 0, result.stderr
    timestamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    line_format = timestamp + r" WARNING MainProcess pricealert\.ops: feed btcusdt is stale"
    assert re.fullmatch(line_format, result.stderr.strip()), result.stderr


def test_celery_lines_about_the_every_second_evaluation_tick_are_left_out():
    code = """
import django, logging
django.setup()
trace, beat = logging.getLogger("celery.app.trace"), logging.getLogger("celery.beat")
done = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
tick = {"name": "alerts.tasks.evaluate_alerts", "id": "t1", "runtime": 0.01, "return_value": None}
send = {"name": "alerts.tasks.send_notification", "id": "s1", "runtime": 0.02, "return_value": "sent"}
trace.info(done, tick)
beat.info("Scheduler: Sending due task %s (%s)", "evaluate-alerts", "alerts.tasks.evaluate_alerts")
trace.info(done, send)
trace.error("Task %(name)s[%(id)s] raised unexpected: %(exc)s", {**tick, "exc": "boom"})
"""
    result = django_run(["-c", code], container_env())

    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "send_notification[s1] succeeded" in lines[0]
    assert "ERROR MainProcess celery.app.trace: Task alerts.tasks.evaluate_alerts[t1] raised" in lines[1]


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """collectstatic exactly as the Dockerfile runs it (production storage), into a temp dir."""
    root = tmp_path_factory.mktemp("static")
    code = (
        "import django, sys; django.setup(); from django.conf import settings; "
        "settings.STATIC_ROOT = sys.argv[1]; "
        "from django.core.management import call_command; "
        "call_command('collectstatic', '--noinput', verbosity=0)"
    )
    result = django_run(["-c", code, str(root)], container_env(DEBUG="false"))
    assert result.returncode == 0, result.stderr
    return root


def test_collectstatic_builds_a_hashed_manifest(collected_static):
    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]

    assert re.fullmatch(r"admin/css/base\.[0-9a-f]{12}\.css", manifest["admin/css/base.css"])
    swagger = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert (collected_static / manifest[swagger]).is_file()
    assert (collected_static / (manifest[swagger] + ".gz")).is_file()


def test_whitenoise_serves_hashed_static_files_for_a_year(collected_static, settings):
    settings.STATIC_ROOT = collected_static
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": PRODUCTION_STORAGE},
    }
    hashed = json.loads((collected_static / "staticfiles.json").read_text())["paths"]["admin/css/base.css"]

    response = Client().get(f"/static/{hashed}", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "immutable" in response["Cache-Control"]
    assert "max-age=315360000" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_is_exempt_from_the_https_redirect(settings, tmp_path):
    settings.SECURE_SSL_REDIRECT = True
    settings.STATIC_ROOT = tmp_path
    client = Client()

    assert client.get("/health").status_code in (200, 503)
    assert client.get("/health/").status_code in (200, 503)
    redirected = client.get("/api/docs/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")


def test_outbound_timeout_is_read_under_both_names_and_both_hold_the_value_in_force():
    expression = "[settings.OUTBOUND_TIMEOUT_SECONDS, settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS]"

    assert settings_value(expression, container_env()) == [5.0, 5.0]
    assert settings_value(expression, container_env(ALERTS_WEBHOOK_TIMEOUT_SECONDS="7")) == [7.0, 7.0]
    both = container_env(ALERTS_WEBHOOK_TIMEOUT_SECONDS="7", OUTBOUND_TIMEOUT_SECONDS="3")
    assert settings_value(expression, both) == [3.0, 3.0]


def test_send_tasks_time_limits_follow_the_outbound_and_email_timeouts():
    """Twice the longer of the two timeouts plus 5 s per send; a batch gets as much per notification."""
    env = container_env(OUTBOUND_TIMEOUT_SECONDS="12", EMAIL_TIMEOUT="3")

    annotations = settings_value("settings.CELERY_TASK_ANNOTATIONS", env)

    assert annotations["alerts.tasks.send_notification"] == {"soft_time_limit": 29.0, "time_limit": 34.0}
    assert annotations["alerts.tasks.send_notifications"] == {"soft_time_limit": 2900.0, "time_limit": 2905.0}


def test_the_send_tasks_carry_their_time_limits_and_a_send_dies_before_its_claim_lapses(settings):
    """The real Celery app's tasks, as a worker loads them (annotations applied to the task classes)."""
    from pricealert.celery import app

    app.loader.import_default_modules()
    single, batch = app.tasks["alerts.tasks.send_notification"], app.tasks["alerts.tasks.send_notifications"]

    assert 0 < single.soft_time_limit < single.time_limit
    assert 0 < batch.soft_time_limit < batch.time_limit
    # A send keeps its claim while its process lives, however long it takes (the lease
    # heartbeat: alerts/tests/test_delivery_batches.py); past the hard limit the pool
    # process is gone, and so is the heartbeat.
    # The batch's budget covers every notification the enqueuer puts in one.
    batch_module = sys.modules[batch.__module__]
    assert batch_module.SEND_BATCH <= settings.ALERTS_SEND_BATCH
    assert batch.soft_time_limit >= settings.ALERTS_SEND_BATCH * single.soft_time_limit
