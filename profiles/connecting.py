"""When a profile's target refuses: one line that names the profile and says where the password
came from, and the last-resort password prompt (in a terminal only)."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable

from pydantic import SecretStr

from ..engines.errors import ConnectError
from .target import Target
from .resolve import ResolvedProfile, password_file, resolve_profile
from .secret_store import SecretStore, headless_message


class ProfileConnectError(ConnectError):
    """A profile's target refused or could not be reached; str() is one line naming the profile."""

    def __init__(self, message: str, resolved: ResolvedProfile, password_refused: bool):
        super().__init__(message, password_refused=password_refused)
        self.resolved = resolved

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


def can_prompt() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def prompt_password(resolved: ResolvedProfile, prompt: Callable[[str], str] | None = None) -> SecretStr | None:
    """Ask for the password without echo (interactive runs only); None when nothing was typed."""
    profile = resolved.profile
    return _ask(f"Password for {resolved.target.user}@{profile.name} ({resolved.target.label}): ", prompt)


def _ask(question: str, prompt: Callable[[str], str] | None) -> SecretStr | None:
    text = (prompt or getpass.getpass)(question)
    return SecretStr(text) if text else None


def target_with_typed_password(target: Target, error: ConnectError, prompt: Callable[[str], str] | None = None,
                               interactive: bool | None = None, environ=None) -> Target | None:
    """A URL's (or libpq string's) target again with a typed password, when the server refused to go
    without one, none was given (in the target or PGPASSWORD; the password file was tried by then)
    and a terminal can ask for it; else None."""
    env = os.environ if environ is None else environ
    if not error.password_refused or target.password is not None or env.get("PGPASSWORD"):
        return None
    if not (can_prompt() if interactive is None else interactive):
        return None
    password = _ask(f"Password for {target.label}: ", prompt)
    return None if password is None else target.model_copy(update={"password": password})


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
