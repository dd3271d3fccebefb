"""``homeport serve``: migrate, bootstrap, then run the ASGI app (and the worker)."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn
from sqlalchemy import select
from uvicorn.config import LOGGING_CONFIG

from homeport import heap
from homeport.domain.bootstrap import ensure_admin
from homeport.git import repos
from homeport.git.hook_server import HookServer
from homeport.runtime.driver import RuntimeDriver, make_driver
from homeport.scheduler.loop import Scheduler
from homeport.settings import Settings
from homeport.ssh.git_server import SshGitServer
from homeport.store import wake
from homeport.store.datadir import private_umask, secure_data_dir
from homeport.store.db import Database
from homeport.store.migrate import upgrade
from homeport.store.models import Project
from homeport.web.app import create_app
from homeport.web.http_protocol import header_limited_protocol
from homeport.web.state import AppState
from homeport.worker.runner import Worker
from homeport.worker.tasks import make_worker

log = logging.getLogger("homeport.server")


def prepare(settings: Settings) -> AppState:
    """Create the data dir, migrate, and make sure a platform admin exists."""
    private_umask()
    secure_data_dir(settings.data_dir)
    upgrade(settings.database_url)
    state = AppState.build(settings, Database(settings.database_url))
    with state.db.session(write=True) as session:
        password = ensure_admin(session, settings.admin_email, settings.data_dir)
        # Every project has its repository (projects made before git hosting too), with
        # the hook of this installation.
        for project in session.scalars(select(Project)):
            path = repos.repo_path(settings.git_dir, project.id)
            if not path.exists():
                repos.create_repo(settings.git_dir, project.id, project.default_branch)
            else:
                repos.install_hook(path)
    if password is not None and settings.log_format == "json":
        # Log lines are shipped elsewhere: the password stays in its file.
        log.warning(
            "Created platform admin %s; the initial password is in %s",
            settings.admin_email,
            settings.data_dir / "initial-admin-password",
        )
    elif password is not None:
        # Printed once; the file under the data dir keeps it for the operator.
        print(
            f"Created platform admin {settings.admin_email} with password: {password}\n"
            f"(also saved to {settings.data_dir / 'initial-admin-password'})",
            file=sys.stderr,
            flush=True,
        )
    return state


def _say(settings: Settings, text: str, level: int = logging.INFO) -> None:
    """A line for the operator: printed, or one JSON log line with HOMEPORT_LOG_FORMAT=json."""
    if settings.log_format == "json":
        log.log(level, "%s", text)
    else:
        print(text, file=sys.stderr, flush=True)


def serve(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT; uvicorn finishes open requests before exiting."""
    state = prepare(settings)
    app = create_app(settings, state)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        http=header_limited_protocol(settings.max_header_bytes),
        # JSON lines: uvicorn's own and access lines go to the root logger's JSON
        # handler (homeport.logformat) instead of uvicorn's text handlers.
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
    )
    server = uvicorn.Server(config)
    try:
        ssh = start_ssh(state)
    except OSError as exc:
        bind = state.settings.ssh_bind or ("", 0)
        _say(
            settings,
            f"homeport: cannot listen for SSH on {bind[0]}:{bind[1]}: {exc.strerror or exc}\n"
            "Set HOMEPORT_SSH_BIND to a free host:port, or to off.",
            logging.ERROR,
        )
        return 1
    runtime = start_runtime(state)
    if runtime is not None:
        state.process_state = runtime.process_state
    hooks = HookServer(settings.data_dir).start()
    worker = start_worker_threads(state, runtime)
    if worker is not None:
        wake.listen(settings.data_dir, state.wake_event)
    scheduler = start_scheduler(state) if settings.scheduler_enabled else None
    log.info("Homeport listening on http://%s:%s", settings.host, settings.port)
    # uvicorn re-raises the stop signal to the handler it found; a no-op one turns a
    # graceful SIGTERM/SIGINT stop into exit status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: None)
    heap.settle()
    server.run()
    if scheduler is not None:
        scheduler.stop()
    if ssh is not None:
        ssh.stop()
    hooks.stop()
    if worker is not None:
        worker.stop()
        worker.join(timeout=10)
    if runtime is not None:
        runtime.shutdown()
    wake.forget(settings.data_dir)
    state.db.dispose()
    return 0


def start_runtime(state: AppState) -> RuntimeDriver | None:
    """Run apps and the router, unless another process on this data dir already does.
    With ``HOMEPORT_WORKER=0`` the runtime goes with the separate `homeport worker`,
    which deploys, so the processes it starts are its own children."""
    if not state.settings.worker_enabled:
        return None
    runtime = make_driver(state.settings, state.db)
    if not runtime.acquire():
        log.warning("another Homeport process runs the apps of this data dir")
        return None
    runtime.start()
    bind = runtime.router_address()
    if bind is not None:
        _say(state.settings, f"Homeport router listening on {bind[0]}:{bind[1]}")
    return runtime


def start_scheduler(state: AppState) -> Scheduler:
    """Start the cron scheduler; each run it queues wakes a worker here or elsewhere."""
    settings = state.settings

    def started(_count: int) -> None:
        state.wake_worker()
        wake.wake(settings.data_dir)

    return Scheduler(state.db, started).start()


def run_scheduler_only(settings: Settings) -> int:
    """``homeport scheduler``: only the cron scheduler, until SIGTERM or SIGINT (for
    installs that run it apart; several may run on one database)."""
    private_umask()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    scheduler = Scheduler(db, lambda _n: wake.wake(settings.data_dir))

    def stop(_sig: int, _frame: object) -> None:
        scheduler.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Homeport scheduler started")
    heap.settle()
    scheduler.run_forever()
    db.dispose()
    return 0


def start_ssh(state: AppState) -> SshGitServer | None:
    """Start git over SSH unless ``HOMEPORT_SSH_BIND=off``; OSError if it cannot bind."""
    bind = state.settings.ssh_bind
    if bind is None:
        return None
    ssh = SshGitServer(state.settings, state.db).start(*bind)
    _say(
        state.settings,
        f"Homeport SSH listening on {bind[0]}:{ssh.port}, host key {ssh.fingerprint}",
    )
    return ssh


def start_worker_threads(state: AppState, runtime: RuntimeDriver | None) -> Worker | None:
    """Start the in-process worker (``HOMEPORT_WORKER=0`` turns it off)."""
    settings = state.settings
    if not settings.worker_enabled:
        return None
    worker = make_worker(
        settings, state.db, state.wake_event, runtime, leave_runtime_types=runtime is None
    )
    worker.start(settings.worker_threads)
    return worker


def run_worker_only(settings: Settings) -> int:
    """``homeport worker``: the activity worker alone, until SIGTERM or SIGINT."""
    private_umask()
    secure_data_dir(settings.data_dir)
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    runtime: RuntimeDriver | None = make_driver(settings, db)
    assert runtime is not None
    if runtime.acquire():
        runtime.start()
    else:
        runtime = None  # `homeport serve` runs the apps; this worker does the rest
    worker = make_worker(settings, db, runtime=runtime, leave_runtime_types=runtime is None)

    def stop(_sig: int, _frame: object) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    wake.listen(settings.data_dir, worker.wake_event)
    log.info("Homeport worker %s started", worker.ident)
    heap.settle()
    worker.start(settings.worker_threads, daemon=False)
    while any(t.is_alive() for t in worker.threads):
        worker.join(timeout=0.5)
    if runtime is not None:
        runtime.shutdown()
    wake.forget(settings.data_dir)
    db.dispose()
    return 0
