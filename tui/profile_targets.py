"""Connecting to a profile: a collector whose failures name the profile and say where its password
came from, the last-resort password prompt, and the directory the app's profile picker reads."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from ..engines.base import Collector
from ..engines.registry import collector_for
from ..engines.policy import WatchPolicy
from ..engines.errors import ConnectError
from ..profiles.config import Profile, load_config
from ..profiles.resolve import ResolvedProfile, password_file, resolve_profile
from ..profiles.secret_store import SecretStore, headless_message

class ProfileConnectError(ConnectError):
    """A profile's target refused or could not be reached; str() is one line naming the profile."""

    def __init__(self, message: str, resolved: ResolvedProfile, password_refused: bool):
        super().__init__(message)
        self.resolved = resolved
        self.password_refused = password_refused

    @property
    def may_prompt(self) -> bool:
        """The password was refused and none came from the keyring or the operator: ask for one."""
        return self.password_refused and self.resolved.password_source in (None, "password file")


def explain_profile_failure(resolved: ResolvedProfile, exc: BaseException) -> ProfileConnectError:
    name = resolved.profile.name
    message = str(exc)
    refused = bool(getattr(exc, "password_refused", False))
    if not refused:
        return ProfileConnectError(f"profile {name!r}: {message}", resolved, False)
    target = resolved.target
    base = f"profile {name!r}: password authentication failed for user {target.user!r} at {target.label}"
    store_it = f"'dbtop profile edit {name} --password'"
    source = resolved.password_source
    if source == "keyring":
        text = f"{base} with the password stored in the keyring: store the right one with {store_it}"
    elif source == "given":
        text = f"{base} with the password given: check it, and store the right one with {store_it}"
    elif source == "service file":
        text = (f"{base} with the password of its pg_service.conf entry: fix it there, or store the right one "
                f"in the keyring with {store_it}")
    elif source == "PGPASSWORD":
        text = f"{base} with the password from PGPASSWORD: unset PGPASSWORD, or store the right one with {store_it}"
    elif resolved.keyring_headless:
        import keyring

        text = f"{base}, and there is no keyring to hold its password: {headless_message(keyring.get_keyring())}"
    else:
        where = password_file(os.environ)
        text = (f"{base}: no password is stored in the keyring for this profile and {where} has none that works: "
                f"store it with {store_it}, or add it to {where}")
    return ProfileConnectError(text, resolved, True)


def watch_policy(profile: Profile) -> WatchPolicy:
    """What the profile expects of its target, defaults where it says nothing."""
    values: dict = {"profile": profile.name, "data_age_columns": dict(profile.data_age_columns),
                    "thresholds": dict(profile.thresholds),
                    "freshness_s": {k: v.total_seconds() for k, v in profile.freshness.items()}}
    if profile.backup_dir:
        values["backup_dir"] = profile.backup_dir
    if profile.rpo is not None:
        values["rpo_s"] = profile.rpo.total_seconds()
    if profile.retention is not None:
        values["retention_s"] = profile.retention.total_seconds()
    if profile.retention_keep is not None:
        values["retention_keep"] = profile.retention_keep
    return WatchPolicy(**values)


class ProfileCollector:
    """The engine's collector for a profile; a failure to connect names the profile."""

    def __init__(self, resolved: ResolvedProfile, **options):
        self.resolved = resolved
        options.setdefault("policy", watch_policy(resolved.profile))
        try:
            self.inner: Collector = collector_for(resolved.target, **options)
        except ConnectError as exc:
            raise explain_profile_failure(resolved, exc) from None

    @property
    def engine(self) -> str:
        return self.inner.engine

    @property
    def target(self):
        return self.inner.target

    async def connect(self) -> None:
        try:
            await self.inner.connect()
        except ConnectError as exc:
            raise explain_profile_failure(self.resolved, exc) from None

    async def snapshot(self):
        return await self.inner.snapshot()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def can_prompt() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def prompt_password(resolved: ResolvedProfile, prompt: Callable[[str], str] | None = None) -> SecretStr | None:
    """Ask for the password without echo (interactive runs only); None when nothing was typed."""
    profile = resolved.profile
    text = (prompt or getpass.getpass)(f"Password for {resolved.target.user}@{profile.name} ({resolved.target.label}): ")
    return SecretStr(text) if text else None


def with_typed_password(error: ProfileConnectError, store: SecretStore | None = None,
                        prompt: Callable[[str], str] | None = None,
                        interactive: bool | None = None) -> ResolvedProfile | None:
    """The profile again with a typed password, when the server asked for one that neither the
    keyring nor libpq had and a terminal can ask for it; else None."""
    if not error.may_prompt or not (can_prompt() if interactive is None else interactive):
        return None
    password = prompt_password(error.resolved, prompt)
    if password is None:
        return None
    return resolve_profile(error.resolved.profile, store, password=password)


def describe(profile: Profile) -> str:
    """One line for lists and the picker; never a secret."""
    text = f"{profile.engine} {profile.label}"
    if profile.standbys:
        text += f"  standbys {', '.join(profile.standbys)}"
    if not profile.read_only:
        text += "  read-write"
    return text


class ProfileDirectory:
    """The profiles the app's picker offers (tui.app.TargetDirectory): names with a description,
    and a collector per name whose password comes from the keyring. It never prompts: the app
    owns the terminal."""

    def __init__(self, path: Path | None = None, store: SecretStore | None = None, **collector_options):
        self.path = path
        self.store = store or SecretStore(interactive=False)
        self.collector_options = collector_options

    def entries(self) -> list[tuple[str, str]]:
        return [(name, describe(profile)) for name, profile in load_config(self.path).profiles.items()]

    def collector(self, name: str) -> ProfileCollector:
        profile = load_config(self.path).get(name)
        return ProfileCollector(resolve_profile(profile, self.store), **self.collector_options)
