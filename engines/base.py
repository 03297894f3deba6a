"""The protocol every engine implements, so the app never branches on the database kind: a
collector monitors one target over its own connection, and plans and runs actions on another
(`ActionRunner`, whose `Plan` and `Outcome` live in actions/plan.py)."""

from __future__ import annotations

from typing import Protocol

from ..actions.plan import ActionRunner
from ..profiles.target import Target
from .policy import WatchPolicy
from .snapshot import Snapshot


class Collector(ActionRunner, Protocol):
    engine: str
    target: Target
    policy: WatchPolicy
    """What the operator expects of the target (thresholds, freshness, backups)."""

    async def connect(self) -> None:
        """Open the monitoring connection; raise ConnectError with a one-line reason."""

    async def snapshot(self) -> Snapshot:
        """One snapshot; failures are inside it, never raised."""

    async def close(self) -> None: ...

    # Optional: `focus(panels: frozenset[str]) -> bool`, the app's hint of the panels on screen by
    # their keys ("connections", "statements", ...); a collector may read at a lower rate what none
    # of them shows, and returns True when the hint made something due now (the poller then polls
    # at once). A collector without it reads everything on every poll.
    # Optional: `first_screen_only() -> bool`, the dashboard's hint before its first poll: the next
    # snapshot may read only what the first screen shows (the overview, sessions, locks) and mark the
    # parts it leaves as not read yet; True when it will, and the poller then polls again at once.
