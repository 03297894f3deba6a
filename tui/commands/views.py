"""`dbtop views install-refresh-log|uninstall-refresh-log [TARGET]`: the refresh log, installed or
removed through the same guard as every action (commands/guarded.py): the script printed whole, the
database's name typed (or `--confirm NAME` unattended), a journal line for every run and refusal."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .common import TARGET_HELP
from .guarded import GuardedRun, add_guard_options, run_guarded


def views_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop views",
        description="Materialized views. PostgreSQL does not record when a view was refreshed; "
                    "install-refresh-log adds an event trigger that does (in a small 'dbtop' schema), so the "
                    "Views panel can show each refresh's time, duration and role. Both commands print what they "
                    "will do and ask for the database's name to be typed (--confirm NAME runs them unattended); "
                    "they need a superuser and a profile that allows actions, and each run is journaled. "
                    "Exit status: 0 done, 1 failed (journaled), 2 refused or bad input.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("install-refresh-log", "create schema dbtop, its log table and the event trigger"),
                       ("uninstall-refresh-log", "remove everything install-refresh-log created")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
        add_guard_options(sub)
    return parser


def run(argv: list[str], ask: Callable[[str], str] = input) -> int:
    try:
        args = views_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    async def steps(guarded: GuardedRun) -> int:
        status, _ = await guarded.act(args.command, {})
        return status

    return run_guarded(args, steps, ask)
