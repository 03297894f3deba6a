"""Connection profiles (a TOML file under the XDG config dir) and their passwords in the OS keyring.

The app's profile picker uses two functions:

    load_profiles() -> list[Profile]           every profile in the file, secrets left out
    resolve_profile_target(profile) -> Target  where to connect, the password from the keyring

Loaded lazily, so that importing `dbtop.profiles.target` does not import the keyring library.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Profile": "config", "ProfileError": "config", "load_profiles": "config", "load_config": "config",
    "config_path": "config",
    "SecretStore": "secret_store", "SecretStoreError": "secret_store",
    "resolve_profile_target": "resolve", "resolve_profile": "resolve", "find_profile": "resolve",
    "describe": "config", "watch_policy": "policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
