"""engines/parts.py without a server: back-off, cadence of slow parts, the engine's error reading,
and the cost counters, on an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dbtop.engines.parts import CostCounter, PartFailed, Parts

EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t)


def explain_nothing(name: str, exc: BaseException) -> PartFailed | None:
    return None


def parts_on(clock: Clock, explain=explain_nothing, **options) -> Parts:
    return Parts(explain, clock=clock, now=clock.wall, **options)


def fetcher(*results):
    """An async fetch that returns (or raises) the given results in turn, counting its calls."""
    calls = []

    async def fetch():
        result = results[min(len(calls), len(results) - 1)]
        calls.append(result)
        if isinstance(result, BaseException):
            raise result
        return result

    return fetch, calls


async def test_a_part_that_answers_is_available():
    parts = parts_on(Clock())
    fetch, _ = fetcher(42)
    assert await parts.read("sessions", fetch) == 42
    assert parts.status["sessions"].available and parts.status["sessions"].reason is None


async def test_failures_back_off_doubling_up_to_the_cap_and_a_success_clears_it():
    clock = Clock()
    parts = parts_on(clock, backoff_base_s=5, max_backoff_s=30)
    fetch, calls = fetcher(PartFailed("too slow", "wait"))
    delays = []
    for _ in range(5):
        assert await parts.read("statements", fetch) is None
        status = parts.status["statements"]
        assert not status.available and status.reason == "too slow" and status.fix == "wait"
        delays.append((status.retry_at - clock.wall()).total_seconds())
        clock.t += delays[-1]  # exactly when the retry is due
    assert delays == [5, 10, 20, 30, 30]
    assert len(calls) == 5

    # While backed off, the part is not asked and says it is paused.
    clock.t -= 1
    parts.begin()
    assert await parts.read("statements", fetch) is None
    assert len(calls) == 5
    assert parts.status["statements"].reason == "too slow; paused until the next retry"
    assert (parts.status["statements"].retry_at - clock.wall()).total_seconds() == pytest.approx(1)

    clock.t += 1
    ok, _ = fetcher("rows")
    assert await parts.read("statements", ok) == "rows"
    clock.t += 0.1
    bad, _ = fetcher(PartFailed("too slow"))
    await parts.read("statements", bad)
    assert (parts.status["statements"].retry_at - clock.wall()).total_seconds() == 5  # counting from one again


async def test_a_failure_without_back_off_is_retried_at_the_next_poll():
    clock = Clock()
    parts = parts_on(clock)
    fetch, calls = fetcher(PartFailed("extension missing", "CREATE EXTENSION …", back_off=False))
    await parts.read("statements", fetch)
    assert parts.status["statements"].retry_at is None
    parts.begin()
    await parts.read("statements", fetch)
    assert len(calls) == 2


async def test_the_engine_explains_its_driver_errors_and_lets_the_others_through():
    class DriverTimeout(Exception):
        pass

    def explain(name: str, exc: BaseException) -> PartFailed | None:
        if isinstance(exc, DriverTimeout):
            return PartFailed(f"{name} timed out", "retry later")
        return None

    parts = parts_on(Clock(), explain)
    fetch, _ = fetcher(DriverTimeout())
    assert await parts.read("locks", fetch) is None
    assert parts.status["locks"].reason == "locks timed out" and parts.status["locks"].fix == "retry later"

    lost, _ = fetcher(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        await parts.read("sessions", lost)
    assert "sessions" not in parts.status


async def test_a_slow_part_is_read_every_n_seconds_and_reused_between():
    clock = Clock()
    parts = parts_on(clock)
    fetch, calls = fetcher("first", "second")
    assert await parts.read_every("views", 30, fetch) == "first"
    clock.t += 29
    parts.begin()
    assert await parts.read_every("views", 30, fetch) == "first"
    assert parts.status["views"].available  # the status is carried into the snapshots between
    assert len(calls) == 1
    clock.t += 1
    assert await parts.read_every("views", 30, fetch) == "second"


async def test_a_slow_part_that_fails_carries_its_failure_until_the_next_reading():
    clock = Clock()
    parts = parts_on(clock)
    fetch, calls = fetcher(PartFailed("no directory", back_off=False), "inventory")
    assert await parts.read_every("backups", 60, fetch) is None
    clock.t += 10
    parts.begin()
    assert await parts.read_every("backups", 60, fetch) is None
    assert parts.status["backups"].reason == "no directory"
    clock.t += 50
    assert await parts.read_every("backups", 60, fetch) == "inventory"
    assert len(calls) == 2


async def test_a_postponed_part_is_not_read_before_its_time():
    clock = Clock()
    parts = parts_on(clock)
    parts.postpone("catalog", 10)
    fetch, calls = fetcher("catalog")
    assert await parts.read_every("catalog", 300, fetch) is None
    assert "catalog" not in parts.status and not calls
    clock.t += 10
    assert await parts.read_every("catalog", 300, fetch) == "catalog"


def test_cost_counts_queries_round_trips_and_time():
    clock, cpu = Clock(), Clock()
    cost = CostCounter(clock=clock, cpu=cpu)
    cost.count(prepared=False)
    cost.begin()
    cost.count(prepared=False)
    cost.count(prepared=True)
    clock.t += 0.25
    cpu.t += 0.004
    figures = cost.cost()
    assert (figures.queries, figures.round_trips) == (2, 3)
    assert figures.wall_ms == pytest.approx(250) and figures.client_cpu_ms == pytest.approx(4)


def test_part_failed_explained_is_one_line_with_the_fix():
    assert PartFailed("timed out", "retry").explained == "timed out; retry"
    assert PartFailed("timed out").explained == "timed out"


async def test_a_failure_reason_is_redacted_where_the_part_is_marked():
    # Server error text may quote the statement that failed, password and all.
    parts = parts_on(Clock())
    fetch, _ = fetcher(PartFailed("syntax error in ALTER ROLE app PASSWORD 'S3cret!' VALID", "fix it"))
    await parts.read("statements", fetch)
    assert "S3cret" not in parts.status["statements"].reason
    parts.begin()
    await parts.read("statements", fetch)  # and in the paused status that repeats it
    assert "S3cret" not in parts.status["statements"].reason
