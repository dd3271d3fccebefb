"""Security headers on every console response (pages, redirects, errors, static files);
``web/edge.py`` adds them, without buffering (the activity log streams)."""

from __future__ import annotations

# No inline scripts or styles: every script and stylesheet is a static file of ours.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


# As raw ASGI header pairs, names in lower case.
SECURITY_HEADER_PAIRS = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
)


def is_console_path(path: str) -> bool:
    """``/`` (it redirects to the console) and everything under ``/console``."""
    return path == "/" or path == "/console" or path.startswith("/console/")
