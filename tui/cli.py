"""The `dbtop` command line.

    dbtop [TARGET]                      open the dashboard on TARGET (a profile name, a URL, …)
    dbtop snapshot [TARGET] --json      print snapshots as JSON lines, for scripts and checks
    dbtop demo                          open the dashboard on a throwaway demo database
    dbtop profile COMMAND               connection profiles, their passwords in the OS keyring
    dbtop views COMMAND                 install or remove the materialized views' refresh log
    dbtop audit [TARGET]                findings, maturity scores and the audit report
    dbtop --version

Errors the operator can fix are one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib.metadata import PackageNotFoundError, version

from ..profiles.target import TargetError, resolve_target

COMMANDS = ("snapshot", "demo", "profile", "views", "audit")
# Kept here rather than imported from dbtop.themes, which imports Textual: `--help` stays fast.
THEME_NAMES = ("dbtop-dark", "dbtop-light", "dbtop-high-contrast", "dbtop-16")

TARGET_HELP = (
    "what to connect to: a profile name (dbtop profile list), a URL (postgresql://user@host:5432/db, "
    "postgresql+asyncpg://…), a libpq keyword string ('host=db1 port=5432 dbname=app'), or nothing: "
    "then PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE and ~/.pgpass decide, as for psql"
)

EPILOG = """commands:
  dbtop [TARGET]                   open the live dashboard on TARGET
  dbtop snapshot [TARGET] --json   take snapshots and print them as JSON, one per line
  dbtop demo                       start a throwaway PostgreSQL with a demo workload and open the dashboard
  dbtop profile add NAME URL       save a connection profile; its password goes to the OS keyring
  dbtop profile list|show|test|edit|rename|rm|doctor
  dbtop views install-refresh-log [TARGET]   record materialized view refreshes (asks first)
  dbtop audit [TARGET] [--project PATH] [--format md|json] [--fail-on high]   the audit report

'dbtop COMMAND --help' tells more about each command.

exit status: 0 ok, 1 the server failed during the run, 2 bad input or the target cannot be reached.
"""


def package_version() -> str:
    try:
        return version("dbtop")
    except PackageNotFoundError:
        return "unknown"


def fail(message: str, status: int = 2) -> int:
    print(f"dbtop: {message}", file=sys.stderr)
    return status


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def add_timeouts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--statement-timeout", type=positive_float, default=2.0, metavar="S",
                        help="statement_timeout of every monitoring query, in seconds (default 2)")
    parser.add_argument("--lock-timeout", type=positive_float, default=0.5, metavar="S",
                        help="lock_timeout of every monitoring query, in seconds (default 0.5)")


def add_theme(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme", choices=THEME_NAMES, default=None,
                        help="colour theme (default dbtop-dark; dbtop-16 on TERM=linux; t cycles in the app); "
                             "NO_COLOR is respected")


def app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop", description="A terminal dashboard for the on-call DBA.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dbtop {package_version()}")
    parser.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--interval", type=positive_float, default=None, metavar="S",
                        help="seconds between refreshes (default 2, or the profile's refresh_interval; "
                             "+ and - change it in the app)")
    add_theme(parser)
    add_timeouts(parser)
    return parser


def snapshot_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop snapshot",
        description="Take snapshots of TARGET and print them. With --json each snapshot is one line of JSON "
                    "(the same typed model the panels use); rates and per-interval deltas appear from the "
                    "second snapshot on.")
    parser.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON, one snapshot per line")
    parser.add_argument("--interval", type=positive_float, default=1.0, metavar="S",
                        help="seconds between snapshots (default 1)")
    parser.add_argument("--count", type=positive_int, default=1, metavar="N",
                        help="how many snapshots to take (default 1)")
    add_timeouts(parser)
    return parser


def demo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop demo",
        description="Start a throwaway PostgreSQL in a temporary directory, load an analytics schema with "
                    "a million-row table, run a background workload (active and idle-in-transaction sessions, "
                    "a lock chain, slow statements), plant the problems an audit finds, and open the dashboard "
                    "on it. Everything is removed on exit.")
    parser.add_argument("--rows", type=positive_int, default=1_000_000, metavar="N",
                        help="rows in post_metrics (default 1000000)")
    parser.add_argument("--no-app", action="store_true",
                        help="build the demo, print its connection string, and keep it running until Ctrl-C")
    parser.add_argument("--interval", type=positive_float, default=2.0, metavar="S",
                        help="seconds between refreshes (default 2)")
    add_theme(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "snapshot":
            return run_snapshot(snapshot_parser().parse_args(argv[1:]))
        if argv and argv[0] == "profile":
            from .profile_command import run_profile_command

            return run_profile_command(argv[1:])
        if argv and argv[0] == "audit":
            from .audit_command import run_audit_command

            return run_audit_command(argv[1:])
        if argv and argv[0] == "views":
            from .views_command import run_views_command

            return run_views_command(argv[1:])
        if argv and argv[0] == "demo":
            demo_args = demo_parser().parse_args(argv[1:])
            from .demo_command import run_demo

            return run_demo(demo_args)
        return run_app(app_parser().parse_args(argv))
    except KeyboardInterrupt:
        return 130


def collector_options(args: argparse.Namespace) -> dict:
    return {"statement_timeout_ms": int(args.statement_timeout * 1000),
            "lock_timeout_ms": int(args.lock_timeout * 1000)}


def find_profile(text: str | None):
    """The profile TARGET names, or None when TARGET is a URL, a libpq string or nothing."""
    from ..profiles.resolve import looks_like_profile_name

    if not looks_like_profile_name(text):
        return None
    from ..profiles.config import load_config

    config = load_config()
    name = text.strip()
    if name in config.profiles:
        return config.profiles[name]
    raise TargetError(f"cannot understand target {name!r}: it is not a profile ('dbtop profile list' shows them), "
                      "nor a URL such as postgresql://user@host:5432/dbname, nor a libpq string such as "
                      "'host=db1 dbname=app'")


def make_collector(text: str | None, options: dict):
    """The collector for TARGET, and the profile it names (None for a URL or libpq string)."""
    from ..engines.registry import collector_for

    profile = find_profile(text)
    if profile is None:
        return collector_for(resolve_target(text), **options), None
    from ..profiles.resolve import resolve_profile
    from .profile_targets import ProfileCollector

    return ProfileCollector(resolve_profile(profile), **options), profile


async def connected(collector, options: dict):
    """The collector, connected. When a profile's server asks for a password that neither the keyring
    nor libpq had, a terminal is asked for it once (never without one: the error stands)."""
    from .profile_targets import ProfileCollector, ProfileConnectError, with_typed_password

    try:
        await collector.connect()
        return collector
    except ProfileConnectError as exc:
        again = with_typed_password(exc)
        if again is None:
            raise
    collector = ProfileCollector(again, **options)
    await collector.connect()
    return collector


def run_snapshot(args: argparse.Namespace) -> int:
    from ..engines.errors import ConnectError

    # A one-off snapshot is complete: the catalog is read at once, not after the dashboard's delay.
    options = {**collector_options(args), "catalog_first_after_s": 0}
    try:
        collector, _ = make_collector(args.target, options)
    except (TargetError, ConnectError) as exc:
        return fail(str(exc))

    async def take() -> int:
        nonlocal collector
        try:
            collector = await connected(collector, options)
        except (TargetError, ConnectError) as exc:
            return fail(str(exc))
        try:
            for n in range(args.count):
                if n:
                    await asyncio.sleep(args.interval)
                snap = await collector.snapshot()
                if not snap.reachable:
                    return fail(f"snapshot {n + 1} of {args.count} failed: {snap.error}", status=1)
                if args.json:
                    print(snap.model_dump_json(), flush=True)
                else:
                    print(summary_line(snap), flush=True)
            return 0
        finally:
            await collector.close()

    return asyncio.run(take())


def summary_line(snap) -> str:
    server = snap.server
    role = "standby" if server and server.is_standby else "primary"
    rates = snap.postgres.activity if snap.postgres else None
    tps = f"{rates.transactions_per_s:.1f}" if rates and rates.transactions_per_s is not None else "-"
    unavailable = [f"{name}: {part.reason}" for name, part in snap.parts.items() if not part.available]
    text = (f"{snap.taken_at:%H:%M:%S} {snap.target} PostgreSQL {server.version if server else '?'} {role} "
            f"connections {snap.connections_used}/{server.max_connections if server else '?'} "
            f"sessions {len(snap.sessions)} blocked {snap.blocking.blocked_count} tps {tps} "
            f"statements {len(snap.statements.entries)}")
    return text + ("" if not unavailable else "  [" + "; ".join(unavailable) + "]")


def run_app(args: argparse.Namespace) -> int:
    from ..engines.errors import ConnectError
    from .app import run_dashboard
    from .profile_targets import ProfileCollector, ProfileConnectError, ProfileDirectory, with_typed_password

    options = collector_options(args)
    try:
        collector, profile = make_collector(args.target, options)
        interval = args.interval or (profile.refresh_interval if profile else None) or 2.0
        theme = args.theme or (profile.theme if profile else None)
        if theme is not None and theme not in THEME_NAMES:
            raise TargetError(f"profile {profile.name!r} asks for theme {theme!r}, which dbtop does not have: "
                              f"use one of {', '.join(THEME_NAMES)}")
        directory = ProfileDirectory(**options)
        while True:
            try:
                run_dashboard(collector, interval_s=interval, theme_name=theme,
                              profile=profile.name if profile else None, directory=directory)
                break
            except ProfileConnectError as exc:
                again = with_typed_password(exc)  # interactive only, when neither keyring nor libpq had one
                if again is None:
                    raise
                collector = ProfileCollector(again, **options)
    except (TargetError, ConnectError) as exc:
        return fail(str(exc))
    return 0
