"""Profile passwords in the OS keyring: service `dbtop`, one entry per profile, named after it.

The `keyring` library picks the backend (Secret Service, KWallet, macOS Keychain, Windows Credential
Locker, or what PYTHON_KEYRING_BACKEND / keyringrc.cfg select). A bastion reached over SSH usually
has none of these and gets the `fail` backend: dbtop says so in one line and gives the two ways out.
An encrypted file backend (keyrings.cryptfile, the `dbtop[headless]` extra) is unlocked with a
passphrase asked once per run. The library is imported when a password is first needed: the
dashboard on a URL or libpq string never needs it, and importing it costs its start ~25 ms.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from .config import ProfileError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "dbtop"
CRYPTFILE_BACKEND = "keyrings.cryptfile.cryptfile.CryptFileKeyring"
# keyrings.cryptfile's README suggests this variable for unattended use; dbtop honours it.
CRYPTFILE_PASSPHRASE_ENV = "KEYRING_CRYPTFILE_PASSWORD"
DOCTOR_ENTRY = "dbtop-doctor-round-trip"


class SecretStoreError(ProfileError):
    """The keyring cannot be used; str() is one line that says what to do."""


class HeadlessKeyringError(SecretStoreError):
    """No usable keyring backend on this machine (the `fail` or `null` backend)."""


def backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def chained_backends(backend: KeyringBackend) -> list[KeyringBackend]:
    """The backends a ChainerBackend tries in turn (the first one stores), or [backend]."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return list(backend.backends)
    return [backend]


def is_headless(backend: KeyringBackend) -> bool:
    """True for the `fail` and `null` backends, and for a chain with nothing in it."""
    from keyring.backends import fail, null

    members = chained_backends(backend)
    return not members or all(isinstance(b, (fail.Keyring, null.Keyring)) for b in members)


def headless_message(backend: KeyringBackend) -> str:
    return (f"no usable keyring on this machine (keyring backend {backend_name(backend)}): either pip install "
            f"'dbtop[headless]' and select its encrypted file, unlocked by a passphrase once per run, with "
            f"PYTHON_KEYRING_BACKEND={CRYPTFILE_BACKEND} (or default-keyring in {keyring_config_file()}), "
            "or for PostgreSQL keep the password in ~/.pgpass (or PGPASSFILE) and add the profile with --no-password")


def keyring_config_file() -> str:
    from keyring.util import platform_

    return str(platform_.config_root() / "keyringrc.cfg")


def backend_file(backend: KeyringBackend) -> str | None:
    """The file a file-based backend keeps its entries in."""
    path = getattr(backend, "file_path", None)
    return str(path) if isinstance(path, (str, os.PathLike)) else None


def _is_locked_file_keyring(backend: KeyringBackend) -> bool:
    """An encrypted file backend (keyrings.cryptfile or keyrings.alt) whose passphrase is not known yet."""
    return (type(backend).__module__.startswith(("keyrings.cryptfile", "keyrings.alt"))
            and hasattr(backend, "_keyring_key") and getattr(backend, "_keyring_key") is None
            and backend_file(backend) is not None)


@dataclass
class SecretStore:
    """Reads and writes profile passwords. Secrets come and go as SecretStr, never as plain text
    in an error, a log line or a repr."""

    backend: KeyringBackend | None = None
    prompt: Callable[[str], str] | None = None  # getpass.getpass
    interactive: bool | None = None
    environ: Mapping[str, str] | None = None

    @property
    def active(self) -> KeyringBackend:
        if self.backend is not None:
            return self.backend
        import keyring

        return keyring.get_keyring()

    @property
    def headless(self) -> bool:
        return is_headless(self.active)

    def _can_prompt(self) -> bool:
        if self.interactive is not None:
            return self.interactive
        return sys.stdin is not None and sys.stdin.isatty()

    def _ready(self) -> KeyringBackend:
        backend = self.active
        if is_headless(backend):
            raise HeadlessKeyringError(headless_message(backend))
        for member in chained_backends(backend)[:1]:
            if _is_locked_file_keyring(member):
                self._unlock(member)
        return backend

    def _unlock(self, backend: KeyringBackend) -> None:
        """Ask the encrypted file's passphrase once per run (the backend keeps it in memory)."""
        env = os.environ if self.environ is None else self.environ
        ask = self.prompt or getpass.getpass
        path = backend_file(backend)
        exists = path is not None and os.path.exists(path)
        passphrase = env.get(CRYPTFILE_PASSPHRASE_ENV)
        if not passphrase:
            if not self._can_prompt():
                raise SecretStoreError(f"the encrypted keyring {path} is locked and its passphrase cannot be asked "
                                       f"here: run the command in a terminal (or start dbtop on a profile), "
                                       f"or set {CRYPTFILE_PASSPHRASE_ENV}")
            if exists:
                passphrase = ask(f"Passphrase of the encrypted keyring {path}: ")
            else:
                passphrase = ask(f"New passphrase for the encrypted keyring {path}: ")
                if passphrase and ask("The same passphrase again: ") != passphrase:
                    raise SecretStoreError("the two passphrases differ: run the command again")
            if not passphrase:
                raise SecretStoreError(f"no passphrase given for the encrypted keyring {path}: "
                                       "type it at the prompt")
        from keyring.errors import KeyringError

        try:
            backend.keyring_key = passphrase
        except (ValueError, AssertionError):
            raise SecretStoreError(f"wrong passphrase for the encrypted keyring {path}: try again "
                                   f"(or check {CRYPTFILE_PASSPHRASE_ENV})") from None
        except KeyringError as exc:
            raise SecretStoreError(self._failure("unlock", exc)) from None

    def _failure(self, what: str, exc: BaseException) -> str:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return (f"the keyring ({backend_name(self.active)}) could not {what} the password ({detail}): "
                "run 'dbtop profile doctor'")

    def get(self, profile: str) -> SecretStr | None:
        first = chained_backends(self.active)[0]
        if _is_locked_file_keyring(first) and not os.path.exists(backend_file(first)):
            return None  # no encrypted file yet: nothing stored, and no passphrase to make one up for
        backend = self._ready()
        from keyring.errors import KeyringError, NoKeyringError

        try:
            value = backend.get_password(SERVICE, profile)
        except NoKeyringError:
            raise HeadlessKeyringError(headless_message(backend)) from None
        except (KeyringError, ValueError, OSError) as exc:
            raise SecretStoreError(self._failure("read", exc)) from None
        return SecretStr(value) if value else None

    def set(self, profile: str, secret: SecretStr) -> None:
        backend = self._ready()
        from keyring.errors import KeyringError, NoKeyringError

        try:
            backend.set_password(SERVICE, profile, secret.get_secret_value())
        except NoKeyringError:
            raise HeadlessKeyringError(headless_message(backend)) from None
        except (KeyringError, ValueError, OSError, NotImplementedError) as exc:
            raise SecretStoreError(self._failure("store", exc)) from None

    def delete(self, profile: str) -> bool:
        """Remove the profile's entry; False if there was none."""
        backend = self._ready()
        from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

        try:
            if backend.get_password(SERVICE, profile) is None:
                return False
            backend.delete_password(SERVICE, profile)
        except PasswordDeleteError:
            return False
        except NoKeyringError:
            raise HeadlessKeyringError(headless_message(backend)) from None
        except (KeyringError, ValueError, OSError, NotImplementedError) as exc:
            raise SecretStoreError(self._failure("remove", exc)) from None
        return True

    def round_trip(self) -> None:
        """Store, read back and remove a throwaway entry; SecretStoreError says what failed."""
        value = SecretStr(secrets.token_urlsafe(16))
        self.set(DOCTOR_ENTRY, value)
        try:
            back = self.get(DOCTOR_ENTRY)
            if back is None or back.get_secret_value() != value.get_secret_value():
                raise SecretStoreError(f"the keyring ({backend_name(self.active)}) stored an entry but gave back "
                                       "something else: choose another backend")
        finally:
            self.delete(DOCTOR_ENTRY)
