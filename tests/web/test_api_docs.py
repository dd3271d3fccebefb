"""`/docs` works offline: Swagger UI's files are Homeport's own, not a CDN's."""

from __future__ import annotations

import re

from tests.helpers import Api


def test_docs_load_only_local_assets(api: Api) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/docs/assets/") for s in sources), sources
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert "/openapi.json" in page.text
    for path in sources:
        asset = api.get(path)
        assert asset.status_code == 200, path
        assert len(asset.content) > 100
    script = api.get("/docs/assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert api.get("/docs/oauth2-redirect").status_code == 200


def test_the_plain_hot_routes_are_still_documented(api: Api) -> None:
    """/users/me and /oauth2/token are answered by plain routes (app.py); their
    documenting APIRoutes keep them in /openapi.json with their models."""
    spec = api.get("/openapi.json").json()
    me = spec["paths"]["/users/me"]["get"]
    schema = me["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/UserPublic"}
    assert spec["paths"]["/oauth2/token"]["post"]["summary"].startswith("Exchange an API token")
    # Exactly one operation each: the plain routes add none of their own.
    assert set(spec["paths"]["/users/me"]) == {"get"}
    assert set(spec["paths"]["/oauth2/token"]) == {"post"}
