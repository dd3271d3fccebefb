"""What the web app shares between requests, built once from Settings."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeport.domain.auth import AuthKeys, GrantCache
from homeport.domain.ratelimit import FailureLimiter, Limiter, SharedFailureLimiter
from homeport.domain.secretbox import SecretBox, load_keys
from homeport.domain.secrets import ServerSecrets
from homeport.settings import Settings
from homeport.store.blobstore import BlobStore, open_blob_store
from homeport.store.db import Database
from homeport.web.log_streams import LogWatch, StreamSlots
from homeport.web.write_gate import WriteGate


@dataclass
class AppState:
    """Settings, database and keys; one per app, no module globals."""

    settings: Settings
    db: Database
    auth_keys: AuthKeys
    limiter: Limiter
    secret_box: SecretBox
    blobs: BlobStore
    write_gate: WriteGate
    log_slots: StreamSlots
    log_watch: LogWatch
    # The access tokens this process validated, while no revocation happened anywhere.
    grant_cache: GrantCache
    wake_event: threading.Event = field(default_factory=threading.Event)
    # Set by `homeport serve` when it runs the apps: group → process → state.
    process_state: Callable[[str], dict[str, dict[str, Any]]] | None = None

    def wake_worker(self) -> None:
        """Tell an in-process worker that pending work was just committed."""
        self.wake_event.set()

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> AppState:
        """Open the database and load (or create) the server secrets."""
        secrets = ServerSecrets(settings.secrets_dir)
        db = db or Database(settings.database_url)
        return cls(
            settings=settings,
            db=db,
            auth_keys=AuthKeys(
                token_hash=secrets.derive("api-token-hash"),
                jwt_signing=secrets.derive("access-token-jwt"),
            ),
            # One SQLite process counts in memory; PostgreSQL nodes share the counts.
            limiter=FailureLimiter(settings.auth_failure_limit, settings.auth_failure_window)
            if db.is_sqlite
            else SharedFailureLimiter(
                db, settings.auth_failure_limit, settings.auth_failure_window
            ),
            secret_box=SecretBox(load_keys(settings.secret_keys, settings.secrets_dir)),
            blobs=open_blob_store(settings.backup_url, os.environ),
            write_gate=WriteGate(settings.write_queue_timeout, 1 if db.is_sqlite else 8),
            log_slots=StreamSlots(settings.max_log_streams),
            log_watch=LogWatch(db),
            grant_cache=GrantCache(db.engine),
        )
