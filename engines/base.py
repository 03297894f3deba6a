"""The small interface every engine implements, so the app never branches on the database kind."""

from __future__ import annotations

from typing import Protocol

from ..profiles.target import Target
from .snapshot import Snapshot


class Collector(Protocol):
    engine: str
    target: Target

    async def connect(self) -> None:
        """Open the connection; raise ConnectError with a one-line reason."""

    async def snapshot(self) -> Snapshot:
        """One snapshot; failures are inside it, never raised."""

    async def close(self) -> None: ...

