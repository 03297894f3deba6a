"""Every snapshot rule against a real planted problem, and against the same server without it.

Thresholds are lowered where the default would make a test wait (a minute idle in transaction):
the rule's logic is the same, the plant is real."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import date

import asyncpg
import pytest

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.snapshot import Snapshot
from dbtop.findings.engine import Thresholds, evaluate
from dbtop.findings.model import Finding, Severity
from dbtop.findings.rules.technology import postgres_versions, version_findings
from dbtop.profiles.target import resolve_target

from .conftest import open_lock_chain

DB = "rules_live"


@pytest.fixture(scope="module")
def rules_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql("CREATE EXTENSION pg_stat_statements; CREATE TABLE items (id int PRIMARY KEY, v text); "
            "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 1000) g;", DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


async def snapshot_of(cluster, database: str = DB, user: str | None = None, count: int = 1) -> Snapshot:
    collector = PostgresCollector(resolve_target(cluster.dsn(user=user, database=database)), catalog_first_after_s=0)
    try:
        for _ in range(count):
            snap = await collector.snapshot()
        assert snap.reachable, snap.error
        return snap
    finally:
        await collector.close()


def found(snap: Snapshot, **thresholds: float) -> dict[str, list[Finding]]:
    findings, failures = evaluate(snap, Thresholds({k.replace("__", "."): v for k, v in thresholds.items()}))
    assert not failures, failures
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule, []).append(f)
    return by_rule


async def test_connection_saturation(start_cluster, sessions):
    small = start_cluster(settings={"max_connections": "10", "superuser_reserved_connections": "1"})
    assert "connections.saturation" not in found(await snapshot_of(small, "postgres"))
    for _ in range(8):
        await sessions(cluster=small, app="pool")
    snap = await snapshot_of(small, "postgres")  # 8 + dbtop's own = 9 of 10
    [finding] = found(snap)["connections.saturation"]
    assert finding.severity == Severity.CRITICAL and "9 of 10" in finding.title


async def test_idle_in_transaction_long_transaction_and_long_query(rules_db, sessions):
    before = found(await snapshot_of(rules_db), connections__idle_in_transaction_s=1, connections__long_query_s=1,
                   connections__long_transaction_s=1)
    assert not {"connections.idle_in_transaction", "connections.long_query", "connections.long_transaction"} & set(before)
    idle = await sessions(database=DB, app="forgetful")
    await idle.execute("BEGIN; SELECT 1")
    sleeper = await sessions(database=DB, app="report")
    sleeping = asyncio.ensure_future(sleeper.execute("SELECT pg_sleep(5)"))
    await asyncio.sleep(1.6)
    try:
        snap = await snapshot_of(rules_db)
        rules = found(snap, connections__idle_in_transaction_s=1, connections__long_query_s=1,
                      connections__long_transaction_s=1)
        [idle_finding] = rules["connections.idle_in_transaction"]
        assert f"pid {idle.get_server_pid()}" in [e.subject for e in idle_finding.evidence]
        assert f"pg_terminate_backend({idle.get_server_pid()})" in idle_finding.statement
        [slow] = rules["connections.long_query"]
        assert slow.evidence[0].subject == f"pid {sleeper.get_server_pid()}" and "pg_sleep" in slow.evidence[0].detail
        assert f"pid {idle.get_server_pid()}" in [e.subject for e in rules["connections.long_transaction"][0].evidence]
        # at the defaults (1 min, 60 s, 10 min) none of them is old enough yet
        assert not {"connections.idle_in_transaction", "connections.long_query",
                    "connections.long_transaction"} & set(found(snap))
    finally:
        sleeping.cancel()


async def test_root_blocker(rules_db, sessions):
    chain = await open_lock_chain(sessions, "blocker_probe")
    try:
        await asyncio.sleep(1.2)
        snap = await snapshot_of(rules_db, "postgres")
        [finding] = found(snap, connections__blocking_s=1)["connections.root_blocker"]
        assert finding.id == f"connections.root_blocker:{chain.pid('holder')}"
        assert "blocked 2 session(s)" in finding.title
        assert "connections.root_blocker" not in found(snap)  # not yet 30 s
    finally:
        await chain.release()
    assert "connections.root_blocker" not in found(await snapshot_of(rules_db, "postgres"), connections__blocking_s=0)


async def test_settings_rules_follow_what_the_session_sees(rules_db):
    snap = await snapshot_of(rules_db)
    rules = found(snap)
    assert "connections.no_idle_transaction_timeout" in rules and "monitoring.slow_query_log_off" in rules
    assert "security.ssl_off" in rules and "security.md5_password_encryption" not in rules
    rules_db.psql(f"ALTER DATABASE {DB} SET idle_in_transaction_session_timeout = '5min';"
                  f"ALTER DATABASE {DB} SET log_min_duration_statement = '1s';"
                  f"ALTER DATABASE {DB} SET password_encryption = 'md5'")
    try:
        rules = found(await snapshot_of(rules_db))
        assert "connections.no_idle_transaction_timeout" not in rules and "monitoring.slow_query_log_off" not in rules
        assert rules["security.md5_password_encryption"][0].severity == Severity.MEDIUM
    finally:
        rules_db.psql(f"ALTER DATABASE {DB} RESET ALL")


async def test_ssl_on_is_not_a_finding(start_cluster):
    cluster = start_cluster()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(cluster.data_dir / "server.key"), "-out", str(cluster.data_dir / "server.crt")],
                   check=True, capture_output=True)
    if cluster.run_as:
        subprocess.run(["chown", cluster.run_as, str(cluster.data_dir / "server.key"), str(cluster.data_dir / "server.crt")],
                       check=True)
    (cluster.data_dir / "server.key").chmod(0o600)
    cluster.psql("ALTER SYSTEM SET ssl = on; SELECT pg_reload_conf();")
    await asyncio.sleep(0.5)
    assert "security.ssl_off" not in found(await snapshot_of(cluster, "postgres"))


async def test_autovacuum_off_for_the_server(start_cluster, rules_db):
    cluster = start_cluster(settings={"autovacuum": "off"})
    [finding] = found(await snapshot_of(cluster, "postgres"))["maintenance.autovacuum_off"]
    assert finding.severity == Severity.HIGH
    assert "maintenance.autovacuum_off" not in found(await snapshot_of(rules_db))


async def test_pg_stat_statements_missing(start_cluster, rules_db):
    bare = start_cluster(preload_statements=False)
    [finding] = found(await snapshot_of(bare, "postgres"))["performance.pg_stat_statements_missing"]
    assert "shared_preload_libraries" in finding.evidence[0].detail
    assert "performance.pg_stat_statements_missing" not in found(await snapshot_of(rules_db))


async def test_slow_statements_and_n_plus_one(rules_db, sessions):
    app = await sessions(database=DB, app="orm")
    await app.execute("SELECT pg_stat_statements_reset()")
    for _ in range(6):
        await app.execute("SELECT /* slow_probe */ pg_sleep(0.025)")
    lookup = await app.prepare("SELECT v FROM items WHERE id = $1")
    for n in range(300):
        await lookup.fetch(n % 1000 + 1)
    snap = await snapshot_of(rules_db)
    rules = found(snap, performance__slow_min_calls=5, performance__n_plus_one_min_calls=200)
    slow = [f for f in rules.get("performance.slow_statement", []) if "slow_probe" in f.evidence[0].detail]
    assert slow and "6 calls" in slow[0].title
    [n_plus_one] = [f for f in rules["performance.n_plus_one"] if "FROM items" in f.evidence[0].detail]
    assert "300 times" in n_plus_one.title
    defaults = found(snap)  # 6 calls is not 100; 300 calls is not 10,000
    assert not any("slow_probe" in f.evidence[0].detail for f in defaults.get("performance.slow_statement", []))
    assert "performance.n_plus_one" not in defaults


async def test_cache_hit_ratio(start_cluster):
    tiny = start_cluster(settings={"shared_buffers": "128kB"})
    tiny.psql("CREATE TABLE big AS SELECT g, repeat('x', 500) AS pad FROM generate_series(1, 20000) g;"
              "SELECT count(*) FROM big; SELECT count(*) FROM big;")
    rules = found(await snapshot_of(tiny, "postgres"), performance__cache_min_blocks=1000)
    [finding] = rules["performance.cache_hit_ratio"]
    assert "below 99%" in finding.title


async def test_cache_hit_ratio_absent_when_reads_hit_the_buffers(rules_db):
    rules_db.psql("SELECT count(*) FROM items; SELECT count(*) FROM items; SELECT count(*) FROM items;", DB)
    snap = await snapshot_of(rules_db)
    ratio = snap.postgres.activity.blks_hit / (snap.postgres.activity.blks_hit + snap.postgres.activity.blks_read)
    assert ("performance.cache_hit_ratio" in found(snap, performance__cache_min_blocks=0)) == (ratio < 0.99)


async def test_no_standby_and_inactive_slot(start_cluster, standby, pg):
    alone = start_cluster(settings={"wal_level": "replica"})
    alone.psql("SELECT pg_create_physical_replication_slot('forgotten', true)")
    rules = found(await snapshot_of(alone, "postgres"))
    assert "availability.no_standby" in rules
    [slot] = rules["availability.inactive_slot"]
    assert slot.id == "availability.inactive_slot:forgotten" and "pg_drop_replication_slot('forgotten')" in slot.statement

    async def streaming():
        snap = await snapshot_of(pg, "postgres")
        return snap if snap.replication.standbys else None

    from .conftest import wait_until

    rules = found(await wait_until(streaming, timeout=20))
    assert "availability.no_standby" not in rules and "availability.inactive_slot" not in rules


async def test_application_connecting_as_superuser(rules_db, sessions):
    rules_db.psql("DROP ROLE IF EXISTS app_rw; CREATE ROLE app_rw LOGIN; GRANT SELECT ON items TO app_rw;", DB)
    plain = await sessions(user="app_rw", database=DB, app="billing")
    assert "security.application_superuser" not in found(await snapshot_of(rules_db))
    await sessions(database=DB, app="billing-admin")
    [finding] = found(await snapshot_of(rules_db))["security.application_superuser"]
    assert finding.id == f"security.application_superuser:{rules_db.superuser}"
    assert "billing-admin" in finding.evidence[0].detail and "billing," not in finding.evidence[0].detail
    await plain.close()


async def test_version_rules_on_the_real_server_version(rules_db):
    snap = await snapshot_of(rules_db)
    version_num = snap.server.version_num
    major, minor = divmod(version_num, 10000)
    table = {"as_of": date(2026, 1, 1),
             "versions": {str(major): {"released": date(2020, 1, 1), "eol": date(2025, 1, 1), "newest_minor": minor + 3}}}
    ids = {f.rule: f for f in version_findings(version_num, date(2026, 11, 23), table)}
    assert ids["technology.eol"].severity == Severity.HIGH
    assert ids["technology.minor_behind"].severity == Severity.MEDIUM and f"{major}.{minor + 3}" in ids[
        "technology.minor_behind"].title
    current = {"as_of": date(2026, 1, 1),
               "versions": {str(major): {"released": date(2024, 1, 1), "eol": date(2030, 1, 1), "newest_minor": minor}}}
    assert list(version_findings(version_num, date(2026, 11, 23), current)) == []
    assert str(major) in postgres_versions()["versions"]  # the shipped table knows this server's major
