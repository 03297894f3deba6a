"""`dbtop views install-refresh-log|uninstall-refresh-log [TARGET]`: the refresh log, installed or
removed only after the operator has read exactly what changes and typed the database's name."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from ...profiles.resolve import find_profile
from ...profiles.target import TargetError
from .common import TARGET_HELP, add_read_only, add_timeouts, collector_options, fail, resolve


def views_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop views",
        description="Materialized views. PostgreSQL does not record when a view was refreshed; "
                    "install-refresh-log adds an event trigger that does (in a small 'dbtop' schema), so the "
                    "Views panel can show each refresh's time, duration and role. Both commands print what they "
                    "will do and ask for the database's name to be typed; they need a superuser.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("install-refresh-log", "create schema dbtop, its log table and the event trigger"),
                       ("uninstall-refresh-log", "remove everything install-refresh-log created")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
        add_read_only(sub, "refuse: nothing is installed or removed")
        add_timeouts(sub)
    return parser


def run(argv: list[str], ask: Callable[[str], str] = input) -> int:
    args = views_parser().parse_args(argv)
    try:
        target = resolve(args.target)
    except TargetError as exc:
        return fail(str(exc))
    profile = find_profile(args.target)
    if args.read_only or (profile is not None and profile.read_only):
        return fail(f"{args.command} refused: read-only (--read-only, or the profile says read_only = true)")
    return asyncio.run(_run(args, target, ask))


async def _run(args: argparse.Namespace, target, ask: Callable[[str], str]) -> int:
    from ...engines.errors import ConnectError, OperationFailed
    from ...engines.registry import operation

    try:
        log = await operation(target, "refresh_log")(target, **collector_options(args))
    except ConnectError as exc:
        return fail(str(exc))
    try:
        state = log.state
        installing = args.command == "install-refresh-log"
        if installing:
            print(f"This creates, in database {state.database} on {target.label}:")
            for item in log.objects:
                print(f"  - {item}")
            print("by running:\n")
            print(log.install_sql())
        else:
            print(f"This removes dbtop's refresh log from database {state.database} on {target.label} "
                  "(the recorded refresh times go with it), by running:\n")
            print(log.uninstall_sql())
        verb = "install" if installing else "remove"
        try:
            typed = await asyncio.to_thread(ask, f"Type the database's name ({state.database}) to {verb} it: ")
        except EOFError:
            typed = ""
        if typed.strip() != state.database:
            print("cancelled: the name typed did not match; nothing was changed", file=sys.stderr)
            return 1
        try:
            await (log.install() if installing else log.uninstall())
        except OperationFailed as exc:
            return fail(str(exc))
        if installing:
            print(f"installed: refreshes of materialized views in {state.database} are now recorded in "
                  "dbtop.refresh_log (remove it with 'dbtop views uninstall-refresh-log')")
        else:
            print(f"removed: dbtop's refresh log is gone from {state.database}")
        return 0
    finally:
        await log.close()
