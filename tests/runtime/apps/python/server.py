"""TEST ONLY app: served by Homeport's runtime in end-to-end tests.

It answers what the tests ask of a running app: its environment as
`platformshconfig` reads it, and (since it is a test app) the result of a shell
command run inside its sandbox.
"""

import json
import os
import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor"))

from platformshconfig import Config


def config_facts() -> dict[str, object]:
    config = Config()
    facts: dict[str, object] = {
        "is_valid_platform": config.is_valid_platform(),
        "in_build": bool(config.in_build()),
        "in_runtime": bool(config.in_runtime()),
        "project": config.project,
        "branch": config.branch,
        "environment": config.environment,
        "application_name": config.applicationName,
        "app_dir": config.appDir,
        "tree_id": config.treeID,
        "document_root": config.documentRoot,
        "variables": config.variables(),
        "routes": config.routes(),
    }
    keys = [
        "PORT",
        "HOME",
        "PLATFORMSH_CLI_API_URL",
        "PLATFORM_ENVIRONMENT_TYPE",
        "PLATFORM_PROJECT_ENTROPY",
        "PLATFORM_RELATIONSHIPS",
        "PLATFORM_BRANCH",
        "GREETING",
        "PATH",
        "FROM_DOT_ENVIRONMENT",
    ]
    facts["env"] = {k: os.environ.get(k) for k in keys}
    facts["application"] = config.application()
    return facts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: str, kind: str = "application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/env":
            self._send(200, json.dumps(config_facts()))
        elif url.path == "/sh":
            done = subprocess.run(["sh", "-c", query["c"][0]], capture_output=True, text=True)
            self._send(200, json.dumps({"code": done.returncode, "out": done.stdout + done.stderr}))
        elif url.path == "/headers":
            self._send(200, json.dumps(dict(self.headers)))
        else:
            self._send(
                200,
                f"hello from {os.environ.get('PLATFORM_APPLICATION_NAME')} "
                f"on {os.environ.get('PLATFORM_BRANCH')}\n",
                "text/plain",
            )

    def log_message(self, format: str, *args: object) -> None:
        sys.stdout.write("request " + (format % args) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    port = int(os.environ["PORT"])
    print(f"listening on {port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
