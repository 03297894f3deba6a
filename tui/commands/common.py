"""What the commands share: argument types and options, the one-line error, and connecting to a
TARGET (a profile, a URL, a libpq string or nothing) with the password prompt of last resort."""

from __future__ import annotations

import argparse
import math
import sys

from ...profiles.target import TargetError, looks_like_profile_name, resolve_target
from ...themes.names import THEME_NAMES

TARGET_HELP = (
    "what to connect to: a profile name (dbtop profile list), a URL (postgresql://user@host:5432/db, "
    "postgresql+asyncpg://…), a libpq keyword string ('host=db1 port=5432 dbname=app'), or nothing: "
    "then PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE and ~/.pgpass decide, as for psql"
)


def fail(message: str, status: int = 2) -> int:
    print(f"dbtop: {message}", file=sys.stderr)
    return status


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds greater than 0")
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


def add_read_only(parser: argparse.ArgumentParser,
                  text: str = "refuse every action (as the profile's read_only = true does)") -> None:
    parser.add_argument("--read-only", action="store_true", help=text)


def add_theme(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--theme", choices=THEME_NAMES, default=None,
                        help="colour theme (default dbtop-dark; dbtop-16 on TERM=linux; t cycles in the app); "
                             "NO_COLOR is respected")


def collector_options(args: argparse.Namespace) -> dict:
    return {"statement_timeout_ms": int(args.statement_timeout * 1000),
            "lock_timeout_ms": int(args.lock_timeout * 1000)}


def named_profile(text: str | None):
    """The profile TARGET names, or None for a URL, a libpq string or nothing (the profiles' code,
    which a URL does not need, is not even imported then: the dashboard starts sooner)."""
    if not looks_like_profile_name(text):
        return None
    from ...profiles.resolve import find_profile

    return find_profile(text)


def resolve(text: str | None):
    """The Target TARGET names (a profile's with its password from the keyring)."""
    profile = named_profile(text)
    if profile is None:
        return resolve_target(text)
    from ...profiles.resolve import resolve_profile

    return resolve_profile(profile).target


def make_collector(text: str | None, options: dict):
    """The collector for TARGET, and the profile it names (None for a URL or libpq string)."""
    from ...engines.registry import collector_for

    profile = named_profile(text)
    if profile is None:
        return collector_for(resolve_target(text), **options), None
    from ...profiles.resolve import resolve_profile
    from ..profile_targets import ProfileCollector

    return ProfileCollector(resolve_profile(profile), **options), profile


async def connected(collector, options: dict):
    """The collector, connected. When the server asks for a password that neither the target, the
    keyring nor libpq had, a terminal is asked for it once (never without one: the error stands)."""
    from ...engines.errors import ConnectError

    try:
        await collector.connect()
        return collector
    except ConnectError as exc:
        again = with_typed_password(collector, exc, options)
        if again is None:
            raise
    await again.connect()
    return again


def with_typed_password(collector, error, options: dict):
    """A new collector for the same target with a password typed at the terminal, when the server
    refused to go without one and none was given; else None."""
    from ...profiles.connecting import ProfileConnectError, target_with_typed_password
    from ...profiles.connecting import with_typed_password as profile_with_typed_password

    if isinstance(error, ProfileConnectError):
        from ..profile_targets import ProfileCollector

        resolved = profile_with_typed_password(error)
        return None if resolved is None else ProfileCollector(resolved, **options)
    target = target_with_typed_password(collector.target, error)
    if target is None:
        return None
    from ...engines.registry import collector_for

    return collector_for(target, **options)
