"""`dbtop backup take|verify|prune TARGET [NAME] [--type TYPE] [--verify] [--prune] [--confirm TEXT]`:
the backup actions from a shell or cron. `take --verify --prune` takes a backup, verifies it, then
prunes by the retention policy: three plans, each confirmed and journaled on its own, so the cron
line `dbtop backup take prod --verify --prune --confirm prod` runs the night's work unattended.

Where the profile names a pgBackRest stanza (`pgbackrest_stanza`), `take` runs pgbackrest-backup
(`pgbackrest backup --type=…`, incr unless --type says otherwise) and `verify` runs
pgbackrest-verify (`pgbackrest verify`, every backup of the stanza); `prune` still prunes only
dbtop's own pg_dump backups (pgBackRest expires its backups itself, after each backup)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .common import TARGET_HELP, fail
from .guarded import GuardedRun, add_guard_options, run_guarded

TYPES = ("full", "diff", "incr")


def backup_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop backup",
        description="Backups into the profile's backup directory (pg_dump -Fc), their verification (checksum, "
                    "pg_restore --list, a test restore) and pruning by the retention policy; or, where the profile "
                    "names a pgBackRest stanza, pgbackrest backup and pgbackrest verify of that stanza. Each prints "
                    "its plan and asks for the text it names; --confirm TEXT runs it unattended. Exit status: "
                    "0 done, 1 failed (journaled), 2 refused or bad input.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    take = commands.add_parser("take", help="take a backup",
                               description="take a backup (pg_dump -Fc; pgbackrest backup where the profile names a "
                                           "stanza)")
    take.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    take.add_argument("--type", choices=TYPES,
                      help="pgBackRest's backup type (default incr; pgBackRest takes a full one while the stanza "
                           "has none)")
    take.add_argument("--verify", action="store_true", help="then verify the backup just taken")
    take.add_argument("--prune", action="store_true", help="then prune by the retention policy")
    add_guard_options(take)
    verify = commands.add_parser("verify", help="verify a backup",
                                 description="verify a backup in five steps (pgbackrest verify of every backup "
                                             "where the profile names a stanza)")
    verify.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    verify.add_argument("name", nargs="?", metavar="NAME", help="the backup's file name (default: the newest)")
    add_guard_options(verify)
    prune = commands.add_parser("prune", help="delete backups the retention policy lets go",
                                description="delete dbtop's backups that the retention policy lets go")
    prune.add_argument("target", metavar="TARGET", help=TARGET_HELP)
    add_guard_options(prune)
    return parser


def profile_stanza(guarded: GuardedRun) -> str | None:
    return getattr(getattr(guarded.collector, "policy", None), "pgbackrest_stanza", None)


def run(argv: list[str], ask: Callable[[str], str] = input) -> int:
    try:
        args = backup_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    async def steps(guarded: GuardedRun) -> int:
        stanza = profile_stanza(guarded)
        if args.command == "take" and args.type and not stanza:
            return fail("--type applies to a pgBackRest stanza, and this target's profile names none "
                        "(set pgbackrest_stanza); a pg_dump backup is always whole")
        if args.command == "verify" and stanza and args.name:
            return fail(f"the profile names pgBackRest stanza {stanza}: verify checks all its backups; "
                        "leave out NAME")
        if args.command == "verify":
            named = {"name": args.name} if args.name else {}
            return (await guarded.act(*(("pgbackrest-verify", {}) if stanza else ("verify-backup", named))))[0]
        if args.command == "prune":
            return (await guarded.act("prune-backups", {}, nothing_to_do="something_to_prune"))[0]
        status, plan = await guarded.act(*(("pgbackrest-backup", {"type": args.type or "incr"}) if stanza
                                           else ("backup", {})))
        if status != 0:
            return status  # nothing is verified or pruned after a backup that did not happen
        if args.verify:
            status, _ = await guarded.act(*(("pgbackrest-verify", {}) if stanza
                                            else ("verify-backup", {"name": plan.params.get("name")})))
            if status != 0:
                return status  # never prune after a backup that does not verify
        if args.prune:
            status, _ = await guarded.act("prune-backups", {}, nothing_to_do="something_to_prune")
        return status

    return run_guarded(args, steps, ask)
