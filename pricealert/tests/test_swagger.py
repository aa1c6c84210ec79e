"""GET /api/docs/: Swagger UI served from the local sidecar package, never a CDN."""

import re

import pytest
from django.contrib.staticfiles import finders

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
