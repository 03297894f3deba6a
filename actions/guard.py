"""What every engine's runner does around an action, the same way: refuse a plan made for another
target, keep to one action per object at a time (in this process), plan again just before running and
refuse when anything the confirmed plan rests on changed, and build the Outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from datetime import datetime, timezone
from typing import Any

from ..engines.errors import ActionFailed, ActionRefused, ConnectError
from .plan import Outcome, Plan, Precondition, Status


def check_target(plan: Plan, engine: str, label: str) -> None:
    """Raise ActionRefused when `plan` was made for another target than this runner's."""
    if plan.target.engine != engine or plan.target.label != label:
        raise ActionRefused(f"the plan is for {plan.target.label} ({plan.target.engine}), "
                            f"not {label}: plan it again on this target")


class OutcomeOf:
    """Builds the Outcome of one run of `plan`, timed from when it was made."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.started = datetime.now(timezone.utc)

    def __call__(self, status: Status, detail: str, error: str | None = None,
                 preconditions: Sequence[Precondition] = ()) -> Outcome:
        return Outcome(action=self.plan.action, target=self.plan.target, status=status, detail=detail, error=error,
                       preconditions=tuple(preconditions), started_at=self.started,
                       finished_at=datetime.now(timezone.utc))

    def refused_if_changed(self, fresh: Plan) -> Outcome | None:
        """The refusal when `fresh` (planned again just now) differs from the confirmed plan or
        fails a precondition; None when the plan may run as confirmed."""
        changes = self.plan.changes_since(fresh)
        if not changes and fresh.ready:
            return None
        reasons = changes or [f"{p.description}: {p.detail or 'failed'}" for p in fresh.failed]
        return self("refused", "nothing ran: " + "; ".join(reasons), preconditions=fresh.preconditions)


class ObjectsInUse:
    """The objects actions are running on (keys such as (target, database, object)), for a runner class."""

    def __init__(self) -> None:
        self.running: dict[tuple, Plan] = {}

    def busy(self, keys: Sequence[tuple]) -> str | None:
        """Why a plan on `keys` may not start now, or None."""
        for key in keys:
            other = self.running.get(key)
            if other is not None:
                return (f"nothing ran: {other.action} is already running on {key[-1]} (since "
                        f"{other.planned_at:%H:%M:%S}); wait for it to finish")
        return None

    async def one_at_a_time(self, keys: Sequence[tuple], outcome: OutcomeOf,
                            work: Callable[[], Awaitable[Outcome]]) -> Outcome:
        """`work()` with `keys` taken, or the refusal when another action holds one of them."""
        busy = self.busy(keys)
        if busy:
            return outcome("refused", busy)
        with self.taken(keys, outcome.plan):
            return await work()

    @contextlib.contextmanager
    def taken(self, keys: Sequence[tuple], plan: Plan) -> Iterator[None]:
        for key in keys:
            self.running[key] = plan
        try:
            yield
        finally:
            for key in keys:
                self.running.pop(key, None)


def uncancel() -> None:
    """The cancellation was handled (the Outcome says so): the task goes on to return it."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


# await explain(exc, running) -> (detail, error) for a driver error, whether the action had started.
Explain = Callable[[BaseException, bool], Awaitable[tuple[str, "str | None"]]]


async def run_confirmed(outcome: OutcomeOf, session: AsyncContextManager[Any], found: Any, progress: Any, *,
                        errors: tuple[type[BaseException], ...], explain: Explain,
                        on_cancel: Callable[[Any], Awaitable[str]] | None = None,
                        failed_detail: Callable[[ActionFailed], Awaitable[str]] | None = None) -> Outcome:
    """Open the action's session, plan again, refuse if anything changed, else run the action: its
    Outcome. `errors` are the driver's; `on_cancel(session)` stops what runs when the task is cancelled
    mid-action and says what it did (without it, the cancellation propagates); `failed_detail` may say
    more of an action that failed (who held the lock it gave up on)."""
    plan = outcome.plan
    running = False
    try:
        async with session as opened:
            fresh = await found.plan(opened, **plan.params)
            refused = outcome.refused_if_changed(fresh)
            if refused is not None:
                return refused
            running = True
            try:
                detail = await found.run(opened, plan, progress)
            except asyncio.CancelledError:
                if on_cancel is None:
                    raise
                detail = await on_cancel(opened)
                uncancel()
                return outcome("cancelled", detail, preconditions=fresh.preconditions)
            except ActionFailed as failed:
                detail = await failed_detail(failed) if failed_detail is not None else failed.detail
                return outcome("failed", detail, failed.error, preconditions=fresh.preconditions)
            return outcome("done", detail, preconditions=fresh.preconditions)
    except asyncio.CancelledError:
        if running:
            raise
        uncancel()
        return outcome("cancelled", "nothing ran: cancelled before the action started")
    except ConnectError as exc:
        return outcome("failed", "nothing ran: the action's connection could not be opened", str(exc))
    except errors as exc:
        detail, error = await explain(exc, running)
        return outcome("failed", detail, error)
