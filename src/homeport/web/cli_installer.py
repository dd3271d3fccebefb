"""``GET /cli/installer`` and ``GET /cli/platform.pyz``: hand out the `platform` client.

Like Platform.sh's installer, both are public (the client is public code) and meant for
app build hooks and CI images::

    curl -fsS https://homeport.example.com/cli/installer | sh
    curl -fsS https://homeport.example.com/cli/installer | php

The installer puts the client zip application at ``$HOME/.platformsh/bin/platform.pyz``
and a launcher at ``$HOME/.platformsh/bin/platform`` that runs it as
``python3 -I`` (the `python3` on PATH, isolated from ``PYTHON*`` variables and user
site-packages). A launcher rather than a ``#!/usr/bin/env -S python3 -I`` shebang
because ``env -S`` is missing from busybox and older coreutils.

The script is one file read by two interpreters (see ``INSTALLER_TEMPLATE``): sh runs
it directly; php finds the same sh code in a string and runs it with ``sh -c``, so the
two ways cannot drift apart.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from homeport.clidist.zipapp_build import cli_zipapp_bytes, etag_for

PYZ_ROUTE = "cli_platform_pyz"
INSTALLER_ROUTE = "cli_installer"

# Characters a base URL may hold: RFC 3986 minus the quote (it would end the sh string
# the URL is put in), "?" and "#" (paths are appended), whitespace and control
# characters (a newline could end the php string holding the sh code).
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/@\[\]%!$&()*+,;=-]+")

# Everything after line 2's "<?php": the sh code inside a php nowdoc, then the php code.
# The sh code must not contain a line starting with the nowdoc marker's name.
_SH_AND_PHP = r"""<?php $installer = <<<'HOMEPORT_INSTALLER_SH'
# Installs the Homeport `platform` client (a Python zip application) for this user:
#   $HOME/.platformsh/bin/platform.pyz  the client, downloaded from this server
#   $HOME/.platformsh/bin/platform      a launcher: python3 -I platform.pyz "$@"
# and, in an app (PLATFORM_APP_DIR set), adds $HOME/.platformsh/bin to PATH in
# $PLATFORM_APP_DIR/.environment. Running it again replaces the files and adds nothing.
# The same file also runs with php: php runs this sh code with `sh -c`.
set -u

pyz_url='@PYZ_URL@'
api_url='@API_URL@'
path_line='export PATH="$HOME/.platformsh/bin:$PATH"'

say() {
    printf '%s\n' "$*"
}

fail() {
    printf 'platform installer: %s\n' "$*" >&2
    exit 1
}

# Exit status 0 when file $1 has a line exactly equal to $2 (read in sh, no grep needed).
has_line() {
    [ -f "$1" ] || return 1
    while IFS= read -r line || [ -n "$line" ]; do
        [ "$line" = "$2" ] && return 0
    done < "$1"
    return 1
}

# Download $1 to $2 with curl, else wget, else the python3 already found ($py);
# errors go to stderr for the caller to fold into its one-line message.
download() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 2 -o "$2" "$1" </dev/null
    elif command -v wget >/dev/null 2>&1; then
        wget -nv -O "$2" "$1" </dev/null
    else
        "$py" -I -c '
import shutil, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=120) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
except Exception as exc:
    sys.exit(str(exc))
' "$1" "$2" </dev/null
    fi
}

install_platform() {
    [ -n "${HOME:-}" ] || fail "HOME is not set; it says where to install the client"
    py=$(command -v python3) \
        || fail "python3 not found on PATH; the Homeport CLI needs Python 3.11 or newer"
    "$py" -I -c 'import sys; sys.exit(sys.version_info < (3, 11))' </dev/null \
        || fail "$py is not Python 3.11 or newer, which the Homeport CLI needs"

    bin_dir="$HOME/.platformsh/bin"
    mkdir -p "$bin_dir" || fail "cannot create $bin_dir"
    # Both files are written next to their final names and moved into place, so a failed
    # run leaves the previous installation working.
    new_pyz="$bin_dir/.platform.pyz.$$"
    new_launcher="$bin_dir/.platform.$$"
    trap 'rm -f "$new_pyz" "$new_launcher"' EXIT

    say "Downloading the Homeport CLI from $pyz_url"
    if ! err=$(download "$pyz_url" "$new_pyz" 2>&1); then
        fail "could not download $pyz_url${err:+: $(printf '%s' "$err" | tr '\n' ' ')}"
    fi
    "$py" -I "$new_pyz" --version >/dev/null 2>&1 </dev/null \
        || fail "the file downloaded from $pyz_url does not run as the platform client"
    chmod 0755 "$new_pyz" && mv -f "$new_pyz" "$bin_dir/platform.pyz" \
        || fail "cannot write $bin_dir/platform.pyz"

    cat > "$new_launcher" <<'LAUNCHER' || fail "cannot write $bin_dir/platform"
#!/bin/sh
# The Homeport CLI: runs platform.pyz, next to this file, with the python3 on PATH in
# isolated mode (-I: no PYTHON* variables, no user site-packages).
case $0 in
    */*) exec python3 -I "${0%/*}/platform.pyz" "$@" ;;
    *) exec python3 -I ./platform.pyz "$@" ;;
esac
LAUNCHER
    chmod 0755 "$new_launcher" && mv -f "$new_launcher" "$bin_dir/platform" \
        || fail "cannot write $bin_dir/platform"

    version=$("$bin_dir/platform" --version </dev/null) \
        || fail "installed, but $bin_dir/platform --version failed"
    say "Installed $version as $bin_dir/platform"

    if [ -n "${PLATFORM_APP_DIR:-}" ]; then
        env_file="$PLATFORM_APP_DIR/.environment"
        if has_line "$env_file" "$path_line"; then
            say "$env_file already adds $bin_dir to PATH"
        elif {
            # Start on a new line if the file does not end with one.
            if [ -s "$env_file" ] && [ -n "$(tail -c 1 "$env_file")" ]; then printf '\n'; fi
            printf '%s\n' "$path_line"
        } >> "$env_file"; then
            say "Added $bin_dir to PATH in $env_file"
        else
            printf 'platform installer: warning: could not update %s\n' "$env_file" >&2
        fi
    else
        case ":${PATH:-}:" in
            *":$bin_dir:"*) ;;
            *)
                say "To run it as 'platform', add this line to your shell profile (~/.profile):"
                say "    $path_line"
                ;;
        esac
        if [ -z "${PLATFORMSH_CLI_API_URL:-}" ]; then
            say "To use this server, set: export PLATFORMSH_CLI_API_URL='$api_url'"
        fi
    fi
}

install_platform
exit 0
HOMEPORT_INSTALLER_SH;
// php: run the sh code above with sh, so `| php` and `| sh` install the same way.
// STDOUT and STDERR are not defined when php reads its script from stdin: the child
// gets only /dev/null as stdin and inherits php's stdout and stderr.
if (!function_exists('proc_open')) {
    file_put_contents(
        'php://stderr',
        "platform installer: proc_open is disabled in php; pipe this script into sh instead\n"
    );
    exit(1);
}
$process = proc_open(['sh', '-c', $installer, 'sh'], [0 => ['file', '/dev/null', 'r']], $pipes);
if (!is_resource($process)) {
    file_put_contents('php://stderr', "platform installer: php could not start sh\n");
    exit(1);
}
exit(proc_close($process));
"""
# The script, read by sh and by php:
# - php skips a first line starting with "#!" and echoes any text before "<?php", so
#   line 2 starts with "#" (a comment for sh), then a carriage return, a space and a
#   carriage return: php prints "#" and overwrites it with a blank, nothing visible.
#   It cannot print nothing at all: both skip exactly the first line, and a line
#   starting with "<?php" is a failing redirection (from a file "?php") for sh.
# - For php, the rest of line 2 opens a nowdoc holding the sh code up to its closing
#   marker; the php code after it runs that string with `sh -c`.
# - sh runs the code and exits before the marker line, never reading the php code.
INSTALLER_TEMPLATE = "#!/bin/sh\n#\r \r" + _SH_AND_PHP


def _checked_base(url: str) -> str:
    """`url` without its trailing slash; ValueError unless it is a plain http(s) URL."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or not _URL_CHARS.fullmatch(url)
    ):
        raise ValueError(f"not a usable base URL: {url!r}")
    return url.rstrip("/")


def render_installer(api_url: str, pyz_url: str) -> str:
    """The installer script that downloads `pyz_url` and points users at `api_url`.

    Both URLs are checked (http or https, no quote, whitespace or control character)
    because they are put inside a quoted sh string that php also reads as a string.
    """
    return INSTALLER_TEMPLATE.replace("@PYZ_URL@", _checked_base(pyz_url)).replace(
        "@API_URL@", _checked_base(api_url)
    )


@cache
def _zipapp() -> tuple[bytes, str]:
    # Built on first request, then kept for the life of the process: the client code
    # does not change while the server runs, and the file is about 100 kB.
    payload = cli_zipapp_bytes()
    return payload, etag_for(payload)


def _etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header with our strong `etag`."""
    if header is None:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def make_router(base_url: str | None = None) -> APIRouter:
    """The `/cli` routes.

    `base_url` is the server's public URL (any path prefix included); without it the
    installer names the URL the request came to: scheme, ``Host`` and root path as
    Starlette sees them. Behind a proxy the scheme follows ``X-Forwarded-Proto`` only
    when uvicorn trusts the proxy (``homeport serve`` runs with ``proxy_headers=False``),
    so a server behind TLS termination should pass `base_url`.
    """
    configured = _checked_base(base_url) if base_url is not None else None
    router = APIRouter(tags=["CLI"])

    @router.api_route(
        "/cli/platform.pyz", methods=["GET", "HEAD"], name=PYZ_ROUTE, include_in_schema=False
    )
    def platform_pyz(request: Request) -> Response:
        """The `platform` client as a zip application; answers 304 to a matching ETag."""
        payload, etag = _zipapp()
        # no-cache: caches may keep it but must revalidate, so an upgrade shows at once.
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = 'attachment; filename="platform.pyz"'
        return Response(payload, media_type="application/zip", headers=headers)

    @router.api_route(
        "/cli/installer", methods=["GET", "HEAD"], name=INSTALLER_ROUTE, include_in_schema=False
    )
    def installer(request: Request) -> Response:
        """The installer script, for `| sh` or `| php`, naming this server's URLs."""
        if configured is not None:
            api_url = configured
            pyz_url = configured + str(request.app.url_path_for(PYZ_ROUTE))
        else:
            api_url = str(request.base_url)
            pyz_url = str(request.url_for(PYZ_ROUTE))
        try:
            script = render_installer(api_url, pyz_url)
        except ValueError:
            return PlainTextResponse("Bad Host header\n", status_code=400)
        # The script names the URL it was fetched from: a shared cache must not hand
        # one host's script to another.
        return PlainTextResponse(script, headers={"Cache-Control": "no-store"})

    return router


router = make_router()
