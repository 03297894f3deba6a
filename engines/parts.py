"""The parts of a snapshot and what reading them costs, for any engine.

A snapshot is read part by part (sessions, statements, replication …). A part that fails is marked
with the operator's reason and fix and the rest of the snapshot still arrives; a part that keeps
failing is backed off (retried after a delay that doubles, capped) instead of on every poll; a slow
part is read every N seconds and its last value reused between. The engine says how its driver's
errors read (`explain`); nothing here knows a driver.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from .redact import redact
from .snapshot import CollectorCost, PartStatus

T = TypeVar("T")

MAX_BACKOFF_S = 300.0


class PartFailed(Exception):
    """A part could not be collected; carries the operator's reason and fix. `back_off=False` for a
    failure that retrying sooner or later does not change (an extension not installed)."""

    def __init__(self, reason: str, fix: str | None = None, back_off: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.back_off = back_off

    @property
    def explained(self) -> str:
        """The reason and the fix in one line."""
        return f"{self.reason}; {self.fix}" if self.fix else self.reason


# An engine's reading of an exception met while collecting part `name`: the PartFailed to record,
# or None for an exception that is not the part's (a lost connection, a bug), which is re-raised.
Explain = Callable[[str, BaseException], PartFailed | None]


@dataclass
class Backoff:
    failures: int
    retry_at: float
    reason: str
    fix: str | None


@dataclass
class SlowPart:
    """A part read at a low rate: its last value and status are carried into the snapshots between."""

    due_at: float = 0.0
    value: Any = None
    status: PartStatus | None = None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Parts:
    """The part statuses of the snapshot being taken (`status`), with back-off and cadence kept
    across snapshots. `clock` (monotonic seconds) and `now` (wall time) are injectable for tests."""

    def __init__(self, explain: Explain, *, backoff_base_s: float = 5.0, max_backoff_s: float = MAX_BACKOFF_S,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], datetime] = _utc_now):
        self.explain = explain
        self.backoff_base_s = backoff_base_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self.now = now
        self.status: dict[str, PartStatus] = {}
        self._backoff: dict[str, Backoff] = {}
        self._slow: dict[str, SlowPart] = {}

    def begin(self) -> None:
        """A new snapshot: no part read yet."""
        self.status = {}

    async def read(self, name: str, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """Run one part under the back-off rules; a failure marks the part and returns None."""
        now = self.clock()
        backoff = self._backoff.get(name)
        if backoff and backoff.retry_at > now:
            self.status[name] = PartStatus(available=False, reason=f"{backoff.reason}; paused until the next retry",
                                           fix=backoff.fix,
                                           retry_at=self.now() + timedelta(seconds=backoff.retry_at - now))
            return None
        try:
            result = await fetch()
        except PartFailed as exc:
            self.fail(name, exc.reason, exc.fix, exc.back_off)
            return None
        except Exception as exc:
            failed = self.explain(name, exc)
            if failed is None:
                raise
            self.fail(name, failed.reason, failed.fix, failed.back_off)
            return None
        self._backoff.pop(name, None)
        self.status.setdefault(name, PartStatus())
        return result

    async def read_every(self, name: str, every_s: float, fetch: Callable[[], Awaitable[T]]) -> T | None:
        """A part read every `every_s` seconds; between readings the last value (and status) is reused."""
        slow = self._slow.setdefault(name, SlowPart())
        if self.clock() < slow.due_at:
            if slow.status is not None:
                self.status[name] = slow.status
            return slow.value
        value = await self.read(name, fetch)
        slow.status = self.status.get(name)
        slow.value = value
        slow.due_at = self.clock() + every_s
        return slow.value

    def postpone(self, name: str, seconds: float) -> None:
        """Read slow part `name` no sooner than `seconds` from now (a costly part after the first screen)."""
        self._slow.setdefault(name, SlowPart()).due_at = self.clock() + seconds

    def fail(self, name: str, reason: str, fix: str | None, back_off: bool = True) -> None:
        reason = redact(reason)  # server error text may quote a statement or a connection string
        previous = self._backoff.get(name)
        failures = previous.failures + 1 if previous else 1
        retry_at = None
        if back_off:
            delay = min(self.max_backoff_s, self.backoff_base_s * 2 ** (failures - 1))
            self._backoff[name] = Backoff(failures, self.clock() + delay, reason, fix)
            retry_at = self.now() + timedelta(seconds=delay)
        self.status[name] = PartStatus(available=False, reason=reason, fix=fix, retry_at=retry_at)


class CostCounter:
    """What one snapshot cost: queries sent, round trips (a statement not yet prepared on the
    connection costs two), wall and client CPU time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, cpu: Callable[[], float] = time.process_time):
        self.clock = clock
        self.cpu = cpu
        self.queries = 0
        self.round_trips = 0
        self.started = clock()
        self.cpu_started = cpu()

    def begin(self) -> None:
        self.queries = self.round_trips = 0
        self.started = self.clock()
        self.cpu_started = self.cpu()

    def count(self, prepared: bool) -> None:
        self.queries += 1
        self.round_trips += 1 if prepared else 2

    def cost(self, finished: float | None = None) -> CollectorCost:
        finished = self.clock() if finished is None else finished
        return CollectorCost(queries=self.queries, round_trips=self.round_trips,
                             wall_ms=(finished - self.started) * 1000,
                             client_cpu_ms=(self.cpu() - self.cpu_started) * 1000)
