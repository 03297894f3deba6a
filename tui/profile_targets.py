"""Connecting to a profile: a collector whose failures name the profile and say where its password
came from, and the directory the app's profile picker reads.

The profiles' code is imported when a profile is used: the dashboard on a URL or libpq string
builds a ProfileDirectory at start and may never open the picker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..engines.base import Collector
from ..engines.errors import ConnectError
from ..engines.registry import collector_for

if TYPE_CHECKING:
    from ..profiles.resolve import ResolvedProfile
    from ..profiles.secret_store import SecretStore


class ProfileCollector:
    """The engine's collector for a profile; a failure to connect names the profile."""

    def __init__(self, resolved: ResolvedProfile, **options):
        from ..profiles.connecting import explain_profile_failure
        from ..profiles.policy import watch_policy

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

    @property
    def policy(self):
        return self.inner.policy

    async def connect(self) -> None:
        try:
            await self.inner.connect()
        except ConnectError as exc:
            from ..profiles.connecting import explain_profile_failure

            raise explain_profile_failure(self.resolved, exc) from None

    async def snapshot(self):
        return await self.inner.snapshot()

    async def close(self) -> None:
        await self.inner.close()

    async def plan(self, action: str, **params):
        return await self.inner.plan(action, **params)

    async def run(self, plan, progress=None):
        return await self.inner.run(plan, progress)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


class ProfileDirectory:
    """The profiles the app's picker offers (tui.app.TargetDirectory): names with a description,
    and a collector per name whose password comes from the keyring. It never prompts: the app
    owns the terminal."""

    def __init__(self, path: Path | None = None, store: SecretStore | None = None, **collector_options):
        self.path = path
        self.store = store  # None: the keyring's, without prompting (made when first needed)
        self.collector_options = collector_options

    def entries(self) -> list[tuple[str, str]]:
        from ..profiles.config import describe, load_config

        return [(name, describe(profile)) for name, profile in load_config(self.path).profiles.items()]

    def collector(self, name: str) -> ProfileCollector:
        from ..profiles.config import load_config
        from ..profiles.resolve import resolve_profile
        from ..profiles.secret_store import SecretStore

        if self.store is None:
            self.store = SecretStore(interactive=False)
        profile = load_config(self.path).get(name)
        return ProfileCollector(resolve_profile(profile, self.store), **self.collector_options)
