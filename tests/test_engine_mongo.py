"""The MongoDB collector with the real driver over a real socket, against mockupdb servers answering
like mongod 7.0 (tests/mongo_mock.py); the CLI on such a server; the panels on its snapshots; and
engine packages loaded only when a target of theirs is opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from pydantic import SecretStr

from dbtop.engines.mongo.collector import MongoCollector
from dbtop.findings.engine import evaluate
from dbtop.profiles.target import Target

from .conftest import dbtop_command
from .mongo_mock import HANG, MockMongo, current_op, profile_entry, NOW, unauthorized, users_info

COMMANDS = ["buildInfo", "hostInfo", "serverStatus", "currentOp", "replSetGetStatus", "listDatabases",
            "getCmdLineOpts", "usersInfo"]


@pytest.fixture
def mongo():
    server = MockMongo().start()
    yield server
    server.stop()


def collector_for(server: MockMongo, **options) -> MongoCollector:
    options = {"max_time_ms": 500, "socket_timeout_ms": 1500, "server_selection_timeout_ms": 1500, **options}
    return MongoCollector(Target(engine="mongo", mongo_uri=SecretStr(server.uri)), **options)


async def take(server: MockMongo, **options):
    collector = collector_for(server, **options)
    try:
        return await collector.snapshot()
    finally:
        await collector.close()


async def test_snapshot_from_realistic_replies(mongo):
    snap = await take(mongo)
    assert snap.reachable and snap.engine == "mongo"
    assert snap.server.version == "7.0.12" and snap.server.version_num == 70012
    assert snap.server.replica_set == "rs0" and not snap.server.is_standby
    assert snap.connections_used == 40 and snap.server.max_connections == 800
    assert [s.pid for s in snap.sessions] == [101, 102]  # dbtop's own currentOp left out
    waiting = snap.sessions[1]
    assert waiting.wait_event_type == "Lock" and waiting.state == "active" and snap.query_s(waiting) == 75
    assert '"find": "orders"' in waiting.query
    assert snap.blocking.blocked_count == 1 and snap.blocking.locks[0].relation == "shop.orders"
    assert [(s.application, s.replay_lag_s, s.sync_source) for s in snap.replication.standbys] == [
        ("db2:27017", 3.0, "db1:27017"), ("db3:27017", 1.0, "db1:27017")]
    m = snap.mongo
    assert m.voting_members == 3 and m.oplog.window_s == 48 * 3600
    assert m.cache.used_fraction == pytest.approx(3 / 8) and m.global_lock.queue_total == 0
    assert m.resident_mb == 2000 and m.host_memory_mb == 16000 and m.disk_used_fraction == pytest.approx(0.4)
    assert m.cmdline.authorization and m.cmdline.tls_mode == "requireTLS"
    assert {u.user for u in m.users} == {"admin", "monitor", "app"}
    # Without the profiler, the long-running operations are the slow ones.
    assert snap.statements.extension_version == "currentOp"
    assert [(e.key, e.plan_summary, e.rows) for e in snap.statements.entries] == [
        ("op:101", "COLLSCAN", None), ("op:102", "IXSCAN { status: 1 }", None)]  # rows: not counted, not 0
    assert all(p.available for p in snap.parts.values())
    assert snap.mongo.opcounters.per_s is None  # one reading: no rate yet


async def test_profiler_entries_give_per_interval_deltas_and_mark_collscan(mongo):
    mongo.profile["shop"] = [profile_entry("shop.orders", 250, "COLLSCAN", NOW)]
    collector = collector_for(mongo)
    try:
        first = await collector.snapshot()
        mongo.profile["shop"].append(profile_entry("shop.orders", 150, "COLLSCAN", NOW.replace(year=NOW.year + 1)))
        second = await collector.snapshot()
    finally:
        await collector.close()
    assert first.statements.extension_version == "profiler" and first.statements.interval_s is None
    entry = second.statements.entries[0]
    assert entry.calls == 2 and entry.total_time_ms == 400 and entry.collection_scan
    assert second.statements.delta(entry).calls == 1  # only the new entry ran in the interval
    assert second.mongo.opcounters.per_s is not None
    findings, _ = evaluate(second)
    assert "mongo.collection_scans" in {f.id for f in findings}


async def test_replies_missing_optional_fields(mongo):
    mongo.replies["serverStatus"] = {"host": "db1", "version": "7.0.12", "uptime": 5.0, "ok": 1.0}
    mongo.replies["currentOp"] = {"inprog": [{"type": "op", "opid": 7, "active": True, "op": "none", "ns": ""}],
                                  "ok": 1.0}
    mongo.replies["replSetGetStatus"] = {"set": "rs0", "myState": 1, "members": [
        {"_id": 0, "name": "db1:27017", "state": 1, "stateStr": "PRIMARY", "self": True}], "ok": 1.0}
    mongo.replies["getCmdLineOpts"] = {"argv": ["mongod"], "parsed": {}, "ok": 1.0}
    snap = await take(mongo)
    assert snap.reachable and snap.connections_used is None and snap.server.max_connections is None
    assert snap.mongo.cache is None and snap.mongo.resident_mb is None and snap.mongo.voting_members is None
    assert snap.sessions[0].backend_type == "background worker" and snap.sessions[0].user is None
    assert snap.replication.standbys == []
    assert snap.mongo.cmdline.authorization is False and snap.mongo.cmdline.tls_mode == "disabled"
    findings, failures = evaluate(snap)
    assert failures == []


@pytest.mark.parametrize("command", COMMANDS)
async def test_an_authorization_error_costs_only_its_part(mongo, command):
    mongo.replies[command] = unauthorized(command)
    snap = await take(mongo)
    assert snap.reachable
    failed = {name: part for name, part in snap.parts.items() if not part.available}
    assert len(failed) == 1, failed
    (name, part), = failed.items()
    assert f"not authorized on admin to execute command {{ {command}: 1 }}" in part.reason
    assert "needs " in part.reason and part.fix.startswith("grant the monitoring user")
    assert part.retry_at is not None  # backed off


async def test_a_command_that_never_answers_is_marked_within_the_timeout(mongo):
    mongo.replies["currentOp"] = HANG
    started = time.monotonic()
    snap = await take(mongo, socket_timeout_ms=800)
    assert time.monotonic() - started < 5
    assert snap.reachable and not snap.part("sessions").available
    assert "currentOp: no answer within 0.8 s" in snap.part("sessions").reason
    assert snap.connections_used == 40  # the rest still arrived


async def test_a_secondary_reports_its_own_lag_and_sync_source(mongo):
    from .mongo_mock import repl_status
    mongo.primary = False
    mongo.replies["replSetGetStatus"] = repl_status(lag_s=15, my_state=2)
    snap = await take(mongo)
    assert snap.server.is_standby and snap.replication.role == "standby"
    assert snap.replication.receiver.replay_lag_s == 15 and snap.replication.receiver.sender == "db1:27017"
    assert "mongo.replication_lag" in {f.id for f in evaluate(snap)[0]}


async def test_standalone_and_privileged_application_user(mongo):
    mongo.set_name = None
    mongo.replies["usersInfo"] = users_info([("app", "shop", ["dbOwner"])])
    snap = await take(mongo)
    ids = {f.id for f in evaluate(snap)[0]}
    assert {"mongo.not_replica_set", "mongo.privileged_users", "mongo.long_operations"} <= ids
    assert snap.mongo.oplog is None and "not a replica set" in snap.part("replication").reason


async def test_unreachable_server_is_a_snapshot_not_an_exception():
    server = MockMongo().start()
    port = server.port
    server.stop()
    collector = MongoCollector(Target(engine="mongo", mongo_uri=SecretStr(f"mongodb://127.0.0.1:{port}")),
                               server_selection_timeout_ms=500)
    snap = await collector.snapshot()
    assert not snap.reachable and snap.engine == "mongo" and "127.0.0.1" in snap.error


async def test_an_unknown_action_is_refused(mongo):
    from dbtop.engines.errors import UnknownAction
    with pytest.raises(UnknownAction):
        await collector_for(mongo).plan("kill_operation", pid=1)


def dbtop(*args, timeout=60):
    return subprocess.run([*dbtop_command(), *args], capture_output=True, text=True, timeout=timeout)


def test_snapshot_json_and_audit_on_a_mongodb_target(mongo, tmp_path):
    result = dbtop("snapshot", mongo.uri, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.splitlines()[0])
    assert data["engine"] == "mongo" and data["server"]["replica_set"] == "rs0"
    assert data["mongo"]["voting_members"] == 3 and "postgres" not in data and "activity" not in data
    audit = dbtop("audit", mongo.uri)
    assert audit.returncode == 0, audit.stderr
    assert "| Engine | MongoDB 7.0.12 (replica set rs0) |" in audit.stdout
    assert "pg_stat_statements" not in audit.stdout and "PostgreSQL" not in audit.stdout
    assert "No verified backup" in audit.stdout and "operation(s) waiting for a lock" in audit.stdout
    assert "[x] Authorization is enabled" in audit.stdout  # MongoDB's checklist, not PostgreSQL's


def test_engine_packages_load_only_for_their_targets():
    code = """
import sys
import dbtop.tui.app, dbtop.tui.cli
loaded = lambda name: any(m == name or m.startswith(name + '.') for m in sys.modules)
assert not loaded('dbtop.engines.mongo') and not loaded('pymongo'), 'mongo loaded at start'
assert not loaded('dbtop.engines.postgres'), 'postgres loaded at start'
from dbtop.engines.registry import collector_for
from dbtop.profiles.target import Target
collector_for(Target(engine='mongo', mongo_uri='mongodb://127.0.0.1:1'))
assert loaded('dbtop.engines.mongo') and not loaded('dbtop.engines.postgres') and not loaded('asyncpg')
collector_for(Target(hosts=['127.0.0.1'], user='x', database='x'))
assert loaded('dbtop.engines.postgres')
print('ok')
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
