"""`FakeApiServer`: a TEST DOUBLE of the Homeport API, for the CLI's tests only.

It keeps everything in memory and serves the few dozen paths the client uses over
real HTTP (`http.server` in a thread), so the client's transport, auth, links and
streaming are exercised for real. Its rules are deliberately simple: project admins
may do anything; viewers get `TYPE:ROLE` rights on environments of that type; every
refusal is a 403 with Platform.sh's error body. It is not the server.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import select
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


class Reply(Exception):
    """Raised by route handlers to answer with a status and a JSON body."""

    def __init__(self, status: int, body: Any = None, content_type: str = "application/json"):
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type


def error(status: int, message: str) -> Reply:
    titles = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
    }
    title = titles.get(status, "Error")
    return Reply(
        status, {"status": title, "message": message, "code": status, "detail": {}, "title": title}
    )


class Request:
    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class FakeApiServer:
    """An in-memory stand-in for a Homeport server (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.counter = itertools.count(1)
        self.clock = itertools.count(1)
        self.expires_in = 900
        # API token -> user ID; access token -> user ID; refresh token -> user ID.
        self.api_tokens: dict[str, str] = {}
        self.access_tokens: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.ssh_keys: dict[str, list[dict[str, Any]]] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.envs: dict[str, dict[str, dict[str, Any]]] = {}
        self.access: dict[str, dict[str, dict[str, Any]]] = {}
        self.variables: dict[tuple[str, str | None], dict[str, dict[str, Any]]] = {}
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self.backups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.invitations: dict[str, list[dict[str, Any]]] = {}
        # Emails whose invitations the server applies at once (answering state `accepted`).
        self.accepting: set[str] = set()
        # How new activities behave: ticks before completion, result and log lines.
        self.activity_ticks = 0
        self.activity_result = "success"
        self.backup_name_at_creation = True
        self.log_delay = 0.0
        # The most activities one list request returns, whatever `count` asks for.
        self.page_size = 100
        # Current deployments (`deployments/current`) and app logs (`logs/{type}`), keyed
        # by (project, environment) and (project, environment, type, app).
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.app_logs: dict[tuple[str, str, str, str], list[str]] = {}
        # A followed log (`follow=true`) sends these lines after the tail, `log_delay`
        # apart, then ends the stream if `log_follow_ends`, else waits for the client.
        self.log_follow_lines: list[str] = []
        self.log_follow_ends = False
        # `pf:ssh:*` (or `ssh`) links of active environments: rel -> href, and the crons
        # served at `…/environments/{e}/crons`, keyed by (project, environment).
        self.ssh_links: dict[tuple[str, str], dict[str, str]] = {}
        self.crons: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # Lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # Seeding -----------------------------------------------------------------------

    def now(self) -> str:
        return (BASE_TIME + timedelta(minutes=next(self.clock))).isoformat()

    def add_user(
        self,
        user_id: str,
        email: str,
        *,
        username: str = "",
        first_name: str = "",
        last_name: str = "",
        kind: str = "human",
        token: str = "",
        password: str = "",
    ) -> dict[str, Any]:
        user = {
            "id": user_id,
            "username": username or email.split("@")[0],
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "kind": kind,
            "email_verified": True,
            "phone_number_verified": False,
            "created_at": "2023-01-01T00:00:00+00:00",
            "updated_at": "2023-01-01T00:00:00+00:00",
        }
        self.users[user_id] = user
        self.ssh_keys.setdefault(user_id, [])
        if token:
            self.api_tokens[token] = user_id
        if password:
            self.passwords[email] = password
            self.passwords[str(user["username"])] = password
        return user

    def add_project(
        self,
        project_id: str,
        title: str,
        owner: str,
        *,
        region: str = "local",
        default_branch: str = "main",
    ) -> dict[str, Any]:
        project = {
            "id": project_id,
            "title": title,
            "region": region,
            "owner": owner,
            "default_branch": default_branch,
            "timezone": "UTC",
            "status": {"code": "active", "message": "ok"},
            "repository": {"url": f"http://git.homeport.test/git/{project_id}.git"},
            "created_at": "2023-02-01T10:00:00+00:00",
            "updated_at": "2023-02-01T10:00:00+00:00",
        }
        self.projects[project_id] = project
        self.envs[project_id] = {}
        self.access[project_id] = {}
        self.activities[project_id] = []
        self.invitations[project_id] = []
        self.variables[(project_id, None)] = {}
        self.grant(project_id, owner, ["admin"])
        return project

    def add_env(
        self,
        project_id: str,
        env_id: str,
        *,
        title: str = "",
        env_type: str = "development",
        status: str = "active",
        parent: str | None = None,
    ) -> dict[str, Any]:
        env = {
            "id": env_id,
            "name": env_id,
            "machine_name": f"{env_id}-abc123",
            "title": title or env_id,
            "type": env_type,
            "status": status,
            "parent": parent,
            "project": project_id,
            "is_main": env_id == self.projects[project_id]["default_branch"],
            "has_code": True,
            "head_commit": "0123456789abcdef0123456789abcdef01234567",
            "created_at": "2023-02-02T10:00:00+00:00",
            "updated_at": "2023-02-03T10:00:00+00:00",
        }
        self.envs[project_id][env_id] = env
        self.variables[(project_id, env_id)] = {}
        self.backups[(project_id, env_id)] = []
        return env

    def add_deployment(
        self,
        project_id: str,
        env_id: str,
        *,
        webapps: dict[str, dict[str, Any]] | None = None,
        workers: dict[str, dict[str, Any]] | None = None,
        services: dict[str, dict[str, Any]] | None = None,
        routes: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The environment's current deployment (the parts the CLI reads)."""
        deployment = {
            "id": "current",
            "webapps": webapps or {},
            "workers": workers or {},
            "services": services or {},
            "routes": routes or {},
        }
        self.deployments[(project_id, env_id)] = deployment
        return deployment

    def add_ssh_link(self, project_id: str, env_id: str, rel: str, href: str) -> None:
        """An SSH link on the environment (shown while it is active)."""
        self.ssh_links.setdefault((project_id, env_id), {})[rel] = href

    def add_cron(
        self,
        project_id: str,
        env_id: str,
        app: str,
        name: str,
        spec: str,
        start: str,
        *,
        stop: str | None = None,
        timezone: str = "UTC",
        next_run_at: str | None = "2026-12-05T05:00:00+00:00",
        last_run: dict[str, Any] | None = None,
        output: list[str] | None = None,
    ) -> dict[str, Any]:
        """A deployed cron; `output` is the log of its runs."""
        commands = {"start": start, **({"stop": stop} if stop else {})}
        cron = {
            "id": f"{app}:{name}",
            "name": name,
            "application": app,
            "spec": spec,
            "timezone": timezone,
            "commands": commands,
            "timeout": 86400,
            "shutdown_timeout": 10,
            "next_run_at": next_run_at,
            "last_run": last_run,
            "output": output or [f"ran {name}"],
        }
        self.crons.setdefault((project_id, env_id), []).append(cron)
        return cron

    def grant(self, project_id: str, user_id: str, permissions: list[str]) -> None:
        self.access[project_id][user_id] = {
            "user_id": user_id,
            "project_id": project_id,
            "permissions": list(permissions),
            "granted_at": "2023-03-01T10:00:00+00:00",
            "updated_at": "2023-03-02T10:00:00+00:00",
        }

    def add_variable(
        self, project_id: str, env_id: str | None, name: str, value: str | None, **fields: Any
    ) -> None:
        var: dict[str, Any] = {
            "id": name,
            "name": name,
            "is_json": False,
            "is_sensitive": False,
            "visible_build": True,
            "visible_runtime": True,
            "application_scope": [],
            "created_at": "2023-04-01T10:00:00+00:00",
            "updated_at": "2023-04-01T10:00:00+00:00",
        }
        if env_id is not None:
            var.update(
                {
                    "project": project_id,
                    "environment": env_id,
                    "inherited": False,
                    "is_enabled": True,
                    "is_inheritable": True,
                    "visible_build": False,
                }
            )
        var.update(fields)
        if value is not None and not var.get("is_sensitive"):
            var["value"] = value
        self.variables[(project_id, env_id)][name] = var

    def add_backup(
        self,
        project_id: str,
        env_id: str,
        backup_id: str,
        *,
        restorable: bool = True,
        created_at: str = "",
        **fields: Any,
    ) -> dict[str, Any]:
        backup = {
            "id": backup_id,
            "environment": env_id,
            "status": "CREATED",
            "safe": True,
            "restorable": restorable,
            "automated": False,
            "commit_id": "0123abcd",
            "expires_at": None,
            "index": None,
            "size_used": 1024,
            "created_at": created_at or self.now(),
            "updated_at": created_at or self.now(),
        }
        backup.update(fields)
        self.backups[(project_id, env_id)].insert(0, backup)
        return backup

    def add_activity(
        self,
        project_id: str,
        activity_type: str,
        *,
        env_id: str | None = None,
        state: str = "complete",
        result: str | None = "success",
        text: str = "",
        log: list[str] | None = None,
        ticks: int = 0,
        created_at: str = "",
        payload: dict[str, Any] | None = None,
        user_id: str = "",
    ) -> dict[str, Any]:
        activity_id = f"act{next(self.counter)}"
        user = self.users.get(user_id, {})
        now = created_at or self.now()
        who = user.get("username", "someone")
        activity = {
            "id": activity_id,
            "type": activity_type,
            "state": state,
            "result": result,
            "completion_percent": 100 if state == "complete" else 0,
            "project": project_id,
            "environments": [env_id] if env_id else [],
            "description": f"<user>{who}</user> {text or activity_type}",
            "text": f"{who} {text or activity_type}",
            "payload": {
                **(payload or {}),
                "user": {
                    "id": user_id,
                    "display_name": user.get("username", ""),
                    "kind": user.get("kind", "human"),
                },
            },
            "created_at": now,
            "updated_at": now,
            "started_at": now if state != "pending" else None,
            "completed_at": now if state == "complete" else None,
            "timings": {"execute": 1.5},
            "commands": [],
        }
        self.activities[project_id].insert(0, activity)
        self.logs[activity_id] = [
            {"_id": f"{activity_id}-{i}", "data": {"timestamp": now, "message": line + "\n"}}
            for i, line in enumerate(log or [], 1)
        ]
        self.plans[activity_id] = {
            "ticks": ticks,
            "result": result,
        }
        return activity

    # Requests ----------------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        head = h.command == "HEAD"  # answered like GET, without the body
        req = Request(
            "GET" if head else h.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in h.headers.items()},
            body,
        )
        with self.lock:
            self.requests.append(req)
        try:
            with self.lock:
                self.route(req, h)
            raise error(404, f"No route for {req.method} {req.path}")
        except Reply as reply:
            if reply.content_type == "stream":
                return
            data = b"" if reply.body is None else json.dumps(reply.body).encode()
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if not head:
                h.wfile.write(data)

    def calls(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def user_for(self, req: Request) -> str:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise error(401, "Missing bearer token")
        user_id = self.access_tokens.get(auth[7:])
        if user_id is None:
            raise error(401, "Invalid or expired access token")
        return user_id

    def issue(self, user_id: str, refresh: bool = False) -> dict[str, Any]:
        header = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
        payload = (
            base64.urlsafe_b64encode(json.dumps({"sub": user_id, "n": next(self.counter)}).encode())
            .decode()
            .rstrip("=")
        )
        token = f"{header}.{payload}.sig"
        self.access_tokens[token] = user_id
        out: dict[str, Any] = {
            "access_token": token,
            "expires_in": self.expires_in,
            "token_type": "bearer",
        }
        if refresh:
            rt = f"refresh-{next(self.counter)}"
            self.refresh_tokens[rt] = user_id
            out["refresh_token"] = rt
        return out

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    # Policy ------------------------------------------------------------------------

    def perms(self, project_id: str, user_id: str) -> list[str]:
        entry = self.access.get(project_id, {}).get(user_id)
        return list(entry["permissions"]) if entry else []

    def may(
        self, project_id: str, user_id: str, action: str, env: dict[str, Any] | None = None
    ) -> bool:
        perms = self.perms(project_id, user_id)
        if "admin" in perms:
            return True
        if not perms:
            return False
        if action == "view":
            return True
        if env is None:
            return False
        role = next((p.split(":")[1] for p in perms if p.startswith(f"{env['type']}:")), "none")
        if role == "admin":
            return True
        return role == "contributor" and action in ("branch", "redeploy")

    # Links -------------------------------------------------------------------------

    def project_view(self, project: dict[str, Any], user_id: str) -> dict[str, Any]:
        pid = project["id"]
        links: dict[str, Any] = {
            "self": {"href": f"/projects/{pid}"},
            "environments": {"href": f"/projects/{pid}/environments"},
            "invitations": {"href": f"/projects/{pid}/invitations"},
        }
        if self.may(pid, user_id, "admin"):
            links["#edit"] = {"href": f"/projects/{pid}"}
            links["#delete"] = {"href": f"/projects/{pid}"}
            links["#manage-variables"] = {"href": f"/projects/{pid}/variables"}
        return {**project, "_links": links}

    def env_view(self, pid: str, env: dict[str, Any], user_id: str) -> dict[str, Any]:
        base = f"/projects/{pid}/environments/{quote(env['id'], safe='')}"
        links: dict[str, Any] = {
            "self": {"href": base},
            "backups": {"href": f"{base}/backups"},
            "#activities": {"href": f"{base}/activities"},
        }
        active = env["status"] == "active"
        if self.may(pid, user_id, "branch", env) and active:
            links["#branch"] = {"href": f"{base}/branch"}
        if self.may(pid, user_id, "redeploy", env) and active:
            links["#redeploy"] = {"href": f"{base}/redeploy"}
        if self.may(pid, user_id, "admin", env):
            links["#edit"] = {"href": base}
            links["#manage-variables"] = {"href": f"{base}/variables"}
            if active:
                links["#backup"] = {"href": f"{base}/backup"}
                if env["id"] != self.projects[pid]["default_branch"]:
                    links["#deactivate"] = {"href": f"{base}/deactivate"}
                    links["#pause"] = {"href": f"{base}/pause"}
            elif env["status"] == "paused":
                links["#resume"] = {"href": f"{base}/resume"}
            elif env["status"] == "inactive":
                links["#activate"] = {"href": f"{base}/activate"}
                links["#delete"] = {"href": base}
        if active and (pid, env["id"]) in self.deployments:
            links["#deployments"] = {"href": f"{base}/deployments"}
        if active:
            for rel, href in self.ssh_links.get((pid, env["id"]), {}).items():
                links[rel] = {"href": href}
        return {**env, "_links": links}

    def activity_view(self, activity: dict[str, Any]) -> dict[str, Any]:
        base = f"/projects/{activity['project']}/activities/{activity['id']}"
        links: dict[str, Any] = {"self": {"href": base}, "log": {"href": f"{base}/log"}}
        if activity["state"] in ("pending", "in_progress"):
            links["#cancel"] = {"href": f"{base}/cancel"}
        return {**activity, "_links": links}

    def var_view(self, pid: str, env_id: str | None, var: dict[str, Any]) -> dict[str, Any]:
        base = f"/projects/{pid}" + (f"/environments/{env_id}" if env_id else "")
        href = f"{base}/variables/{quote(var['name'], safe='')}"
        return {
            **var,
            "_links": {"self": {"href": href}, "#edit": {"href": href}, "#delete": {"href": href}},
        }

    def backup_view(self, pid: str, env_id: str, backup: dict[str, Any]) -> dict[str, Any]:
        href = f"/projects/{pid}/environments/{env_id}/backups/{backup['id']}"
        return {
            **backup,
            "_links": {
                "self": {"href": href},
                "#restore": {"href": f"{href}/restore"},
                "#delete": {"href": href},
            },
        }

    def tick(self, activity: dict[str, Any]) -> None:
        """Advance a running activity by one step (each GET of it or of its log)."""
        if activity["state"] in ("complete", "cancelled"):
            return
        plan = self.plans[activity["id"]]
        plan["ticks"] -= 1
        if plan["ticks"] > 0:
            activity["state"] = "in_progress"
            activity["completion_percent"] = 50
            return
        activity.update(
            state="complete",
            completion_percent=100,
            result=plan["result"],
            completed_at=activity["created_at"],
        )
        for hook in plan.get("on_complete", []):
            hook()

    def accepted(self, entity: Any, activities: list[dict[str, Any]], code: int = 200) -> Reply:
        return Reply(
            code,
            {
                "status": "OK",
                "code": code,
                "_embedded": {
                    "entity": entity,
                    "activities": [self.activity_view(a) for a in activities],
                },
            },
        )

    def run_activity(
        self,
        pid: str,
        activity_type: str,
        user_id: str,
        env_id: str | None = None,
        log: list[str] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record the activity of a change; it completes at once unless `activity_ticks` > 0."""
        ticks = self.activity_ticks
        activity = self.add_activity(
            pid,
            activity_type,
            env_id=env_id,
            state="pending" if ticks else "complete",
            result=None if ticks else self.activity_result,
            log=log or [f"Running {activity_type}", "Done"],
            ticks=ticks,
            payload=payload,
            user_id=user_id,
        )
        self.plans[activity["id"]]["result"] = self.activity_result
        return activity

    # Routing -----------------------------------------------------------------------

    def route(self, req: Request, h: BaseHTTPRequestHandler) -> None:
        path, method = req.path, req.method
        if path == "/oauth2/token" and method == "POST":
            self.token(req)
        if path == "/oauth2/revoke" and method == "POST":
            token = req.form().get("token", "")
            self.access_tokens.pop(token, None)
            self.refresh_tokens.pop(token, None)
            raise Reply(200, {})
        user_id = self.user_for(req)
        if path == "/users/me" and method == "GET":
            raise Reply(200, self.users[user_id])
        if path == "/me" and method == "GET":
            raise Reply(
                200,
                {
                    "id": user_id,
                    "username": self.users[user_id]["username"],
                    "mail": self.users[user_id]["email"],
                    "ssh_keys": self.ssh_keys[user_id],
                    "projects": [
                        {
                            "id": p["id"],
                            "title": p["title"],
                            "region": p["region"],
                            "endpoint": f"{self.url}/projects/{p['id']}",
                        }
                        for p in self.projects.values()
                        if self.perms(p["id"], user_id)
                    ],
                },
            )
        m = re.fullmatch(r"/users/([^/]+)", path)
        if m and method == "GET":
            if m.group(1) not in self.users:
                raise error(404, "User not found")
            raise Reply(200, self.users[m.group(1)])
        if path == "/ref/users" and method == "GET":
            ids = req.query.get("in", [""])[0].split(",")
            raise Reply(
                200,
                {
                    i: {
                        k: self.users[i][k]
                        for k in ("id", "email", "username", "first_name", "last_name", "kind")
                    }
                    for i in ids
                    if i in self.users
                },
            )
        if path == "/ssh_keys":
            self.ssh_key_routes(req, user_id)
        m = re.fullmatch(r"/ssh_keys/([^/]+)", path)
        if m and method == "DELETE":
            keys = self.ssh_keys[user_id]
            if not any(str(k["key_id"]) == m.group(1) for k in keys):
                raise error(404, "Key not found")
            self.ssh_keys[user_id] = [k for k in keys if str(k["key_id"]) != m.group(1)]
            raise Reply(204)
        if path == "/projects":
            if method == "GET":
                raise Reply(200, self.project_page(req, user_id))
            if method == "POST":
                body = req.json()
                pid = f"proj{next(self.counter)}"
                project = self.add_project(
                    pid,
                    body["title"],
                    user_id,
                    region=body["region"],
                    default_branch=body.get("default_branch", "main"),
                )
                self.add_env(pid, project["default_branch"], env_type="production")
                act = self.run_activity(pid, "project.create", user_id)
                raise self.accepted(self.project_view(project, user_id), [act], 201)
        m = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        if m:
            pid, rest = m.group(1), m.group(2) or ""
            found = self.projects.get(pid)
            if found is None or not self.perms(pid, user_id):
                raise error(404, "Project not found")
            self.project_routes(req, user_id, found, rest, h)

    def project_page(self, req: Request, user_id: str) -> dict[str, Any]:
        """Homeport's paged `GET /projects`: `page[size]` (default 100), `sort` (ties in
        creation order), cursors in `_links` (here, opaquely, the offset)."""
        visible = [
            self.project_view(p, user_id)
            for p in self.projects.values()
            if self.perms(p["id"], user_id)
        ]
        sort = req.query.get("sort", ["created_at"])[0]
        key = sort.lstrip("-")
        visible.sort(key=lambda p: str(p.get(key) or "").lower(), reverse=sort.startswith("-"))
        size = int(req.query.get("page[size]", ["100"])[0])
        start = int(req.query.get("page[after]", ["o0"])[0][1:])
        links: dict[str, Any] = {"self": {"href": "/projects"}}
        if start + size < len(visible):
            links["next"] = {
                "href": f"/projects?page[size]={size}&sort={sort}&page[after]=o{start + size}"
            }
        items = visible[start : start + size]
        return {"count": len(visible), "items": items, "_links": links}

    def token(self, req: Request) -> None:
        form = req.form()
        grant = form.get("grant_type")
        if grant == "api_token":
            user_id = self.api_tokens.get(form.get("api_token", ""))
            if user_id is None:
                raise Reply(
                    400, {"error": "invalid_grant", "error_description": "Invalid API token"}
                )
            raise Reply(200, self.issue(user_id))
        if grant == "password":
            username, password = form.get("username", ""), form.get("password", "")
            if not password or self.passwords.get(username) != password:
                raise Reply(
                    400,
                    {"error": "invalid_grant", "error_description": "Invalid username or password"},
                )
            user_id = next(
                u["id"] for u in self.users.values() if username in (u["email"], u["username"])
            )
            raise Reply(200, self.issue(user_id, refresh=True))
        if grant == "refresh_token":
            user_id = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user_id is None:
                raise Reply(
                    400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                )
            raise Reply(200, self.issue(user_id, refresh=False))
        raise Reply(400, {"error": "unsupported_grant_type"})

    def ssh_key_routes(self, req: Request, user_id: str) -> None:
        if req.method == "GET":
            raise Reply(200, self.ssh_keys[user_id])
        body = req.json()
        key = {
            "key_id": next(self.counter),
            "title": body["title"],
            "value": body["value"],
            "fingerprint": "fp",
        }
        self.ssh_keys[user_id].append(key)
        raise Reply(201, key)

    def project_routes(
        self,
        req: Request,
        user_id: str,
        project: dict[str, Any],
        rest: str,
        h: BaseHTTPRequestHandler,
    ) -> None:
        pid, method = project["id"], req.method
        if rest == "":
            if method == "GET":
                raise Reply(200, self.project_view(project, user_id))
            if not self.may(pid, user_id, "admin"):
                raise error(403, "Forbidden")
            if method == "PATCH":
                project.update(req.json())
                act = self.run_activity(pid, "project.modify.title", user_id)
                raise self.accepted(self.project_view(project, user_id), [act])
            if method == "DELETE":
                del self.projects[pid]
                raise Reply(200, {"status": "OK", "code": 200})
        if rest == "/environments" and method == "GET":
            raise Reply(200, [self.env_view(pid, e, user_id) for e in self.envs[pid].values()])
        if rest == "/variables":
            self.variable_routes(req, user_id, pid, None, "")
        m = re.fullmatch(r"/variables/([^/]+)", rest)
        if m:
            self.variable_routes(req, user_id, pid, None, unquote(m.group(1)))
        if rest == "/activities" and method == "GET":
            raise Reply(200, self.list_activities(req, pid, None))
        m = re.fullmatch(r"/activities/([^/]+)(/log|/cancel)?", rest)
        if m:
            self.activity_routes(req, pid, m.group(1), m.group(2) or "", h)
        if rest == "/user-access" and method == "GET":
            items = [
                {**a, "_links": {"self": {"href": f"/projects/{pid}/user-access/{a['user_id']}"}}}
                for a in self.access[pid].values()
            ]
            raise Reply(
                200,
                {
                    "items": items,
                    "_links": {
                        "self": {"href": f"/projects/{pid}/user-access"},
                        "ref:users:0": {"href": "/ref/users?in=" + ",".join(self.access[pid])},
                    },
                },
            )
        m = re.fullmatch(r"/user-access/([^/]+)", rest)
        if m:
            target = m.group(1)
            if target not in self.access[pid]:
                raise error(404, "Access not found")
            if method == "GET":
                raise Reply(200, self.access[pid][target])
            if not self.may(pid, user_id, "admin"):
                raise error(403, "Forbidden")
            if method == "PATCH":
                self.access[pid][target]["permissions"] = req.json()["permissions"]
                raise Reply(204)
            if method == "DELETE":
                del self.access[pid][target]
                raise Reply(204)
        if rest == "/invitations" and method == "POST":
            if not self.may(pid, user_id, "admin"):
                raise error(403, "Forbidden")
            body = req.json()
            pending = [i for i in self.invitations[pid] if i["email"] == body["email"]]
            if pending and not body.get("force"):
                raise error(409, "Already invited")
            self.invitations[pid].append(body)
            state = "accepted" if body["email"] in self.accepting else "pending"
            raise Reply(201, {"id": f"inv{next(self.counter)}", "state": state, **body})
        m = re.fullmatch(r"/environments/([^/]+)(/.*)?", rest)
        if m:
            env = self.envs[pid].get(unquote(m.group(1)))
            if env is None:
                raise error(404, "Environment not found")
            self.env_routes(req, user_id, pid, env, m.group(2) or "", h)

    def list_activities(self, req: Request, pid: str, env_id: str | None) -> list[dict[str, Any]]:
        items = [a for a in self.activities[pid] if env_id is None or env_id in a["environments"]]
        q = req.query
        if "type" in q:
            patterns = [
                re.compile(t.replace(".", r"\.").replace("%", ".*").replace("*", ".*"))
                for t in q["type"]
            ]
            items = [a for a in items if any(p.fullmatch(a["type"]) for p in patterns)]
        if "state" in q:
            items = [a for a in items if a["state"] in q["state"]]
        if "result" in q:
            items = [a for a in items if a["result"] in q["result"]]
        if "starts_at" in q:
            bound = datetime.fromisoformat(q["starts_at"][0].replace(" ", "+"))
            items = [a for a in items if datetime.fromisoformat(a["created_at"]) <= bound]
        count = min(int(q.get("count", ["100"])[0]), self.page_size)
        return [self.activity_view(a) for a in items[:count]]

    def activity_routes(
        self, req: Request, pid: str, activity_id: str, tail: str, h: BaseHTTPRequestHandler
    ) -> None:
        activity = next((a for a in self.activities[pid] if a["id"] == activity_id), None)
        if activity is None:
            raise error(404, "Activity not found")
        if tail == "" and req.method == "GET":
            self.tick(activity)
            raise Reply(200, self.activity_view(activity))
        if tail == "/cancel" and req.method == "POST":
            if activity["state"] not in ("pending", "in_progress"):
                raise error(400, "Not cancellable")
            activity.update(state="cancelled", result="failure")
            raise Reply(200, {"status": "OK", "code": 200})
        if tail == "/log" and req.method == "GET":
            start = int(req.query.get("start_at", ["0"])[0] or 0)
            lines = self.logs[activity_id][start:]
            final = activity["state"] in ("complete", "cancelled")
            self.tick(activity)
            h.send_response(200)
            h.send_header("Content-Type", "application/x-json-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            self.lock.release()
            try:
                for line in lines:
                    h.wfile.write(json.dumps(line).encode() + b"\n")
                    h.wfile.flush()
                    if self.log_delay:
                        time.sleep(self.log_delay)
                if final:
                    h.wfile.write(b'{"seal": true}\n')
            finally:
                self.lock.acquire()
            h.close_connection = True
            raise Reply(200, None, "stream")

    def variable_routes(
        self, req: Request, user_id: str, pid: str, env_id: str | None, name: str
    ) -> None:
        store = self.variables[(pid, env_id)]
        env = self.envs[pid].get(env_id) if env_id else None
        if req.method != "GET" and not self.may(pid, user_id, "admin", env):
            raise error(403, "Forbidden")
        kind = "environment" if env_id else "project"
        if not name:
            if req.method == "GET":
                raise Reply(200, [self.var_view(pid, env_id, v) for v in store.values()])
            body = req.json()
            if body["name"] in store:
                raise error(409, "Variable already exists")
            self.add_variable(
                pid,
                env_id,
                body["name"],
                body.get("value"),
                **{k: v for k, v in body.items() if k not in ("name", "value")},
            )
            act = self.run_activity(pid, f"{kind}.variable.create", user_id, env_id)
            raise self.accepted(
                self.var_view(pid, env_id, store[body["name"]]), [act] if env_id else [], 201
            )
        var = store.get(name)
        if var is None:
            raise error(404, "Variable not found")
        if req.method == "GET":
            raise Reply(200, self.var_view(pid, env_id, var))
        if req.method == "PATCH":
            body = req.json()
            var.update(body)
            if var.get("is_sensitive"):
                var.pop("value", None)
            act = self.run_activity(pid, f"{kind}.variable.update", user_id, env_id)
            raise self.accepted(self.var_view(pid, env_id, var), [act] if env_id else [])
        if req.method == "DELETE":
            del store[name]
            act = self.run_activity(pid, f"{kind}.variable.delete", user_id, env_id)
            raise self.accepted(None, [act] if env_id else [])

    def env_routes(
        self,
        req: Request,
        user_id: str,
        pid: str,
        env: dict[str, Any],
        tail: str,
        h: BaseHTTPRequestHandler,
    ) -> None:
        method, eid = req.method, env["id"]
        if tail == "":
            if method == "GET":
                raise Reply(200, self.env_view(pid, env, user_id))
            if not self.may(pid, user_id, "admin", env):
                raise error(403, "Forbidden")
            if method == "PATCH":
                env.update(req.json())
                raise self.accepted(self.env_view(pid, env, user_id), [])
            if method == "DELETE":
                del self.envs[pid][eid]
                act = self.run_activity(pid, "environment.delete", user_id, eid)
                raise self.accepted(None, [act])
        if tail == "/variables":
            self.variable_routes(req, user_id, pid, eid, "")
        m = re.fullmatch(r"/variables/([^/]+)", tail)
        if m:
            self.variable_routes(req, user_id, pid, eid, unquote(m.group(1)))
        if tail == "/activities" and method == "GET":
            raise Reply(200, self.list_activities(req, pid, eid))
        if tail == "/backups" and method == "GET":
            raise Reply(200, [self.backup_view(pid, eid, b) for b in self.backups[(pid, eid)]])
        m = re.fullmatch(r"/backups/([^/]+)(/restore)?", tail)
        if m:
            backup = next((b for b in self.backups[(pid, eid)] if b["id"] == m.group(1)), None)
            if backup is None:
                raise error(404, "Backup not found")
            if method == "GET" and not m.group(2):
                raise Reply(200, self.backup_view(pid, eid, backup))
            if not self.may(pid, user_id, "admin", env):
                raise error(403, "Forbidden")
            if method == "DELETE":
                self.backups[(pid, eid)].remove(backup)
                act = self.run_activity(pid, "environment.backup.delete", user_id, eid)
                raise self.accepted(None, [act])
            if method == "POST" and m.group(2):
                act = self.run_activity(
                    pid, "environment.restore", user_id, eid, payload={"restore": req.json()}
                )
                raise self.accepted(None, [act])
        m = re.fullmatch(r"/(branch|activate|deactivate|redeploy|backup|pause|resume)", tail)
        if m and method == "POST":
            self.env_operation(req, user_id, pid, env, m.group(1))
        if tail == "/deployments/current" and method == "GET":
            deployment = self.deployments.get((pid, eid))
            if deployment is None or env["status"] != "active":
                raise error(404, "Current deployment not found.")
            href = f"/projects/{pid}/environments/{quote(eid, safe='')}/deployments/current"
            raise Reply(200, {**deployment, "_links": {"self": {"href": href}}})
        m = re.fullmatch(r"/logs/([^/]+)", tail)
        if m and method == "GET":
            self.log_route(req, pid, env, m.group(1), h)
        if tail == "/crons" and method == "GET":
            raise Reply(200, [self.cron_view(pid, env, c) for c in self.crons.get((pid, eid), [])])
        m = re.fullmatch(r"/crons/([^/]+)/run", tail)
        if m and method == "POST":
            self.run_cron(req, user_id, pid, env, unquote(m.group(1)))

    def cron_view(self, pid: str, env: dict[str, Any], cron: dict[str, Any]) -> dict[str, Any]:
        href = f"/projects/{pid}/environments/{quote(env['id'], safe='')}/crons/{cron['name']}"
        view = {k: v for k, v in cron.items() if k != "output"}
        if env["status"] != "active":
            view["next_run_at"] = None
        return {**view, "_links": {"self": {"href": href}, "#run": {"href": f"{href}/run"}}}

    def run_cron(
        self, req: Request, user_id: str, pid: str, env: dict[str, Any], name: str
    ) -> None:
        """Homeport's `POST …/crons/{name}/run`: 403, 404, 409 like the server."""
        if not self.may(pid, user_id, "admin", env):
            raise error(403, "You may not run crons on this environment.")
        body = req.json() or {}
        app = body.get("application")
        found = [
            c
            for c in self.crons.get((pid, env["id"]), [])
            if c["name"] == name and (not app or c["application"] == app)
        ]
        if not found:
            raise error(404, f"Cron not found: {name}")
        if len(found) > 1:
            apps = ", ".join(c["application"] for c in found)
            raise error(409, f"Several applications have a cron named {name} ({apps}): choose one.")
        if env["status"] != "active":
            raise error(409, "Crons run only on an active environment.")
        cron = found[0]
        act = self.run_activity(
            pid, "environment.cron", user_id, env["id"], log=cron["output"], payload={"cron": name}
        )

        def finish() -> None:
            cron["last_run"] = {
                "activity": act["id"],
                "state": act["state"],
                "result": act["result"],
                "created_at": act["created_at"],
                "started_at": act["started_at"] or act["created_at"],
                "completed_at": act["completed_at"],
            }

        finish()
        if act["state"] != "complete":
            self.plans[act["id"]].setdefault("on_complete", []).append(finish)
        raise self.accepted(self.cron_view(pid, env, cron), [act])

    def log_route(
        self, req: Request, pid: str, env: dict[str, Any], log_type: str, h: BaseHTTPRequestHandler
    ) -> None:
        """Homeport's `logs/{type}`: the last `lines` lines as text/plain, and with
        `follow=true` a chunked stream that goes on with `log_follow_lines`."""
        if log_type not in ("app", "cron", "deploy", "post-deploy"):
            raise error(400, f"Unknown log type: {log_type}")
        deployment = self.deployments.get((pid, env["id"]))
        if deployment is None:
            raise error(404, "Current deployment not found.")
        app = req.query.get("app", [""])[0] or sorted(deployment["webapps"])[0]
        if app.partition("--")[0] not in deployment["webapps"]:
            raise error(404, f"Application not found: {app}")
        count = int(req.query.get("lines", ["100"])[0])
        stored = self.app_logs.get((pid, env["id"], log_type, app), [])
        text = "".join(line + "\n" for line in stored[-count:]).encode()
        if req.query.get("follow", [""])[0] != "true":
            h.send_response(200)
            h.send_header("Content-Type", "text/plain; charset=utf-8")
            h.send_header("Content-Length", str(len(text)))
            h.end_headers()
            h.wfile.write(text)
            raise Reply(200, None, "stream")
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def chunk(data: bytes) -> None:
            h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        extra, ends, delay = list(self.log_follow_lines), self.log_follow_ends, self.log_delay
        self.lock.release()
        try:
            if text:
                chunk(text)
            for line in extra:
                if delay:
                    time.sleep(delay)
                chunk(line.encode() + b"\n")
            if ends:
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
            else:
                # Like `tail -f`: nothing more, until the client goes away.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([h.connection], [], [], 0.05)
                    if ready and not h.connection.recv(1):
                        break
        except OSError:
            pass
        finally:
            self.lock.acquire()
        h.close_connection = True
        raise Reply(200, None, "stream")

    def env_operation(
        self, req: Request, user_id: str, pid: str, env: dict[str, Any], op: str
    ) -> None:
        view = self.env_view(pid, env, user_id)
        if f"#{op}" not in view["_links"]:
            raise error(403, f"You may not {op} this environment")
        eid = env["id"]
        if op == "branch":
            body = req.json()
            child = self.add_env(
                pid,
                body["name"],
                title=body.get("title", ""),
                env_type=body.get("type", "development"),
                parent=eid,
            )
            act = self.run_activity(pid, "environment.branch", user_id, body["name"])
            raise self.accepted(self.env_view(pid, child, user_id), [act], 201)
        if op == "backup":
            backup_id = f"bk{next(self.counter)}"
            body = req.json() or {}
            payload = {"backup_name": backup_id} if self.backup_name_at_creation else {}
            act = self.run_activity(pid, "environment.backup", user_id, eid, payload=payload)

            def finish() -> None:
                act["payload"]["backup_name"] = backup_id
                self.add_backup(pid, eid, backup_id, safe=bool(body.get("safe", True)))

            if act["state"] == "complete":
                finish()
            else:
                self.plans[act["id"]].setdefault("on_complete", []).append(finish)
            raise self.accepted(None, [act], 201)
        new_status = {
            "activate": "active",
            "deactivate": "inactive",
            "pause": "paused",
            "resume": "active",
        }.get(op)
        if new_status:
            env["status"] = new_status
        act = self.run_activity(pid, f"environment.{op}", user_id, eid)
        raise self.accepted(self.env_view(pid, env, user_id), [act])
