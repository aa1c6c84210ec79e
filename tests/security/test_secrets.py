"""Secrets only from the environment: SECRET_KEY signs tokens; the development key fails check --deploy."""

import secrets

from tests.test_deploy_settings import HTTPS_TOGGLES, container_env, django_run, settings_value

SIGNING_KEY = (
    "__import__('rest_framework_simplejwt.settings', fromlist=['api_settings']).api_settings.SIGNING_KEY"
)


def test_tokens_are_signed_with_the_secret_key_from_the_environment():
    for _ in range(2):
        key = secrets.token_urlsafe(50)
        assert settings_value(SIGNING_KEY, container_env(SECRET_KEY=key)) == key


def test_the_development_key_cannot_pass_the_deploy_check():
    """It is only a default while DEBUG is true; copied into production, check --deploy refuses it."""
    from pricealert import settings as project_settings

    env = container_env(SECRET_KEY=project_settings._DEV_SECRET_KEY, **HTTPS_TOGGLES)
    result = django_run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_email_and_database_credentials_have_no_built_in_values():
    env = container_env(DATABASE_URL=None, EMAIL_HOST_PASSWORD=None, EMAIL_HOST_USER=None)
    assert settings_value("settings.EMAIL_HOST_PASSWORD", env) == ""
    assert settings_value("settings.DATABASES['default'].get('PASSWORD', '')", env) == ""
