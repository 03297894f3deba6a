"""`dbtop profile …`: connection profiles in the profile file, their passwords in the keyring.

    dbtop profile add NAME URL [--password-stdin | --no-password] [--no-test] [settings]
    dbtop profile list
    dbtop profile show NAME
    dbtop profile test NAME
    dbtop profile edit NAME [--url URL] [--password | --password-stdin | --forget-password] [settings]
    dbtop profile rename OLD NEW
    dbtop profile rm NAME
    dbtop profile doctor

A password is never taken as an argument: it is asked without echo, read from standard input with
--password-stdin, or taken once from a URL that carries one (and moved to the keyring).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from ...engines.errors import ConnectError, EngineUnavailable
from ...profiles.config import ProfileConfig, ProfileError, describe, load_config, save_profiles
from ...profiles.connecting import ProfileConnectError, can_prompt, explain_profile_failure, with_typed_password
from ...profiles.resolve import ResolvedProfile, build_profile, connection_fields, password_file, resolve_profile
from ...profiles.secret_store import (SERVICE, HeadlessKeyringError, SecretStore, SecretStoreError, backend_file,
                                      backend_name, chained_backends, headless_message, is_headless,
                                      keyring_config_file)
from ...profiles.target import TargetError
from ...themes.names import THEME_NAMES

CONNECTION_FIELDS = ("engine", "hosts", "port", "user", "database", "service", "tls_mode", "ca_file", "srv",
                     "options", "connect_timeout")
UNSETTABLE = ("port", "user", "database", "service", "tls_mode", "ca_file", "connect_timeout", "standbys",
              "backup_dir", "rpo", "retention", "freshness", "refresh_interval", "theme", "options")

DESCRIPTION = """Connection profiles: `dbtop NAME` connects to the profile NAME.

Profiles live in $XDG_CONFIG_HOME/dbtop/config.toml (DBTOP_CONFIG names another file); their
passwords live in the OS keyring (service 'dbtop', one entry per profile), never in that file.
A password is found in this order: the profile's keyring entry, then libpq's own sources
(pg_service.conf, PGPASSWORD, ~/.pgpass or PGPASSFILE), then a prompt when run in a terminal."""


def out(text: str) -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(f"dbtop: {text}", file=sys.stderr, flush=True)


def add_settings(parser: argparse.ArgumentParser) -> None:
    """The settings `add` and `edit` share."""
    group = parser.add_argument_group("settings")
    group.add_argument("--standby", action="append", metavar="PROFILE", dest="standbys",
                       help="a profile that is a standby of this one, for failover (repeat for several)")
    group.add_argument("--tls-mode", choices=("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
                       help="TLS mode (libpq's sslmode)")
    group.add_argument("--ca-file", metavar="FILE", help="CA certificate that signs the server's (sslrootcert)")
    group.add_argument("--connect-timeout", type=float, metavar="S", help="seconds to wait for a connection")
    group.add_argument("--backup-dir", metavar="DIR", help="where this server's backups are kept")
    group.add_argument("--rpo", metavar="DURATION", help="recovery point objective, e.g. 15m, 1h")
    group.add_argument("--retention", metavar="DURATION", help="how long backups are kept, e.g. 14d")
    group.add_argument("--freshness", action="append", metavar="VIEW=DURATION",
                       help="staleness threshold of a materialized view ('default=1h' for all; repeatable)")
    group.add_argument("--refresh-interval", type=float, metavar="S",
                       help="seconds between refreshes when this profile is opened (0.5 to 60)")
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--read-only", dest="read_only", action="store_true", default=None,
                      help="no actions that change the server (the default)")
    mode.add_argument("--read-write", dest="read_only", action="store_false",
                      help="allow guarded actions on this server")
    group.add_argument("--theme", choices=THEME_NAMES, help="colour theme when this profile is opened")


def profile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbtop profile", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="add a profile; asks for its password and tests the connection",
                              description="Add a profile from a URL or libpq string. The password is asked without "
                                          "echo (or read from standard input with --password-stdin), the connection "
                                          "is tested, and the password is stored in the keyring. A URL that carries "
                                          "a password is accepted: the password goes to the keyring, not the file.")
    add.add_argument("name", metavar="NAME", help="the profile's name: letters, digits, '-', '_', '.'")
    add.add_argument("url", metavar="URL",
                     help="postgresql://user@host:5432/dbname, 'host=db1 dbname=app user=ops', "
                          "service=NAME, or mongodb://user@host:27017/db")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input (one line)")
    secret.add_argument("--no-password", action="store_true",
                        help="store no password: rely on ~/.pgpass, PGPASSWORD, or trust/peer authentication")
    add.add_argument("--no-test", action="store_true", help="save without testing the connection")
    add_settings(add)

    commands.add_parser("list", help="the profiles, never their secrets")
    show = commands.add_parser("show", help="a profile's settings, and whether the keyring holds its password")
    show.add_argument("name", metavar="NAME")
    test = commands.add_parser("test", help="connect with a profile and say what answered")
    test.add_argument("name", metavar="NAME")

    edit = commands.add_parser("edit", help="change a profile's settings or password",
                               description="Change a profile. Connection settings or a new password are tested "
                                           "before anything is saved (unless --no-test).")
    edit.add_argument("name", metavar="NAME")
    edit.add_argument("--url", metavar="URL", help="replace the connection settings with those of URL")
    edit.add_argument("--host", action="append", metavar="HOST", dest="hosts",
                      help="host name, address or socket directory ('host:port' for a port of its own; repeatable)")
    edit.add_argument("--port", type=int, metavar="PORT")
    edit.add_argument("--user", metavar="USER")
    edit.add_argument("--database", metavar="DBNAME")
    edit.add_argument("--service", metavar="SERVICE", help="an entry of pg_service.conf")
    edit.add_argument("--unset", action="append", choices=UNSETTABLE, metavar="FIELD", default=[],
                      help=f"remove a setting ({', '.join(UNSETTABLE)}; repeatable)")
    secret = edit.add_mutually_exclusive_group()
    secret.add_argument("--password", action="store_true", help="ask for a new password (without echo)")
    secret.add_argument("--password-stdin", action="store_true", help="read a new password from standard input")
    secret.add_argument("--forget-password", action="store_true", help="remove the password from the keyring")
    edit.add_argument("--no-test", action="store_true", help="save without testing the connection")
    add_settings(edit)

    rename = commands.add_parser("rename", help="rename a profile (its keyring entry moves with it)")
    rename.add_argument("name", metavar="OLD")
    rename.add_argument("new_name", metavar="NEW")
    rm = commands.add_parser("rm", help="remove a profile and its keyring entry")
    rm.add_argument("name", metavar="NAME")
    commands.add_parser("doctor", help="which keyring backend is active, and whether a round trip works")
    return parser


def run(argv: list[str], store: SecretStore | None = None) -> int:
    args = profile_parser().parse_args(argv)
    store = store or SecretStore()
    handler: Callable[[argparse.Namespace, SecretStore], int] = COMMANDS[args.command]
    try:
        return handler(args, store)
    except (TargetError, ConnectError) as exc:
        print(f"dbtop: {exc}", file=sys.stderr)
        return 2


# -- reading settings and passwords ---------------------------------------------------------------
def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ("standbys", "tls_mode", "ca_file", "connect_timeout", "backup_dir", "rpo", "retention",
                "refresh_interval", "read_only", "theme"):
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if getattr(args, "freshness", None):
        freshness = {}
        for item in args.freshness:
            view, sep, duration = item.partition("=")
            if not sep or not view.strip():
                raise ProfileError(f"--freshness {item!r} is not VIEW=DURATION: write e.g. "
                                   "--freshness analytics.daily_sales=26h")
            freshness[view.strip()] = duration.strip()
        settings["freshness"] = freshness
    return settings


def read_password_stdin() -> SecretStr:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ProfileError("--password-stdin read no password: pipe it in, e.g. from your password manager's CLI")
    return SecretStr(password)


def ask_password(label: str, *, allow_empty: bool) -> SecretStr | None:
    import getpass

    if not can_prompt():
        raise ProfileError("no terminal to ask the password on: pipe it with --password-stdin, "
                           "or add --no-password to rely on ~/.pgpass")
    hint = " (Enter for none: ~/.pgpass or PGPASSWORD will be used)" if allow_empty else ""
    text = getpass.getpass(f"Password for {label}{hint}: ")
    if not text and not allow_empty:
        raise ProfileError("no password typed: run the command again and type it")
    return SecretStr(text) if text else None


def require_keyring(store: SecretStore) -> None:
    if store.headless:
        raise HeadlessKeyringError(headless_message(store.active))


def check_standbys(config: ProfileConfig, name: str, standbys: list[str]) -> None:
    for standby in standbys:
        if standby not in config.profiles and standby != name:
            raise ProfileError(f"standby {standby!r} is not a profile: add it first with "
                               f"'dbtop profile add {standby} URL'")


# -- testing a connection -------------------------------------------------------------------------
def check_connection(resolved: ResolvedProfile) -> str:
    """Connect once and say what answered; ProfileConnectError names the profile."""
    from ...engines.registry import operation

    try:
        probe = operation(resolved.target, "probe")
    except EngineUnavailable as exc:
        raise explain_profile_failure(resolved, ConnectError(
            f"{exc}; so the connection cannot be tested: add --no-test to save the profile")) from None
    try:
        return asyncio.run(probe(resolved.target))
    except ConnectError as exc:
        raise explain_profile_failure(resolved, exc) from None


def password_origin(resolved: ResolvedProfile) -> str:
    return {
        "keyring": "password from the keyring",
        "given": "password as typed",
        "service file": "password from pg_service.conf",
        "PGPASSWORD": "password from PGPASSWORD",
        "password file": f"password file {password_file(os.environ)} available",
        None: "no password",
    }[resolved.password_source]


# -- the commands ---------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    name = args.name
    if name in config.profiles:
        raise ProfileError(f"profile {name!r} already exists in {config.path}: change it with "
                           f"'dbtop profile edit {name}', or remove it with 'dbtop profile rm {name}'")
    fields, url_password = connection_fields(args.url)
    fields.update(settings_from(args))
    profile = build_profile(name, fields)
    check_standbys(config, name, profile.standbys)
    if url_password is not None and args.password_stdin:
        raise ProfileError("the URL carries a password and --password-stdin was given: give the password one way")
    if url_password is not None and args.no_password:
        raise ProfileError("the URL carries a password and --no-password was given: remove the password from the URL")
    password = url_password
    if password is None and not args.no_password:
        require_keyring(store)  # before asking for a password there is nowhere to keep
        password = read_password_stdin() if args.password_stdin else ask_password(
            f"{profile.user or '?'}@{name} ({profile.label})", allow_empty=True)
    if password is not None:
        require_keyring(store)
    use_keyring = password is not None
    tested = None
    if not args.no_test:
        resolved = resolve_profile(profile, store, password=password, use_keyring=use_keyring)
        try:
            tested = check_connection(resolved)
        except ProfileConnectError as exc:
            raise ProfileError(f"{exc}; nothing was saved (--no-test saves the profile without trying)") from None
    if password is not None:
        store.set(name, password)
    try:
        save_profiles(config, {name: profile})
    except BaseException:
        if password is not None:
            store.delete(name)
        raise
    where = (f"its password is in the keyring ({backend_name(store.active)}, service {SERVICE!r})" if password
             else "no password stored: libpq's sources (~/.pgpass, PGPASSWORD) or a prompt will be used")
    out(f"profile {name!r} saved in {config.path}; {where}")
    if tested:
        out(f"tested: {profile.label} answered: {tested}")
    if url_password is not None:
        note(f"the password in the URL was moved to the keyring and is not in {config.path}; "
             "the command line may still be in your shell history: remove it there (history -d N)")
    return 0


def cmd_list(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    if not config.profiles:
        out(f"no profiles in {config.path}: add one with 'dbtop profile add NAME URL'")
        return 0
    width = max(len(name) for name in config.profiles)
    for name, profile in config.profiles.items():
        out(f"{name:<{width}}  {describe(profile)}")
    return 0


def cmd_show(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    profile = config.get(args.name)
    out(f"profile {profile.name!r} in {config.where('profiles', profile.name)}")
    out(f"  where: {profile.engine} {profile.label}")
    for key, value in profile.as_toml().items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        out(f"  {key}: {value}")
    if "read_only" not in profile.as_toml():
        out("  read_only: yes")
    try:
        secret = store.get(profile.name)
        state = (f"in the keyring ({backend_name(store.active)}, service {SERVICE!r}, entry {profile.name!r})"
                 if secret else "not in the keyring: libpq's sources (~/.pgpass, PGPASSWORD), then a prompt")
    except HeadlessKeyringError:
        state = f"no usable keyring here ({backend_name(store.active)}): see 'dbtop profile doctor'"
    except SecretStoreError as exc:
        state = f"unknown: {exc}"
    out(f"  password: {state}")
    return 0


def cmd_test(args: argparse.Namespace, store: SecretStore) -> int:
    profile = load_config().get(args.name)
    resolved = resolve_profile(profile, store)
    try:
        answer = check_connection(resolved)
    except ProfileConnectError as exc:
        again = with_typed_password(exc, store)
        if again is None:
            raise
        resolved = again
        answer = check_connection(resolved)
        note(f"the typed password works: store it with 'dbtop profile edit {profile.name} --password'")
    out(f"profile {profile.name!r}: {profile.label} answered: {answer} ({password_origin(resolved)})")
    return 0


def cmd_edit(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    old = config.get(args.name)
    fields = old.model_dump(exclude={"name"}, exclude_defaults=True)
    new_password: SecretStr | None = None
    if args.url:
        url_fields, new_password = connection_fields(args.url)
        fields = {k: v for k, v in fields.items() if k not in CONNECTION_FIELDS}
        fields.update(url_fields)
    for key in ("hosts", "port", "user", "database", "service"):
        value = getattr(args, key)
        if value is not None:
            fields[key] = value
    fields.update(settings_from(args))
    for key in args.unset:
        fields.pop(key, None)
    profile = build_profile(old.name, fields)
    check_standbys(config, old.name, profile.standbys)
    if new_password is not None and (args.password or args.password_stdin or args.forget_password):
        raise ProfileError("the URL carries a password and a password option was given: give the password one way")
    if args.password:
        require_keyring(store)
        new_password = ask_password(f"{profile.user or '?'}@{profile.name} ({profile.label})", allow_empty=False)
    elif args.password_stdin:
        require_keyring(store)
        new_password = read_password_stdin()
    if new_password is not None:
        require_keyring(store)
    connection_changed = any(getattr(old, f) != getattr(profile, f) for f in CONNECTION_FIELDS)
    tested = None
    if not args.no_test and (connection_changed or new_password is not None):
        resolved = resolve_profile(profile, store, password=new_password,
                                   use_keyring=not args.forget_password)
        try:
            tested = check_connection(resolved)
        except ProfileConnectError as exc:
            raise ProfileError(f"{exc}; nothing was changed (--no-test saves the change without trying)") from None
    if new_password is not None:
        store.set(profile.name, new_password)
    forgotten = store.delete(profile.name) if args.forget_password else False
    if profile != old:
        save_profiles(config, {profile.name: profile})
    changes = []
    if profile != old:
        changes.append(f"settings saved in {config.path}")
    if new_password is not None:
        changes.append("new password stored in the keyring")
    if args.forget_password:
        changes.append("password removed from the keyring" if forgotten else "the keyring held no password for it")
    out(f"profile {profile.name!r}: " + ("; ".join(changes) if changes else "nothing to change"))
    if tested:
        out(f"tested: {profile.label} answered: {tested}")
    if args.url and new_password is not None:
        note("the password in the URL was moved to the keyring; the command line may still be in your shell "
             "history: remove it there (history -d N)")
    return 0


def _standby_changes(config: ProfileConfig, old: str, new: str | None) -> dict:
    """Other profiles whose standbys name `old`, with it renamed to `new` (or removed)."""
    changes = {}
    for name, profile in config.profiles.items():
        if old in profile.standbys and name != old:
            standbys = [new if s == old else s for s in profile.standbys if new is not None or s != old]
            changes[name] = profile.model_copy(update={"standbys": standbys})
    return changes


def cmd_rename(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    old = config.get(args.name)
    new_name = args.new_name
    if new_name in config.profiles:
        raise ProfileError(f"profile {new_name!r} already exists in {config.path}: choose another name, "
                           f"or remove it first with 'dbtop profile rm {new_name}'")
    renamed = build_profile(new_name, old.model_dump(exclude={"name"}, exclude_defaults=True))
    secret = None
    headless = False
    try:
        secret = store.get(old.name)
    except HeadlessKeyringError:
        headless = True
    if secret is not None:
        store.set(new_name, secret)
    changes = {new_name: renamed, **_standby_changes(config, old.name, new_name)}
    try:
        save_profiles(config, changes, renames={old.name: new_name})
    except BaseException:
        if secret is not None:
            store.delete(new_name)
        raise
    if secret is not None:
        store.delete(old.name)
    moved = ("its keyring entry moved with it" if secret is not None
             else "no keyring here, nothing moved there" if headless else "it had no keyring entry")
    out(f"profile {old.name!r} renamed to {new_name!r}; {moved}")
    return 0


def cmd_rm(args: argparse.Namespace, store: SecretStore) -> int:
    config = load_config()
    profile = config.get(args.name)
    standby_of = _standby_changes(config, profile.name, None)
    save_profiles(config, {profile.name: None, **standby_of})
    try:
        removed = "its keyring entry removed" if store.delete(profile.name) else "it had no keyring entry"
    except HeadlessKeyringError:
        removed = "no keyring here, nothing to remove there"
    text = f"profile {profile.name!r} removed from {config.path}; {removed}"
    if standby_of:
        text += f"; no longer a standby of {', '.join(sorted(standby_of))}"
    out(text)
    return 0


def cmd_doctor(args: argparse.Namespace, store: SecretStore) -> int:
    try:
        config = load_config()
        profiles = f"{len(config.profiles)} profile(s)" if config.exists else "not created yet"
        out(f"profile file: {config.path} ({profiles})")
    except ProfileError as exc:
        out(f"profile file: {exc}")
    backend = store.active
    chain = chained_backends(backend)
    detail = f"priority {getattr(type(backend), 'priority', '?')}"
    out(f"keyring backend: {backend_name(backend)} ({detail})")
    if len(chain) > 1 or chain[:1] != [backend]:
        out("  tried in turn: " + ", ".join(backend_name(b) for b in chain))
    for member in chain[:1]:
        if backend_file(member):
            out(f"  file: {backend_file(member)}")
    selected = os.environ.get("PYTHON_KEYRING_BACKEND")
    rc = keyring_config_file()
    out("  chosen by: " + (f"PYTHON_KEYRING_BACKEND={selected}" if selected
                            else f"{rc}" if os.path.exists(rc) else "the keyring library (nothing configured)"))
    passfile = password_file(os.environ)
    out(f"libpq password file: {passfile} ({'present' if passfile.is_file() else 'absent'})")
    if is_headless(backend):
        out("round trip: not possible")
        print(f"dbtop: {headless_message(backend)}", file=sys.stderr)
        return 2
    try:
        store.round_trip()
    except SecretStoreError as exc:
        out("round trip: failed")
        print(f"dbtop: {exc}", file=sys.stderr)
        return 2
    out(f"round trip: ok (stored, read back and removed an entry of service {SERVICE!r})")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, SecretStore], int]] = {
    "add": cmd_add, "list": cmd_list, "show": cmd_show, "test": cmd_test, "edit": cmd_edit,
    "rename": cmd_rename, "rm": cmd_rm, "doctor": cmd_doctor,
}
