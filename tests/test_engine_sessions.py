"""Sessions, durations and database-wide rates, from situations created for real."""

import asyncio
import json
import re

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import record_fetches, wait_until


async def test_idle_in_transaction_session_shows_state_and_durations(collector, sessions):
    conn = await sessions(app="billing-worker")
    await conn.execute("BEGIN; SELECT 1")
    pid = conn.get_server_pid()
    await asyncio.sleep(0.3)

    snap = await collector.snapshot()

    session = next(s for s in snap.sessions if s.pid == pid)
    assert session.state == "idle in transaction"
    assert session.application == "billing-worker"
    assert session.user == "postgres" and session.database == "postgres"
    assert session.client == "local"
    assert snap.xact_s(session) >= 0.3 and snap.state_s(session) >= 0.3
    assert session.backend_type == "client backend"


async def test_slow_query_is_active_with_its_text_and_running_time(collector, sessions):
    conn = await sessions(app="reporting")
    pid = conn.get_server_pid()
    slow = asyncio.ensure_future(conn.execute("SELECT pg_sleep(3) /* nightly report */"))
    try:
        await asyncio.sleep(0.5)
        snap = await collector.snapshot()
        session = next(s for s in snap.sessions if s.pid == pid)
        assert session.state == "active"
        assert "nightly report" in session.query
        assert snap.query_s(session) >= 0.4
        assert session.query_id is not None
    finally:
        slow.cancel()
        conn.terminate()


async def test_own_monitoring_session_is_excluded_but_counted(collector, sessions):
    other = await sessions(app="dbtop")  # another dbtop instance is a session like any other
    snap = await collector.snapshot()
    pids = {s.pid for s in snap.sessions}
    assert collector._conn.get_server_pid() not in pids
    assert other.get_server_pid() in pids
    clients = [s for s in snap.sessions if s.backend_type == "client backend"]
    assert snap.connections_used == len(clients) + 1


async def test_only_changed_backends_come_back_and_the_others_are_carried_over(collector, sessions):
    """The collector sends the signatures of the backends it holds; the server returns only the
    backends that are new or changed (and the signatures it no longer has). A session that changed
    shows its new state; an idle one is the very same session, its durations moved on by the server's
    clock; one that ended is gone."""
    quiet = await sessions(app="carry-quiet")
    busy = await sessions(app="carry-busy")
    await quiet.execute("SELECT 1")
    returned = record_fetches(collector, "pg_stat_activity")
    first = await collector.snapshot()
    by_pid = {s.pid: s for s in first.sessions}
    before = by_pid[quiet.get_server_pid()]
    assert before.state == "idle" and by_pid[busy.get_server_pid()].state == "idle"
    await busy.execute("BEGIN; SELECT 1 /* carry probe */")
    await asyncio.sleep(0.2)
    second = await collector.snapshot()
    by_pid = {s.pid: s for s in second.sessions}
    changed = by_pid[busy.get_server_pid()]
    assert changed.state == "idle in transaction" and "carry probe" in changed.query
    assert second.xact_s(changed) is not None
    carried = by_pid[quiet.get_server_pid()]
    assert carried is before
    assert second.state_s(carried) >= first.state_s(before) + 0.2
    assert second.query_s(carried) >= first.query_s(before) + 0.2
    moved = json.loads(second.model_dump_json())["sessions"]
    assert next(s["state_s"] for s in moved if s["pid"] == carried.pid) == second.state_s(carried)
    pids = {r["pid"] for r in returned[-1]}
    assert busy.get_server_pid() in pids and quiet.get_server_pid() not in pids
    assert len(returned[-1]) < len(second.sessions)  # not every backend again
    assert second.connections_used == first.connections_used

    quiet_pid = quiet.get_server_pid()
    await quiet.close()
    third = await wait_until(lambda: _without(collector, quiet_pid))
    assert busy.get_server_pid() in {s.pid for s in third.sessions}
    assert third.connections_used == first.connections_used - 1


async def _without(collector, pid):
    snap = await collector.snapshot()
    return snap if pid not in {s.pid for s in snap.sessions} else None


async def test_transaction_rate_and_cache_hit_ratio_appear_from_second_snapshot(pg_target, sessions):
    col = PostgresCollector(pg_target)
    await col.connect()
    try:
        first = await col.snapshot()
        assert first.postgres.activity.transactions_per_s is None
        conn = await sessions()
        await conn.execute("CREATE TABLE IF NOT EXISTS rate_probe (id int)")
        for _ in range(50):
            await conn.execute("INSERT INTO rate_probe VALUES (1)")
        # backends flush their counters when idle, at most once a second unless told to
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await asyncio.sleep(0.3)
        second = await col.snapshot()
        assert second.postgres.activity.interval_s > 0.2
        assert second.postgres.activity.transactions_per_s >= 50 / second.postgres.activity.interval_s * 0.9
        assert 0 < second.postgres.activity.cache_hit_ratio <= 1
        assert second.postgres.activity.tuples_written_per_s > 0
        assert second.interval_s > 0.2
    finally:
        await col.close()


async def test_counters_and_sessions_come_in_one_statement_and_a_role_change_is_seen(collector):
    """pg_stat_database's counters and pg_is_in_recovery() ride on the sessions' statement (one round
    trip fewer per poll); a server whose role differs from the facts read has its facts read again."""
    await collector.snapshot()
    counters = record_fetches(collector, "pg_stat_database")
    facts = record_fetches(collector, "pg_is_in_recovery() AS is_standby")
    collector._facts["is_standby"] = True  # as if it had been a standby when the facts were read
    snap = await collector.snapshot()
    [rows] = counters
    assert rows[0]["xact_commit"] is not None and any(r["pid"] for r in rows)  # the sessions' statement
    assert snap.server.is_standby is False and len(facts) == 1  # read again at once, not a minute later
    assert snap.postgres.activity.xact_commit > 0 and snap.part("activity").available
    assert snap.sessions and snap.part("sessions").available


async def test_server_facts(collector, pg):
    snap = await collector.snapshot()
    server = snap.server
    assert server.version_num >= 120000
    assert server.max_connections == 200
    assert server.reserved_connections >= 3
    assert not server.is_standby
    assert server.uptime_s > 0
    assert server.database_size_estimate_bytes > 0
    assert server.settings["shared_preload_libraries"] == "pg_stat_statements"
    # dbtop's own session timeouts must not be reported as the server's
    assert server.settings["statement_timeout"] == "0"
    assert server.settings["lock_timeout"] == "0"
    assert snap.replication.role == "primary"


async def test_role_level_timeout_is_reported_not_dbtops_own(pg, sessions):
    pg.psql("DROP ROLE IF EXISTS app_with_timeout; CREATE ROLE app_with_timeout LOGIN;"
            "ALTER ROLE app_with_timeout SET statement_timeout = '30s'; GRANT pg_monitor TO app_with_timeout")
    col = PostgresCollector(resolve_target(pg.dsn(user="app_with_timeout")))
    await col.connect()
    try:
        snap = await col.snapshot()
        assert snap.server.settings["statement_timeout"] == "30000ms"
        assert await col._conn.fetchval("SHOW statement_timeout") == "2s"
    finally:
        await col.close()


async def test_monitoring_session_is_read_only_with_timeouts(collector):
    conn = collector._conn
    assert await conn.fetchval("SHOW statement_timeout") == "2s"
    assert await conn.fetchval("SHOW lock_timeout") == "500ms"
    assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
    assert await conn.fetchval("SHOW application_name") == "dbtop"




async def test_the_signatures_held_go_to_the_server_as_one_array_literal(collector, sessions):
    """The signatures the collector holds (a thousand backends, thousands of statements) are sent as
    one text array literal made of texts kept per signature: asyncpg encodes an int8[] element by
    element, which cost more client time than anything else a steady poll sends. Both reads still
    send every signature they hold."""
    await sessions(app="signatures-literal")
    held = []
    fetch = collector._fetch

    async def recording(query, *args):
        if "AS gone" in query:
            what = "sessions" if "pg_stat_activity" in query else "statements"
            signed = collector._backend_signed if what == "sessions" else collector._statements._signed
            held.append((what, sorted(signed), args))
        return await fetch(query, *args)

    collector._fetch = recording
    await collector.snapshot()
    await collector.snapshot()
    sent = {what: (signatures, args) for what, signatures, args in held[-2:]}
    assert set(sent) == {"sessions", "statements"}
    for signatures, (literal,) in sent.values():
        assert signatures and isinstance(literal, str) and re.fullmatch(r"\{-?\d+(,-?\d+)*\}", literal)
        assert sorted(int(v) for v in literal[1:-1].split(",")) == signatures
