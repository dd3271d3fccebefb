"""The ``proc-receive`` hook every project repository runs on a push.

git hands it the ref updates and push options in pkt-lines (``git help githooks``,
"proc-receive"); it answers ``ok <ref>`` or ``ng <ref> <reason>`` per ref, having moved
the accepted refs itself, so every refusal reaches the client as
``! [remote rejected] <ref> (<reason>)``. Then it follows the activities the push
started and prints their logs, as Platform.sh's git server does, unless asked not to
wait. The server starts git with the pusher's account in ``HOMEPORT_GIT_ACCOUNT``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import BinaryIO, TextIO

from homeport.domain import activities as acts
from homeport.domain.errors import DomainError
from homeport.domain.policy import load_grants
from homeport.domain.projects import get_project
from homeport.git.access import ACCOUNT_VAR, NO_WAIT_VAR, PROJECT_VAR
from homeport.git.push import RefResult, Scan, apply_update, scan
from homeport.git.refs import PushOptions, RefUpdate
from homeport.git.repos import GitError, repo_path
from homeport.settings import Settings
from homeport.store.db import Database
from homeport.store.models import Account, Activity
from homeport.store.wake import wake

FOLLOW_SECONDS = 3600.0  # as long as a git push may take
INTERNAL_ERROR = "Homeport: an internal error stopped this update; the branch did not move"
# Lines the platform CLI looks for to exit 87 (a failed deploy does not reject a push).
FAILURE_LINES = {
    "environment.push": "Environment redeployment failed",
    "environment.activate": "Environment creation failed",
}


class PktLines:
    """git's pkt-line framing over a pair of byte streams."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self.reader, self.writer = reader, writer

    def read(self) -> bytes | None:
        """One packet's payload; None at a flush packet (or the end of input)."""
        head = self.reader.read(4)
        if len(head) < 4 or head == b"0000":
            return None
        size = int(head, 16)
        return self.reader.read(size - 4)

    def read_section(self) -> list[str]:
        """Packets up to the next flush, as text lines."""
        out: list[str] = []
        while (packet := self.read()) is not None:
            out.append(packet.decode(errors="replace").rstrip("\n"))
        return out

    def write(self, text: str) -> None:
        """One packet."""
        data = text.encode()
        self.writer.write(b"%04x" % (len(data) + 4) + data)

    def flush(self) -> None:
        """A flush packet, and push it all out."""
        self.writer.write(b"0000")
        self.writer.flush()


def proc_receive(reader: BinaryIO, writer: BinaryIO, err: TextIO, env: Mapping[str, str]) -> int:
    """Run the hook's protocol: version, commands, options, one result per ref."""
    lines = PktLines(reader, writer)
    lines.read_section()  # "version=1\0<capabilities>"
    lines.write("version=1\0push-options\n")
    lines.flush()
    updates = [RefUpdate(*line.split(" ", 2)) for line in lines.read_section()]
    raw_options = lines.read_section()
    try:
        if not env.get(ACCOUNT_VAR) or not env.get(PROJECT_VAR):
            # Not started by Homeport's git server (a local push into the data dir?):
            # there is no pusher to ask the policy about, so nothing moves.
            raise DomainError("pushes go through Homeport's git server")
        options = PushOptions.parse(raw_options)
        results, settings = _apply(updates, options, env)
    except DomainError as exc:
        results, settings = [RefResult(u, f"Homeport: {exc.message}") for u in updates], None
    for result in results:
        if result.reason is None:
            lines.write(f"ok {result.update.ref}\n")
        else:
            lines.write(f"ng {result.update.ref} {result.reason}\n")
    lines.flush()
    started = [aid for r in results for aid in r.activity_ids]
    no_wait = env.get(NO_WAIT_VAR) == "1" or "no-wait" in {o.partition("=")[0] for o in raw_options}
    if settings is not None and started:
        wake(settings.data_dir)
        _follow(settings, env[PROJECT_VAR], started, err, wait=not no_wait)
    return 0


def _apply(
    updates: list[RefUpdate], options: PushOptions, env: Mapping[str, str]
) -> tuple[list[RefResult], Settings]:
    settings = Settings.from_env(env)
    repo = repo_path(settings.git_dir, env.get(PROJECT_VAR, ""))
    # Reading the pushed objects can take seconds: it happens before the write
    # transaction, so the server's other writers never wait for it.
    scans = {}
    for update in updates:
        try:
            scans[update] = scan(
                repo, update, settings.git_max_file_size, settings.cron_min_interval
            )
        except GitError:
            scans[update] = Scan(INTERNAL_ERROR, [], 0)
    db = Database(settings.database_url)
    try:
        with db.session(write=True) as session:
            account = session.get(Account, env.get(ACCOUNT_VAR, ""))
            project = get_project(session, env.get(PROJECT_VAR, ""))
            if account is None or account.deactivated:
                raise DomainError("your account cannot push")
            grants = load_grants(session, account, project)
            results = []
            for update in updates:
                try:
                    results.append(
                        apply_update(
                            session,
                            grants,
                            project,
                            repo,
                            update,
                            options,
                            scans[update],
                            settings.environments_dir,
                        )
                    )
                except Exception:  # this ref fails alone; the client sees no internals
                    results.append(RefResult(update, INTERNAL_ERROR))
    finally:
        db.dispose()
    return results, settings


def _follow(
    settings: Settings, project_id: str, activity_ids: list[str], err: TextIO, wait: bool
) -> None:
    """Print each activity's text and log as it runs (or just its text with no-wait)."""
    db = Database(settings.database_url)
    try:
        for aid in activity_ids:
            _follow_one(db, project_id, aid, err, wait)
    finally:
        db.dispose()


def _follow_one(db: Database, project_id: str, aid: str, err: TextIO, wait: bool) -> None:
    with db.session() as session:
        row = acts.get_activity(session, project_id, aid)
        err.write(f"Processing activity: {row.text}\n")
        pk, kind = row.pk, row.type
    if not wait:
        err.write(f"    Not waiting for activity {aid} (no-wait).\n")
        err.flush()
        return
    cursor, deadline = 0, time.monotonic() + FOLLOW_SECONDS
    while time.monotonic() < deadline:
        with db.session() as session:
            for line in acts.log_lines(session, pk, cursor):
                for text in line.message.rstrip("\n").splitlines() or [""]:
                    err.write(f"    {text}\n")
                cursor = line.seq
            current = session.get(Activity, pk)
            finished = current is None or current.state in ("complete", "cancelled")
            failed = current is not None and current.result == "failure"
        err.flush()
        if finished:
            if failed and kind in FAILURE_LINES:
                err.write(f"E: {FAILURE_LINES[kind]}\n")
            return
        time.sleep(0.1)
    err.write(f"    Still running; follow it with: platform activity:log {aid}\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m homeport.git.hook proc-receive``."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["proc-receive"]:
        print("usage: python -m homeport.git.hook proc-receive", file=sys.stderr)
        return 2
    return proc_receive(sys.stdin.buffer, sys.stdout.buffer, sys.stderr, os.environ)


if __name__ == "__main__":
    sys.exit(main())
