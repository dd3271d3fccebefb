"""The ``homeport`` command: the server and its operator commands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from sqlalchemy.orm import Session

from homeport.domain import access, accounts, api_tokens, variables
from homeport.domain.errors import DomainError
from homeport.domain.secretbox import SecretBox, load_keys
from homeport.settings import Settings, SettingsError
from homeport.store.datadir import DataDirError, private_umask
from homeport.store.db import Database
from homeport.store.migrate import SchemaTooNew, upgrade
from homeport.store.models import Account

log = logging.getLogger("homeport")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homeport", description="The Homeport server.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="migrate, then serve the API, console and worker")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("worker", help="run only the activity worker")
    sub.add_parser("scheduler", help="run only the cron scheduler")
    sub.add_parser("ssh:host-key", help="print the SSH host key's fingerprint, then the public key")
    sub.add_parser("runtimes", help="list the app types this server can build")
    doctor = sub.add_parser("doctor", help="check this deployment; exits 1 if a check fails")
    doctor.add_argument("--json", action="store_true", help="print the results as JSON")
    doctor.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS", help="time limit per check"
    )

    create = sub.add_parser("user:create", help="create an account; prints its id")
    create.add_argument("email")
    create.add_argument("--machine", action="store_true", help="a machine user")
    create.add_argument("--admin", action="store_true", help="a platform admin")
    create.add_argument("--password-stdin", action="store_true", help="read a password")
    create.add_argument("--first-name", default="")
    create.add_argument("--last-name", default="")

    sub.add_parser("user:list", help="list accounts")
    deactivate = sub.add_parser("user:deactivate", help="deactivate an account")
    deactivate.add_argument("email")

    sub.add_parser(
        "variables:reencrypt",
        help="re-encrypt sensitive values under the newest HOMEPORT_SECRET_KEY key",
    )

    token = sub.add_parser("api-token:create", help="create an API token; prints it once")
    token.add_argument("email")
    token.add_argument("--name", required=True)
    token.add_argument("--expires-in", type=int, metavar="DAYS")
    return parser


def _database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    return Database(settings.database_url)


def run_command(args: argparse.Namespace, settings: Settings, stdin: TextIO, stdout: TextIO) -> int:
    """Run one operator command; domain errors propagate to ``main``."""
    if args.command == "migrate":
        _database(settings).dispose()
        print("Database is up to date.", file=stdout)
        return 0
    if args.command == "serve":
        from homeport.server import serve

        return serve(settings)
    if args.command == "scheduler":
        from homeport.server import run_scheduler_only

        return run_scheduler_only(settings)
    if args.command == "worker":
        from homeport.server import run_worker_only

        return run_worker_only(settings)
    if args.command == "runtimes":
        from homeport.runtime.runtimes import available
        from homeport.runtime.sandbox import find_bwrap

        found = available()
        for runtime in found:
            print(f"{runtime.type}\t{runtime.executable}", file=stdout)
        if not found:
            print("No python, nodejs or php interpreter found on this server.", file=stdout)
        if settings.sandbox == "none":
            print("Sandbox: none (HOMEPORT_SANDBOX=none)", file=sys.stderr)
        elif find_bwrap() is None:
            print("Sandbox: bubblewrap is missing (apt-get install bubblewrap)", file=sys.stderr)
        return 0
    if args.command == "doctor":
        from homeport.doctor import run_doctor

        return run_doctor(settings, stdout, as_json=args.json, timeout=args.timeout)
    if args.command == "ssh:host-key":
        from homeport.ssh.host_key import fingerprint, load_or_create

        host_key = load_or_create(settings.ssh_dir)
        print(fingerprint(host_key), file=stdout)
        print(host_key.export_public_key().decode().strip(), file=stdout)
        return 0

    from homeport.domain.secrets import ServerSecrets

    db = _database(settings)
    try:
        with db.session(write=True) as session:
            if args.command == "user:create":
                password = stdin.readline().rstrip("\r\n") if args.password_stdin else None
                account = accounts.create_account(
                    session,
                    accounts.NewAccount(
                        email=args.email,
                        kind="machine" if args.machine else "human",
                        password=password,
                        first_name=args.first_name,
                        last_name=args.last_name,
                        is_admin=args.admin,
                    ),
                )
                access.apply_pending_invitations(session, account)
                print(account.id, file=stdout)
            elif args.command == "user:list":
                for a in accounts.list_accounts(session):
                    flags = ",".join(
                        f for f, on in (("admin", a.is_admin), ("deactivated", a.deactivated)) if on
                    )
                    print(f"{a.id}\t{a.email}\t{a.username}\t{a.kind}\t{flags}", file=stdout)
            elif args.command == "user:deactivate":
                account = _must_find(session, args.email)
                accounts.deactivate(session, account)
                print(f"Deactivated {account.email}.", file=stdout)
            elif args.command == "variables:reencrypt":
                box = SecretBox(load_keys(settings.secret_keys, settings.secrets_dir))
                count = variables.reencrypt_all(session, box)
                print(f"Re-encrypted {count} sensitive value(s).", file=stdout)
            elif args.command == "api-token:create":
                account = _must_find(session, args.email)
                key = ServerSecrets(settings.secrets_dir).derive("api-token-hash")
                created = api_tokens.create_token(
                    session, key, account, args.name, api_tokens.expiry_in_days(args.expires_in)
                )
                print(created.plain, file=stdout)
    finally:
        db.dispose()
    return 0


def _must_find(session: Session, email: str) -> Account:
    account = accounts.find_by_email(session, email)
    if account is None:
        raise DomainError(f"No account with the email {email}.")
    return account


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``homeport`` console script."""
    args = _parser().parse_args(argv)
    # Operator commands print one clear line; only the server logs its progress.
    quiet = args.command not in ("serve", "worker", "scheduler")
    # Text lines, or one JSON object per line with HOMEPORT_LOG_FORMAT=json.
    from homeport.logformat import setup_logging

    setup_logging(logging.WARNING if quiet else logging.INFO)
    # Whatever this process writes under the data dir is the server user's alone.
    private_umask()
    try:
        settings = Settings.from_env()
        return run_command(args, settings, sys.stdin, sys.stdout)
    except (DomainError, SettingsError, DataDirError, SchemaTooNew) as exc:
        print(f"homeport: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
