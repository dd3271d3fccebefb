"""`/docs`: the API's interactive description, served offline.

FastAPI's default page loads Swagger UI from a CDN; here its files come from the
`swagger-ui-bundle` package under `/docs/assets`, so the page works on a machine with
no Internet access (and reveals nothing to a third party).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install_api_docs(app: FastAPI, openapi_url: str) -> None:
    """Add `/docs`, its OAuth2 redirect page and its assets to ``app``."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="api-docs-assets")
    title = f"{app.title} - documentation"

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Swagger UI over `/openapi.json`."""
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def api_docs_redirect() -> HTMLResponse:
        """Where Swagger UI's OAuth2 flow comes back to."""
        return get_swagger_ui_oauth2_redirect_html()
