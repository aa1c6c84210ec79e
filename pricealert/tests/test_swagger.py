"""GET /api/docs/: Swagger UI served from the local sidecar package, never a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.test import Client
from django.utils.module_loading import import_string

from pricealert import settings as production

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs"])
def test_swagger_ui_is_served_without_any_cdn(anon_client, path):
    response = anon_client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    for cdn in ("cdn.", "unpkg.com", "jsdelivr", "cdnjs", "googleapis"):
        assert cdn not in html
    # Every script and stylesheet is a local path that staticfiles can serve.
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)


def test_swagger_ui_points_at_the_local_schema(anon_client):
    assert "/api/schema" in anon_client.get("/api/docs/").content.decode()


def test_swagger_ui_works_with_debug_off_before_collectstatic(settings, tmp_path):
    # The production storage names files by the manifest collectstatic writes; a checkout
    # run with DEBUG=false has none (test settings use the plain storage, so set it back).
    backend = production.STORAGES["staticfiles"]["BACKEND"]
    assert issubclass(import_string(backend), ManifestFilesMixin)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": backend}}
    settings.WHITENOISE_USE_FINDERS = production.WHITENOISE_USE_FINDERS
    settings.STATIC_ROOT = tmp_path  # nothing collected
    assert not settings.DEBUG
    client = Client(raise_request_exception=False)

    response = client.get("/api/docs/")

    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', response.content.decode())
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content), asset
