"""The second round's peers' checks against real planted situations on a server of the test's own (it needs
settings the shared one must not have: autovacuum off, prepared transactions, a failing archiver, fsync off).

Thresholds are lowered where the default wants production volumes (a million inserts, a GB of temp
files): the rule's logic and the figures it reads are the real ones."""

from __future__ import annotations

import asyncio

import asyncpg

from dbtop.findings.engine import Thresholds, evaluate

from .test_rules_live import snapshot_of

DB = "second_round"

LOWERED = {
    "maintenance.prepared_xact_max_age_s": 0,
    "settings.io_min_reads": 10,  # this small database's reads come from the OS cache: SSD-class timings
    "backup.archive_ready_max": 1, "backup.archive_ready_age_s": 0,
    "performance.checkpoints_min": 3, "performance.checkpoints_req_share": 0.5,
    "performance.rollback_min_transactions": 100, "performance.rollback_share": 0.1,
    "maintenance.stale_min_rows": 100, "maintenance.stale_mod_fraction": 0.3, "maintenance.stale_min_age_s": 0,
    "maintenance.inserts_unvacuumed_rows": 100, "maintenance.inserts_unvacuumed_fraction": 0.3,
    "indexes.low_scans": 5, "indexes.high_writes": 1_000, "indexes.write_heavy_min_bytes": 0,
    "performance.hot_min_updates": 1_000, "performance.hot_ratio": 0.5,
    "maintenance.table_freeze_factor": 1e-9,  # a limit under one transaction
    "performance.spill_min_bytes": 1024 * 1024, "settings.spill_min_bytes": 1024 * 1024,
    "settings.production_db_bytes": 0,
    "performance.dominant_min_total_ms": 100, "performance.dominant_share": 0.2,
    "availability.slot_keep_share": 0.01,
}


async def _deadlock(connect: dict) -> None:
    """Two sessions each lock a row, then want the other's: the server breaks one with a deadlock error."""
    first, second = await asyncpg.connect(**connect), await asyncpg.connect(**connect)
    try:
        for conn, row in ((first, 1), (second, 2)):
            await conn.execute("BEGIN")
            await conn.execute("UPDATE f3_dead SET v = v + 1 WHERE id = $1", row)
        crossed = await asyncio.gather(first.execute("UPDATE f3_dead SET v = v + 1 WHERE id = 2"),
                                       second.execute("UPDATE f3_dead SET v = v + 1 WHERE id = 1"),
                                       return_exceptions=True)
        assert any(isinstance(r, asyncpg.DeadlockDetectedError) for r in crossed), crossed
    finally:
        await first.close()
        await second.close()


async def _multixact(connect: dict) -> None:
    """Two transactions share a row lock: the row gets a multixact, and every table's mxid_age moves."""
    first, second = await asyncpg.connect(**connect), await asyncpg.connect(**connect)
    try:
        for conn in (first, second):
            await conn.execute("BEGIN")
            await conn.execute("SELECT * FROM f3_dead WHERE id = 1 FOR SHARE")
        for conn in (first, second):
            await conn.execute("COMMIT")
    finally:
        await first.close()
        await second.close()


async def test_the_second_rounds_checks_fire_on_real_plants(start_cluster):
    cluster = start_cluster(settings={"autovacuum": "off", "max_prepared_transactions": "2", "archive_mode": "on",
                                      "archive_command": "'/bin/false'", "deadlock_timeout": "100ms",
                                      "fsync": "off", "full_page_writes": "off", "synchronous_commit": "off",
                                      "max_slot_wal_keep_size": "64MB", "track_io_timing": "on"})
    cluster.psql(f"CREATE DATABASE {DB}")
    connect = cluster.connect_kwargs(database=DB)
    cluster.psql(
        "CREATE EXTENSION pg_stat_statements;"
        # inserted after its last vacuum, modified after its last analyze
        "CREATE TABLE f3_events (id int PRIMARY KEY, v int); INSERT INTO f3_events SELECT g, g FROM generate_series(1, 200) g;"
        "VACUUM ANALYZE f3_events; INSERT INTO f3_events SELECT g, g FROM generate_series(201, 2000) g;"
        # an index written on every update of its column and never scanned; updates that cannot be HOT
        "CREATE TABLE f3_hot (id int PRIMARY KEY, v int); CREATE INDEX f3_hot_v ON f3_hot (v);"
        "INSERT INTO f3_hot SELECT g, g FROM generate_series(1, 2000) g; UPDATE f3_hot SET v = v + 1;"
        "CREATE TABLE f3_dead (id int PRIMARY KEY, v int); INSERT INTO f3_dead VALUES (1, 0), (2, 0);"
        # checkpoints asked for, not timed; a WAL segment the archiver cannot archive
        "CHECKPOINT; CHECKPOINT; CHECKPOINT;"
        # a slot that keeps WAL against max_slot_wal_keep_size, then WAL for it to keep and for the archiver to fail on
        "SELECT pg_create_physical_replication_slot('f3_keeper', true); CREATE TABLE f3_wal AS "
        "SELECT g FROM generate_series(1, 100000) g; SELECT pg_switch_wal();"
        # one statement that takes nearly all the execution time
        "SELECT pg_sleep(0.5);", DB)
    cluster.psql("SET enable_seqscan = off; SELECT * FROM f3_hot WHERE v = 5;", DB)  # read a handful of times
    cluster.psql("SET work_mem = '64kB'; SELECT count(*) FROM (SELECT g FROM generate_series(1, 200000) g "
                 "ORDER BY g DESC) s;", DB)
    cluster.psql("BEGIN; CREATE TABLE f3_prepared (a int); PREPARE TRANSACTION 'f3_orphan';", DB)
    await _deadlock(connect)
    await _multixact(connect)
    conn = await asyncpg.connect(**connect)
    try:
        for _ in range(500):
            await conn.execute("BEGIN; SELECT 1; ROLLBACK")
    finally:
        await conn.close()
    try:
        # the backlog needs the archiver to fail on the switched segment first
        for _ in range(50):
            snap = await snapshot_of(cluster, DB)
            if snap.postgres.catalog.archive_backlog and snap.postgres.catalog.archive_backlog.ready:
                break
            await asyncio.sleep(0.2)
        findings, failures = evaluate(snap, Thresholds(LOWERED))
        assert failures == []
        by_rule = {}
        for finding in findings:
            by_rule.setdefault(finding.rule, []).append(finding)
        for expected in ("maintenance.prepared_xact", "backup.archive_backlog", "performance.checkpoints_requested",
                         "performance.rollback_ratio", "performance.deadlocks", "maintenance.stale_statistics",
                         "maintenance.vacuum_behind_inserts", "indexes.write_heavy", "performance.hot_updates",
                         "maintenance.table_wraparound", "performance.temp_spills", "settings.shared_buffers_default",
                         "settings.work_mem_default", "performance.dominant_statement", "maintenance.mxid_wraparound",
                         "availability.slot_near_wal_limit", "settings.fsync_off", "settings.full_page_writes_off",
                         "settings.synchronous_commit_off", "settings.no_data_checksums",
                         "settings.random_page_cost"):
            assert expected in by_rule, (expected, sorted(by_rule))
        assert "f3_orphan" in by_rule["maintenance.prepared_xact"][0].evidence[0].subject + \
            by_rule["maintenance.prepared_xact"][0].evidence[0].detail
        assert any("f3_events" in e.subject for f in by_rule["maintenance.stale_statistics"] for e in f.evidence) or \
            any("f3_events" in f.id for f in by_rule["maintenance.stale_statistics"])
        assert any("f3_hot_v" in f.id or any("f3_hot_v" in e.subject for e in f.evidence)
                   for f in by_rule["indexes.write_heavy"])
        # the defaults: nothing of it on the same server
        quiet = {f.rule for f in evaluate(snap)[0]}
        assert not quiet & {"maintenance.prepared_xact", "performance.rollback_ratio", "indexes.write_heavy",
                            "maintenance.table_wraparound", "maintenance.mxid_wraparound", "performance.temp_spills",
                            "availability.slot_near_wal_limit", "performance.dominant_statement"}
        # with no max_slot_wal_keep_size, the same slot's WAL is unbounded
        cluster.psql("ALTER SYSTEM SET max_slot_wal_keep_size = -1; SELECT pg_reload_conf();", DB)
        await asyncio.sleep(0.3)
        unbounded = evaluate(await snapshot_of(cluster, DB),
                             Thresholds({**LOWERED, "availability.slot_unbounded_bytes": 1}))[0]
        assert "availability.slot_wal_unbounded" in {f.rule for f in unbounded}
    finally:
        cluster.psql("ROLLBACK PREPARED 'f3_orphan'; SELECT pg_drop_replication_slot('f3_keeper');", DB)
