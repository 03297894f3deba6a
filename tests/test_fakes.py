"""The fakes themselves: the FakeCollector keeps the collector protocol and replays what it is given,
and the builders make what the engine would."""

from __future__ import annotations

import inspect

import pytest

from dbtop.engines import base
from dbtop.engines.errors import ConnectError
from dbtop.tui.poller import SnapshotPoller

from . import fakes as f
from .fakes import FakeCollector


def protocol_members(protocol: type) -> set[str]:
    names = set(getattr(protocol, "__annotations__", {}))
    names |= {name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")}
    return names


def test_fake_collector_has_every_member_of_the_collector_protocol():
    """When the protocol grows (policy, plan, run), the fake must grow with it."""
    collector = FakeCollector(f.snapshot())
    missing = {name for name in protocol_members(base.Collector) if not hasattr(collector, name)}
    assert missing == set()
    for name, value in vars(base.Collector).items():
        if inspect.iscoroutinefunction(value):
            assert inspect.iscoroutinefunction(getattr(FakeCollector, name)), name


async def test_replays_in_order_numbering_each_poll_then_repeats_the_last():
    first, second = f.snapshot(), f.unreachable()
    collector = FakeCollector([first, second])
    await collector.connect()
    served = [await collector.snapshot() for _ in range(4)]
    assert [s.sequence for s in served] == [1, 2, 3, 4]
    assert [s.reachable for s in served] == [True, False, False, False]
    collector.more(f.healthy())
    fifth = await collector.snapshot()
    assert fifth.reachable and fifth.sequence == 5 and fifth.backups is not None
    await collector.close()
    assert collector.connects == 1 and collector.closed


async def test_more_queues_after_what_is_not_yet_served():
    collector = FakeCollector([f.snapshot(), f.snapshot(connections_used=7)])
    collector.more(f.unreachable())
    served = [await collector.snapshot() for _ in range(3)]
    assert [s.connections_used for s in served[:2]] == [1, 7] and not served[2].reachable


def test_a_refused_connection_reaches_the_poller_as_connect_error():
    poller = SnapshotPoller(FakeCollector(f.snapshot(), connect_error="db1.example:5432: connection refused"), 1.0)
    try:
        with pytest.raises(ConnectError, match="connection refused"):
            poller.connect()
    finally:
        poller.stop()
    assert poller.collector.closed


def test_the_lock_chain_builds_the_tree_the_engine_would():
    snap = f.snapshot(sessions=f.lock_chain(100, 101, 102, wait_s=45))
    (root,) = snap.blocking.roots
    assert (root.pid, root.blocks_direct, root.blocks_total, root.longest_wait_s) == (100, 1, 2, 45)
    assert [n.pid for n in root.tree.blocked] == [101] and [n.pid for n in root.tree.blocked[0].blocked] == [102]
    assert snap.blocking.blocked_count == 2
    held, awaited = f.lock(100, "RowExclusiveLock"), f.lock(101, "ShareLock", granted=False, locktype="transactionid",
                                                            relation=None)
    with_locks = f.snapshot(sessions=f.lock_chain(100, 101), locks=[held, awaited])
    (root,) = with_locks.blocking.roots
    assert root.holds == [held] and root.tree.blocked[0].waiting_for.mode == "ShareLock"


def test_builders_state_only_what_they_are_told_and_keep_the_rest_realistic():
    assert f.server(settings={"ssl": "off"}).settings["password_encryption"] == "scram-sha-256"
    assert f.server(version_num=150004).version == "15.4"
    old = f.backup(age_s=7200)
    assert (f.NOW - old.finished_at).total_seconds() == 7200 and old.verified_at > old.finished_at
    inventory = f.backups(f.backup(age_s=7200), f.backup("older.dump", age_s=90_000), f.backup("x", "unverified", age_s=60))
    assert inventory.recovery_point_age_s == 7200
    assert f.matview(age_s=5 * f.HOUR).stale is True and f.matview(age_s=5 * f.HOUR, source="file_time").stale is None
    moving = f.statements(f.statement(1), f.statement(2), ran={2: f.delta(10, 50.0)})
    assert moving.interval_s == 2.0 and set(moving.deltas) == {moving.entries[1].key}
    assert moving.delta(moving.entries[1]).time_ms_per_s == 25.0


def test_a_built_snapshot_survives_the_json_round_trip_the_snapshot_command_makes():
    snap = f.healthy(sessions=[*f.healthy_sessions(), *f.lock_chain(100, 101)])
    assert type(snap).model_validate_json(snap.model_dump_json()) == snap
