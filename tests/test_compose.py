"""docker-compose.yml, the Dockerfile and .env.example agree with the code they run.

Docker does not run here, so these read the files: every service's command must
name an entry point that exists (a management command, the Celery app with the
beat schedule's tasks registered, the WSGI module), and every environment
variable the files set must be one the settings read, and the reverse.
"""

import ast
import inspect
import re
import sys
import wsgiref.util
from pathlib import Path

import gunicorn.config
import pytest
import yaml
from django.conf import settings
from django.core.signals import request_started
from django.db import close_old_connections

from tests.e2e.harness import DELIVERY_CONCURRENCY
from tests.entrypoints import check_command

PROJECT_DIR = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text())
COMPOSE_TEXT = (PROJECT_DIR / "docker-compose.yml").read_text()
DOCKERFILE = (PROJECT_DIR / "Dockerfile").read_text()
ENV_EXAMPLE = (PROJECT_DIR / ".env.example").read_text()
SERVICES = COMPOSE["services"]
APP_SERVICES = ("migrate", "web", "feeder", "worker", "engine", "beat")

# Variables in the files that Django does not read, and who does.
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "WEB_PORT", "MAILPIT_PORT"}
READ_BY_OTHERS = {
    "WEB_CONCURRENCY": inspect.getsource(gunicorn.config),
    "SECRET_KEY_FILE": (PROJECT_DIR / "scripts" / "docker-entrypoint.sh").read_text(),
    "REDIS_PASSWORD_FILE": (PROJECT_DIR / "scripts" / "docker-entrypoint.sh").read_text(),
    "FIELD_ENCRYPTION_KEY_FILE": (PROJECT_DIR / "scripts" / "docker-entrypoint.sh").read_text(),
}


def settings_env_names() -> set[str]:
    """Every NAME in ``env.<type>("NAME", ...)`` / ``env("NAME")`` in pricealert/settings.py."""
    tree = ast.parse((PROJECT_DIR / "pricealert" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        if is_env and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return names


def env_example_names() -> set[str]:
    """Names set or shown commented out (``# NAME=default``) in .env.example."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, flags=re.MULTILINE))


def interpolated_names(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def test_settings_read_the_environment_only_through_env():
    """So the AST scan below sees every variable the settings read."""
    source = (PROJECT_DIR / "pricealert" / "settings.py").read_text()
    assert "os.environ" not in source and "getenv" not in source
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "STATICFILES_STORAGE"} <= settings_env_names()


def test_the_stack_has_every_service():
    assert set(SERVICES) == {
        "postgres",
        "secrets",
        "redis",
        "migrate",
        "web",
        "feeder",
        "worker",
        "engine",
        "beat",
        "mailpit",
    }


def test_postgres_and_redis_are_healthchecked_and_keep_their_data():
    postgres, redis = SERVICES["postgres"], SERVICES["redis"]
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "pgdata:/var/lib/postgresql/data" in postgres["volumes"]
    assert redis["image"] == "redis:7"
    assert "redis-cli ping | grep -q PONG" in redis["healthcheck"]["test"][-1]  # authenticated PING
    assert set(COMPOSE["volumes"]) >= {"pgdata", "redisdata", "appdata"}


def test_mailpit_catches_the_apps_email():
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit:")
    assert any(port.endswith(":8025") for port in SERVICES["mailpit"]["ports"])
    for name in APP_SERVICES:
        environment = SERVICES[name]["environment"]
        assert environment["EMAIL_HOST"] == "${EMAIL_HOST:-mailpit}"
        assert environment["EMAIL_PORT"] == "${EMAIL_PORT:-1025}"


def test_app_services_share_one_image_and_wait_for_their_dependencies():
    migrate = SERVICES["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate["restart"] == "no"
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"] == "." and service["image"] == "pricealert:local"
        assert service["environment"]["DATABASE_URL"].endswith("@postgres:5432/pricealert")
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert "appdata:/app/var" in service["volumes"]
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert service["depends_on"]["redis"]["condition"] == "service_healthy"


def test_migrate_runs_the_migrations():
    entry = check_command(SERVICES["migrate"]["command"])
    assert (entry.kind, entry.name, entry.options["interactive"]) == ("manage.py", "migrate", False)


def test_feeder_runs_the_production_feeder_command():
    entry = check_command(SERVICES["feeder"]["command"])
    assert (entry.kind, entry.name) == ("manage.py", "runfeeder")


def test_worker_engine_and_beat_run_the_project_celery_app_with_every_scheduled_task():
    worker = check_command(SERVICES["worker"]["command"])
    engine = check_command(SERVICES["engine"]["command"])
    beat = check_command(SERVICES["beat"]["command"])

    assert (worker.kind, worker.name, engine.name, beat.name) == ("celery", "worker", "worker", "beat")
    # Deliveries and evaluation in separate containers (tests/test_procfile.py checks the routing).
    assert (worker.options["queues"], engine.options["queues"]) == (["celery"], ["engine"])
    assert engine.options["concurrency"] == 1
    assert worker.options["concurrency"] == DELIVERY_CONCURRENCY  # as the Procfile and the e2e stack
    app = worker.app
    assert app is engine.app is beat.app and app.main == "pricealert"
    app.loader.import_default_modules()  # what the worker does at start: autodiscover tasks
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled >= {"alerts.tasks.evaluate_alerts", "alerts.tasks.requeue_stuck_notifications"}
    assert scheduled | {"alerts.tasks.send_notification"} <= set(app.tasks)


def test_beat_keeps_its_schedule_on_the_writable_volume():
    beat = check_command(SERVICES["beat"]["command"])
    assert beat.options["schedule"].startswith("/app/var/")
    assert "mkdir -p /app/var" in DOCKERFILE and "chown app:app /app/var" in DOCKERFILE


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:No directory at")  # no collectstatic in the test run
def test_web_runs_gunicorn_on_the_wsgi_application_that_answers_health():
    entry = check_command(SERVICES["web"]["command"])
    assert entry.kind == "gunicorn" and entry.name == "pricealert.wsgi"
    assert entry.options["bind"] == ["0.0.0.0:8000"]
    environ = {"PATH_INFO": "/health", "REQUEST_METHOD": "GET", "SERVER_NAME": "localhost"}
    wsgiref.util.setup_testing_defaults(environ)
    statuses = []

    # As django.test.Client does: the request must not close the test's open transaction.
    request_started.disconnect(close_old_connections)
    try:
        body = b"".join(entry.app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    finally:
        request_started.connect(close_old_connections)

    assert statuses == ["200 OK"], body
    assert b'"status"' in body


def test_dockerfile_default_command_is_the_web_service():
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.MULTILINE)
    assert cmd and yaml.safe_load(cmd.group(1)) == SERVICES["web"]["command"]


def test_dockerfile_builds_the_tested_python_as_a_non_root_user():
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in DOCKERFILE
    assert "pip install -r requirements.txt" in DOCKERFILE
    assert re.search(r"^USER app$", DOCKERFILE, flags=re.MULTILINE)
    assert "collectstatic --noinput" in DOCKERFILE
    assert 'ENTRYPOINT ["sh", "/app/scripts/docker-entrypoint.sh"]' in DOCKERFILE
    # The build-time key exists only inside that RUN line, never as image ENV.
    assert not re.search(r"^ENV[^\n]*SECRET_KEY", DOCKERFILE, flags=re.MULTILINE)


def test_requirements_are_pinned():
    lines = [
        line.split("#")[0].strip() for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9.+\-]+", line) for line in requirements), [
        line for line in requirements if "==" not in line
    ]


def test_every_variable_compose_gives_the_app_is_read_by_settings():
    known = settings_env_names() | set(READ_BY_OTHERS)
    for name in APP_SERVICES:
        unknown = set(SERVICES[name]["environment"]) - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_variables_read_by_other_programs_are_really_read_there():
    for name, source in READ_BY_OTHERS.items():
        assert name in source


def test_env_example_documents_every_setting():
    missing = settings_env_names() - env_example_names()
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_names_only_real_settings():
    unknown = env_example_names() - settings_env_names() - COMPOSE_ONLY - set(READ_BY_OTHERS)
    assert not unknown, f".env.example names variables nothing reads: {sorted(unknown)}"


def test_compose_only_variables_are_used_by_compose_and_documented():
    interpolated = interpolated_names(COMPOSE_TEXT)
    assert interpolated >= COMPOSE_ONLY
    undocumented = interpolated - env_example_names()
    assert not undocumented, f"docker-compose.yml reads {sorted(undocumented)}, not in .env.example"


def test_env_file_is_optional_so_compose_up_works_without_one():
    for name in APP_SERVICES:
        assert SERVICES[name]["env_file"] == [{"path": ".env", "required": False}]
        assert SERVICES[name]["environment"]["SECRET_KEY_FILE"] == "/app/var/secret_key"
        assert SERVICES[name]["environment"]["DEBUG"] == "${DEBUG:-false}"
