"""`dbtop [TARGET]`: the live dashboard on TARGET."""

from __future__ import annotations

import argparse
import asyncio

from ...profiles.target import TargetError
from ...themes.names import THEME_NAMES
from ..version import PrintVersion
from .common import TARGET_HELP, add_read_only, add_theme, add_timeouts, collector_options, connected, fail, make_collector, \
    positive_float, with_typed_password

EPILOG = """commands:
  dbtop [TARGET]                   open the live dashboard on TARGET
  dbtop snapshot [TARGET] --json   take snapshots and print them as JSON, one per line
  dbtop demo                       start a throwaway PostgreSQL with a demo workload and open the dashboard
  dbtop profile add NAME URL       save a connection profile; its password goes to the OS keyring
  dbtop profile list|show|test|edit|rename|rm|doctor
  dbtop views install-refresh-log [TARGET]     record materialized view refreshes (asks first)
  dbtop views uninstall-refresh-log [TARGET]   remove exactly what install-refresh-log created (asks first)
  dbtop audit [TARGET] [--project PATH] [--format md|json] [--fail-on high]   the audit report
  dbtop act ACTION TARGET [ARGS…] [--confirm TEXT]   one guarded action: terminate, cancel, refresh, vacuum,
                                   analyze, vacuum-analyze, drop-index, reindex, create-index, drop-slot
  dbtop backup take|verify|prune TARGET [--verify] [--prune] [--confirm TEXT]
  dbtop journal [--since 1h] [--json] [--verify]   what the actions did; whether the journal is intact

'dbtop COMMAND --help' tells more about each command.

exit status: 0 ok; 1 the server failed during the run; 2 bad input, a target that cannot be reached,
or no terminal; 3 audit --fail-on found a finding at or above that severity; 129 the terminal hung up.
"""


def app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop", description="A terminal dashboard for the on-call DBA.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=PrintVersion)
    parser.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--interval", type=positive_float, default=None, metavar="S",
                        help="seconds between refreshes (default 2, or the profile's refresh_interval; "
                             "+ and - change it in the app)")
    add_read_only(parser, "no action can be started: the action keys and palette entries are gone")
    add_theme(parser)
    add_timeouts(parser)
    return parser


def run(argv: list[str]) -> int:
    return run_app(app_parser().parse_args(argv))


def run_app(args: argparse.Namespace) -> int:
    from ...engines.errors import ConnectError
    from ..terminal import limit_colours, missing_terminal, watch_input

    options = collector_options(args)
    problem = missing_terminal()
    if problem is not None:
        try:  # a target that cannot be reached says so first, as it would in a terminal
            collector, _ = make_collector(args.target, options)
            asyncio.run(_connects(collector, options))
        except (TargetError, ConnectError) as exc:
            return fail(str(exc))
        return fail(problem)
    limit_colours()

    from ..poller import SnapshotPoller

    try:
        collector, profile = make_collector(args.target, options)
        interval = args.interval or (profile.refresh_interval if profile else None) or 2.0
        theme = args.theme or (profile.theme if profile else None)
        if theme is not None and theme not in THEME_NAMES:
            raise TargetError(f"profile {profile.name!r} asks for theme {theme!r}, which dbtop does not have: "
                              f"use one of {', '.join(THEME_NAMES)}")
        poller: SnapshotPoller | None = SnapshotPoller(collector, interval)
        poller.begin_connecting()  # the server answers while the screen's code (Textual) is imported,
        poller.prefetch()  # and the first snapshot is taken then too

        from ..app import run_dashboard
        from ..profile_targets import ProfileDirectory

        directory = ProfileDirectory(**options)
        while True:
            try:
                status = run_dashboard(collector, interval_s=interval, theme_name=theme,
                                       profile=profile.name if profile else None, directory=directory,
                                       on_start=watch_input, read_only=args.read_only, poller=poller)
                break
            except ConnectError as exc:
                again = with_typed_password(collector, exc, options)  # in a terminal, when none was given
                if again is None:
                    raise
                collector, poller = again, None
    except (TargetError, ConnectError) as exc:
        return fail(str(exc))
    return status or 0


async def _connects(collector, options: dict) -> None:
    collector = await connected(collector, options)
    await collector.close()
