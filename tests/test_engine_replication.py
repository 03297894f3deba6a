"""Replication seen from a real primary and a real streaming standby."""

import asyncio

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.findings.engine import Thresholds, evaluate
from dbtop.profiles.target import resolve_target

from .conftest import wait_until


def rule_ids(snap) -> set[str]:
    findings, failures = evaluate(snap, Thresholds({"availability.lag_s": 0.9}))
    assert not failures
    return {f.rule for f in findings}


async def test_primary_shows_standby_with_lag_and_slot(pg, standby, collector):
    async def streaming():
        snap = await collector.snapshot()
        standbys = snap.replication.standbys
        # until the standby's first feedback message its write/flush/replay positions are unknown
        return snap if standbys and standbys[0].state == "streaming" and standbys[0].replay_lsn else None

    snap = await wait_until(streaming, timeout=20)
    rep = snap.replication
    assert rep.role == "primary"
    [sb] = rep.standbys
    assert sb.client == "local"
    assert sb.replay_lag_bytes is not None and sb.replay_lag_bytes >= 0
    slot = next(s for s in snap.postgres.slots if s.name == "standby1")
    assert slot.active and slot.slot_type == "physical"
    assert slot.retained_wal_bytes is not None and slot.retained_wal_bytes >= 0


async def test_standby_reports_replay_lag_when_replay_is_paused(pg, standby, sessions):
    col = PostgresCollector(resolve_target(standby.dsn()))
    await col.connect()
    standby_conn = await sessions(cluster=standby)
    primary = await sessions()
    try:
        snap = await col.snapshot()
        assert snap.server.is_standby
        assert snap.replication.role == "standby"
        assert snap.replication.receiver.status == "streaming"

        await primary.execute("CREATE TABLE IF NOT EXISTS lag_probe (id int)")

        async def replayed_a_commit():
            s = await col.snapshot()
            r = s.replication.receiver
            return s if r.last_replayed_xact_at and r.replay_lag_bytes == 0 else None

        # lag in seconds is measured from the last replayed commit: a fresh standby has none yet
        caught_up_snap = await wait_until(replayed_a_commit, timeout=10)
        assert "availability.replication_lag" not in rule_ids(caught_up_snap)
        await standby_conn.execute("SELECT pg_wal_replay_pause()")
        await asyncio.sleep(0.5)
        await primary.execute("INSERT INTO lag_probe VALUES (1)")
        await asyncio.sleep(1.5)

        async def lagging():
            s = await col.snapshot()
            r = s.replication.receiver
            return s if r.replay_paused and (r.replay_lag_bytes or 0) > 0 else None

        snap = await wait_until(lagging, timeout=10)
        receiver = snap.replication.receiver
        assert receiver.replay_lag_s >= 1.0
        assert receiver.received_lsn != receiver.replayed_lsn
        assert "availability.replication_lag" in rule_ids(snap)
    finally:
        await standby_conn.execute("SELECT pg_wal_replay_resume()")
        await col.close()

    col = PostgresCollector(resolve_target(standby.dsn()))
    await col.connect()
    try:
        async def caught_up():
            s = await col.snapshot()
            return s if s.replication.receiver.replay_lag_bytes == 0 else None

        snap = await wait_until(caught_up, timeout=10)
        assert snap.replication.receiver.replay_lag_s == 0
    finally:
        await col.close()
