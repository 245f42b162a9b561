"""The ``vellum`` command: ``vellum migrate status | up | down | stamp | new`` and
``vellum typegen MODULE [--check]``.

Exit codes: 0 done, 1 a migration failed (what finished is kept; run again to resume), 2 bad
usage, 3 another runner holds the migration lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import TextIO

from .client import connect_to_mongodb
from .errors import MigrationError, MigrationLockedError, VellumError
from .migrations import downgrade, reporter_for, scaffold, stamp, status, upgrade

__all__ = ["main"]

OK, FAILED, USAGE, LOCKED = 0, 1, 2, 3

_ENVIRONMENT = """environment:
  VELLUM_MONGODB_URI    the connection string (instead of --uri)
  VELLUM_DATABASE       the database (instead of --database; else the URI's)
  VELLUM_MIGRATIONS     the migrations folder (instead of --folder; default ./migrations)

exit codes: 0 done, 1 a migration failed (finished steps are kept; run again to resume),
2 bad usage, 3 another runner holds the migration lock"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vellum", description="Vellum's command line: schema migrations."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate",
        help="run, undo and inspect schema migrations",
        description="Run, undo and inspect the migrations of a migrations folder.",
        epilog=_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = migrate.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser, *, database: bool = True) -> None:
        sub.add_argument(
            "--folder",
            default=os.environ.get("VELLUM_MIGRATIONS", "migrations"),
            help="the migrations folder (default: $VELLUM_MIGRATIONS or ./migrations)",
        )
        if database:
            sub.add_argument(
                "--uri",
                default=os.environ.get("VELLUM_MONGODB_URI"),
                help="the MongoDB connection string (default: $VELLUM_MONGODB_URI)",
            )
            sub.add_argument(
                "--database",
                default=os.environ.get("VELLUM_DATABASE"),
                help="the database (default: $VELLUM_DATABASE, else the URI's)",
            )

    common(actions.add_parser("status", help="list the revisions and which are applied"))
    for name, text in (
        ("up", "apply the revisions not applied yet (to the head, or --to REV)"),
        ("down", "undo the last revision (or every one after --to REV; --to base: all)"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        common(sub)
        sub.add_argument("--to", metavar="REV", help="the revision to stop at")
        sub.add_argument(
            "--dry-run",
            action="store_true",
            help="report how many documents each step would change; write nothing",
        )
        sub.add_argument(
            "--lease",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="how long the lock outlives a runner that died (default 60)",
        )
    stamped = actions.add_parser(
        "stamp",
        help="record the revisions up to REV as applied, without running them",
        description="Record the revisions up to REV as applied without running them: for a "
        "database already in that shape (such as one migrated by Beanie's migrations).",
    )
    stamped.add_argument("rev", metavar="REV", help="the last revision to record")
    common(stamped)
    new = actions.add_parser(
        "new",
        help="write a new migration file chained to the head",
        description="Write a new migration file, chained to the current head of the folder.",
    )
    new.add_argument("name", help="what the migration does, such as 'rename user name'")
    common(new, database=False)
    typegen = commands.add_parser(
        "typegen",
        help="write typed query fields for a module's models (checked by pyright)",
        description="Write MODULE_q.py next to MODULE: for each VellumBaseModel of MODULE, its "
        "fields typed for pyright (BookQ), and the TypedDict of its updates (BookChanges). "
        "The current directory is importable.",
    )
    typegen.add_argument("module", help="the models' module, such as app.models")
    typegen.add_argument("--out", help="the file to write (default: next to the module)")
    typegen.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file is missing or not what the models give now",
    )
    return parser


def _typegen(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from .typegen import TypegenError, check, output_path, write

    sys.path.insert(0, os.getcwd())
    try:
        target = Path(args.out) if args.out else output_path(args.module)
        if args.check:
            if check(args.module, target):
                print(f"{target} is current", file=out)
                return OK
            print(
                f"vellum: {target} is not what the models of {args.module} give now: run "
                f"`vellum typegen {args.module}`",
                file=sys.stderr,
            )
            return FAILED
        print(f"wrote {write(args.module, target)}", file=out)
        return OK
    except TypegenError as err:
        print(f"vellum: {err}", file=sys.stderr)
        return USAGE
    finally:
        sys.path.remove(os.getcwd())


async def _run(args: argparse.Namespace, out: TextIO) -> int:
    if not args.uri:
        print("vellum: no connection string: pass --uri or set VELLUM_MONGODB_URI", file=sys.stderr)
        return USAGE
    client = await connect_to_mongodb(args.uri, args.database)
    try:
        if args.action == "status":
            rows = await status(client, folder=args.folder)
            if not rows:
                print("no migrations", file=out)
            for row in rows:
                mark = "applied" if row.applied else "pending"
                when = f" at {row.applied_at:%Y-%m-%d %H:%M:%S}" if row.applied_at else ""
                print(f"{mark:8} {row.revision}  {row.name}{when}", file=out)
            return OK
        if args.action == "stamp":
            recorded = await stamp(client, folder=args.folder, to=args.rev)
            print(f"{len(recorded)} revision(s) recorded as applied", file=out)
            return OK
        reporter = reporter_for(out)
        run = upgrade if args.action == "up" else downgrade
        done = await run(
            client,
            folder=args.folder,
            to=args.to,
            dry_run=args.dry_run,
            reporter=reporter,
            lease=timedelta(seconds=args.lease),
        )
        verb = {"up": "applied", "down": "undone"}[args.action]
        if args.dry_run:
            verb = "would be " + verb
        print(f"{len(done)} revision(s) {verb}", file=out)
        return OK
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs the command; returns its exit code."""
    stream = out or sys.stdout
    args = _parser().parse_args(argv)
    if getattr(args, "lease", 60.0) <= 0:
        print("vellum: --lease must be a positive number of seconds", file=sys.stderr)
        return USAGE
    if args.command == "typegen":
        return _typegen(args, stream)
    try:
        if args.action == "new":
            path = scaffold(args.folder, args.name)
            print(f"created {path}", file=stream)
            return OK
        return asyncio.run(_run(args, stream))
    except MigrationLockedError as err:
        print(f"vellum: {err}", file=sys.stderr)
        return LOCKED
    except (MigrationError, VellumError) as err:
        print(f"vellum: {err}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("vellum: interrupted; finished steps are kept, run again to resume", file=sys.stderr)
        return FAILED


def entry() -> None:
    """The console script."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
