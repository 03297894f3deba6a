"""The catalog rules against problems planted on the real server, each also checked where the problem
is absent; the catalog reader's gaps, cap and lock behaviour."""

from __future__ import annotations

import asyncio
import subprocess
import time

import asyncpg
import pytest

from dbtop.engines.postgres.catalog import read_catalog
from dbtop.engines.postgres.cluster import ClusterError
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.snapshot import Snapshot
from dbtop.findings.engine import Thresholds, evaluate
from dbtop.findings.model import Severity
from dbtop.panels.findings import FindingsPanel
from dbtop.profiles.target import resolve_target

DB = "rules_catalog"

PLANTS = """
CREATE TABLE dup_t (a int, b int, c int);
CREATE INDEX dup_t_a_b_idx ON dup_t (a, b);
CREATE INDEX dup_t_a_b_again ON dup_t (a, b);
CREATE INDEX dup_t_a_idx ON dup_t (a);
CREATE TABLE distinct_t (id int PRIMARY KEY, a int, b int, c int);
CREATE INDEX distinct_t_a_idx ON distinct_t (a);
CREATE INDEX distinct_t_b_idx ON distinct_t (b);
CREATE UNIQUE INDEX distinct_t_c_key ON distinct_t (c);
CREATE INDEX distinct_t_c_a_idx ON distinct_t (c, a);

CREATE TABLE big_unused (id int PRIMARY KEY, k int);
INSERT INTO big_unused SELECT g, g * 7 FROM generate_series(1, 500000) g;
CREATE INDEX big_unused_k_idx ON big_unused (k);
CREATE TABLE big_used (id int PRIMARY KEY, k int);
INSERT INTO big_used SELECT g, g * 7 FROM generate_series(1, 500000) g;
CREATE INDEX big_used_k_idx ON big_used (k);

CREATE TABLE wide (id int PRIMARY KEY, c1 int, c2 int, c3 int, c4 int, c5 int, c6 int, c7 int, c8 int, c9 int, c10 int);
CREATE INDEX ON wide (c1); CREATE INDEX ON wide (c2); CREATE INDEX ON wide (c3); CREATE INDEX ON wide (c4);
CREATE INDEX ON wide (c5); CREATE INDEX ON wide (c6); CREATE INDEX ON wide (c7); CREATE INDEX ON wide (c8);
CREATE INDEX ON wide (c9); CREATE INDEX ON wide (c10);

CREATE TABLE parents (id int PRIMARY KEY);
INSERT INTO parents SELECT generate_series(1, 2000);
CREATE TABLE children_unindexed (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE);
INSERT INTO children_unindexed SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE children_restrict (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE RESTRICT);
CREATE INDEX ON children_restrict (parent_id);
CREATE TABLE owners (id int PRIMARY KEY);
CREATE TABLE owned_a (id int PRIMARY KEY, owner_id int REFERENCES owners ON DELETE CASCADE);
CREATE INDEX ON owned_a (owner_id);
CREATE TABLE owned_b (id int PRIMARY KEY, owner_id int REFERENCES owners ON DELETE CASCADE);
CREATE INDEX ON owned_b (owner_id);

CREATE TABLE scanned (id int PRIMARY KEY, v int);
INSERT INTO scanned SELECT g, g FROM generate_series(1, 2000) g;

CREATE TABLE bloated (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
INSERT INTO bloated SELECT g, 0 FROM generate_series(1, 20000) g;
UPDATE bloated SET v = 1;

CREATE TABLE swollen (id int PRIMARY KEY, payload text);
INSERT INTO swollen SELECT g, repeat('x', 60) FROM generate_series(1, 120000) g;
DELETE FROM swollen WHERE id % 20 <> 0;
VACUUM swollen;

CREATE SEQUENCE nearly_done AS smallint;
SELECT setval('nearly_done', 30000);
CREATE SEQUENCE fresh_seq AS smallint;
CREATE SEQUENCE big_counter;
SELECT setval('big_counter', 5000000);

CREATE TABLE no_pk (a int, b text);
INSERT INTO no_pk VALUES (1, 'x');
CREATE TABLE checked (id int PRIMARY KEY, a int);
ALTER TABLE checked ADD CONSTRAINT checked_a_positive CHECK (a > 0) NOT VALID;
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TABLE audited (id int PRIMARY KEY);
CREATE TRIGGER audited_touch BEFORE UPDATE ON audited FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE audited DISABLE TRIGGER audited_touch;
CREATE TABLE triggered (id int PRIMARY KEY);
CREATE TRIGGER triggered_touch BEFORE UPDATE ON triggered FOR EACH ROW EXECUTE FUNCTION touch();

CREATE SCHEMA "odd.schema";
CREATE TABLE "odd.schema"."T" (id int PRIMARY KEY, a int);
ALTER TABLE "odd.schema"."T" ADD CONSTRAINT "Pos" CHECK (a > 0) NOT VALID;

CREATE TABLE invalid_src (a int);
INSERT INTO invalid_src VALUES (1), (1);
"""


@pytest.fixture(scope="module")
def catalog_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql(PLANTS, DB)
    with pytest.raises(ClusterError):  # fails on the duplicate and leaves an INVALID index behind
        pg.psql("CREATE UNIQUE INDEX CONCURRENTLY invalid_src_a_key ON invalid_src (a)", DB)
    # Statistics: everything analyzed but the table planted as never analyzed; reads that make
    # big_used's index used and `scanned` sequentially scanned (each psql flushes its counters at exit).
    pg.psql("ANALYZE", DB)
    # (its index sets relpages and reltuples, as ANALYZE would, but leaves no column statistics)
    pg.psql("CREATE TABLE never_analyzed (id int); INSERT INTO never_analyzed VALUES (1), (2);"
            "CREATE INDEX ON never_analyzed (id);", DB)
    pg.psql("SET enable_seqscan = off; SELECT count(*) FROM big_used WHERE k = 35;", DB)
    for _ in range(6):
        pg.psql("SELECT count(*) FROM scanned;", DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


async def catalog_snapshot(cluster, database: str = DB, user: str | None = None, **options) -> Snapshot:
    collector = PostgresCollector(resolve_target(cluster.dsn(user=user, database=database)),
                                  catalog_first_after_s=0, **options)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    assert snap.reachable, snap.error
    return snap


@pytest.fixture(scope="module")
async def snap(catalog_db) -> Snapshot:
    return await catalog_snapshot(catalog_db)


def ids(snapshot: Snapshot, **thresholds: float) -> dict[str, object]:
    findings, failures = evaluate(snapshot, Thresholds({k.replace("__", "."): v for k, v in thresholds.items()}))
    assert not failures, failures
    return {f.id: f for f in findings}


def test_duplicate_and_redundant_indexes(snap):
    found = ids(snap)
    duplicate = [i for i in found if i.startswith("indexes.duplicate:public.dup_t")]
    assert len(duplicate) == 1 and found[duplicate[0]].severity == Severity.HIGH
    assert found[duplicate[0]].statement.startswith("DROP INDEX CONCURRENTLY public.dup_t_a_b")
    assert found["indexes.redundant:public.dup_t_a_idx"].severity == Severity.MEDIUM
    # different columns; a unique (c) is never redundant with (c, a)
    assert not [i for i in found if i.startswith("indexes.") and "distinct_t" in i]


def test_unused_index_at_the_default_10_mb(snap):
    found = ids(snap)
    unused = found["indexes.unused:public.big_unused_k_idx"]
    assert "MB" in unused.title and unused.statement == "DROP INDEX CONCURRENTLY public.big_unused_k_idx;"
    assert "indexes.unused:public.big_used_k_idx" not in found  # scanned once
    assert "indexes.unused:public.big_unused_pkey" not in found  # backs a constraint


def test_invalid_index(snap):
    found = ids(snap)
    assert found["indexes.invalid:public.invalid_src_a_key"].severity == Severity.HIGH
    assert not [i for i in found if i.startswith("indexes.invalid:") and "invalid_src" not in i]


def test_over_indexed_table(snap):
    found = ids(snap)
    assert "indexes.too_many:public.wide" in found  # 11 with the primary key
    assert "indexes.too_many:public.distinct_t" not in found


def test_foreign_key_without_index_and_mixed_on_delete(snap):
    found = ids(snap)
    fk = found["performance.fk_without_index:public.children_unindexed.children_unindexed_parent_id_fkey"]
    assert fk.statement == "CREATE INDEX CONCURRENTLY ON public.children_unindexed (parent_id);"
    assert not [i for i in found if i.startswith("performance.fk_without_index:public.children_restrict")]
    mixed = found["schema.mixed_on_delete:public.parents"]
    rules = {e.subject: e.detail for e in mixed.evidence}
    assert rules == {"public.children_unindexed.children_unindexed_parent_id_fkey": "(parent_id) ON DELETE CASCADE",
                     "public.children_restrict.children_restrict_parent_id_fkey": "(parent_id) ON DELETE RESTRICT"}
    assert "schema.mixed_on_delete:public.owners" not in found  # all CASCADE: consistent


def test_sequential_scan_heavy_table(snap):
    found = ids(snap, performance__seq_scan_min_rows=1000, performance__seq_scan_min_scans=5)
    assert "performance.seq_scan_heavy:public.scanned" in found
    assert "performance.seq_scan_heavy:public.big_used" not in found
    assert "performance.seq_scan_heavy:public.scanned" not in ids(snap)  # 2,000 rows is not large


def test_autovacuum_off_with_dead_rows_and_never_analyzed(snap):
    found = ids(snap)
    assert found["maintenance.table_autovacuum_off:public.bloated"].severity == Severity.HIGH
    assert found["maintenance.dead_tuples:public.bloated"].severity == Severity.HIGH
    assert "maintenance.autovacuum_off" not in found  # the server's autovacuum is on
    assert not [i for i in found if i.startswith("maintenance.dead_tuples:") and "bloated" not in i]
    never = found["maintenance.never_analyzed"]
    assert [e.subject for e in never.evidence] == ["public.never_analyzed"]


def test_table_bloat_estimate(snap):
    bloat = {b.table: b for b in snap.postgres.catalog.table_bloat}
    swollen, full = bloat["swollen"], bloat["big_used"]
    # 95% of swollen's rows were deleted and vacuumed away: the file keeps its size, the rows fill a twentieth
    assert swollen.size_bytes > 8 * 1024 * 1024 and swollen.wasted_bytes > 0.85 * swollen.size_bytes
    assert full.wasted_bytes < 0.25 * full.size_bytes  # a table as its rows left it
    assert bloat["never_analyzed"].expected_bytes is None  # no statistics: no estimate, not a guess
    found = ids(snap, maintenance__bloat_min_bytes=5 * 1024 * 1024)
    finding = found["maintenance.table_bloat:public.swollen"]
    assert finding.severity == Severity.MEDIUM and "estimate" in finding.title
    assert [i for i in found if i.startswith("maintenance.table_bloat:")] == ["maintenance.table_bloat:public.swollen"]
    assert "maintenance.table_bloat:public.swollen" not in ids(snap)  # under the default 100 MB


def test_transaction_id_age(snap):
    assert not [i for i in ids(snap) if i.startswith("maintenance.xid_wraparound")]  # a young cluster
    lowered = ids(snap, maintenance__xid_age_medium=1)  # every database has some age: the rule reads it
    assert lowered[f"maintenance.xid_wraparound:{DB}"].severity == Severity.MEDIUM


def test_sequence_near_its_limit(snap):
    found = ids(snap)
    seq = found["maintenance.sequence_exhaustion:public.nearly_done"]
    assert seq.severity == Severity.HIGH and "91.6%" in seq.title
    assert "maintenance.sequence_exhaustion:public.fresh_seq" not in found


def test_schema_rules(snap):
    found = ids(snap)
    assert "schema.no_primary_key:public.no_pk" in found and "schema.no_primary_key:public.checked" not in found
    assert "schema.not_valid_constraint:public.checked.checked_a_positive" in found
    assert found["schema.not_valid_constraint:public.checked.checked_a_positive"].statement == \
        "ALTER TABLE public.checked VALIDATE CONSTRAINT checked_a_positive;"
    odd = found['schema.not_valid_constraint:odd.schema.T.Pos']
    assert odd.statement == 'ALTER TABLE "odd.schema"."T" VALIDATE CONSTRAINT "Pos";'
    assert "schema.unlogged_table:public.scratch" in found and "schema.unlogged_table:public.checked" not in found
    assert "schema.disabled_trigger:public.audited.audited_touch" in found
    assert not [i for i in found if "triggered_touch" in i]


def local_address() -> str | None:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return next((a for a in out if "." in a and not a.startswith("127.")), None)


async def test_hba_trust_for_remote_addresses_and_clients_without_ssl(start_cluster, sessions):
    cluster = start_cluster(settings={"listen_addresses": "'*'"})
    default = await catalog_snapshot(cluster, "postgres")
    assert not [i for i in ids(default) if i.startswith("security.hba_trust_remote")]  # initdb: loopback only
    assert "security.insecure_connection" not in ids(default)
    hba = cluster.data_dir / "pg_hba.conf"
    hba.write_text(hba.read_text() + "host all all 0.0.0.0/0 trust\n")
    cluster.psql("SELECT pg_reload_conf()")
    lines = len(hba.read_text().splitlines())
    address = local_address()
    if address is not None:
        remote = await asyncpg.connect(host=address, port=cluster.port, user="postgres", database="postgres",
                                       ssl=False, server_settings={"application_name": "remote-app"})
    try:
        snap = await catalog_snapshot(cluster, "postgres")
        found = ids(snap)
        trust = found[f"security.hba_trust_remote:{lines}"]
        assert trust.severity == Severity.CRITICAL and "0.0.0.0" in trust.title
        if address is not None:
            insecure = found["security.insecure_connection"]
            assert address in insecure.evidence[0].detail and "remote-app" in insecure.evidence[0].detail
    finally:
        if address is not None:
            await remote.close()
    cluster.psql("DROP ROLE IF EXISTS watcher; CREATE ROLE watcher LOGIN IN ROLE pg_monitor")
    limited = await catalog_snapshot(cluster, "postgres", user="watcher")
    assert "superuser" in limited.postgres.catalog.gaps["hba_rules"]
    assert not [i for i in ids(limited) if i.startswith("security.hba_trust_remote")]  # not checked, not clean
    assert limited.postgres.catalog.tables is not None and "tables" not in limited.postgres.catalog.gaps


async def test_cap_on_objects_examined(catalog_db):
    snap = await catalog_snapshot(catalog_db, objects_cap=2)
    assert len(snap.postgres.catalog.tables) == 2 and snap.postgres.catalog.truncated["tables"]
    assert {t.name for t in snap.postgres.catalog.tables} == {"big_unused", "big_used"}  # the largest first
    # sequences: the largest share of the range used first, not the largest value
    assert [s.name for s in snap.postgres.catalog.sequences] == ["nearly_done", "big_counter"]
    assert snap.postgres.catalog.truncated["sequences"]


async def test_catalog_does_not_wait_behind_an_exclusive_lock(catalog_db):
    holder = await asyncpg.connect(**catalog_db.connect_kwargs(database=DB))
    reader = await asyncpg.connect(**catalog_db.connect_kwargs(database=DB),
                                   server_settings={"statement_timeout": "2000", "lock_timeout": "500"})
    try:
        await holder.execute('BEGIN; LOCK TABLE big_used, dup_t, "odd.schema"."T" IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        catalog = await read_catalog(reader.fetch, 15)
        assert time.monotonic() - started < 2
        # no section waited (the server log is a gap of its own: the test server has no logging collector)
        assert "big_used" in {t.name for t in catalog.tables} and set(catalog.gaps) == {"deadlock_log"}
        # the locked tables' index and constraint definitions are skipped, and said to be; the rest is read
        assert catalog.locked_tables == ["odd.schema.T", "public.big_used", "public.dup_t"]
        indexed = {i.table for i in catalog.indexes}
        assert "big_unused" in indexed and "distinct_t" in indexed
        assert not indexed & {"big_used", "dup_t"}
        assert {c.name for c in catalog.constraints_not_valid} == {"checked_a_positive"}
        assert catalog.roles and catalog.databases
        snapshot = (await catalog_snapshot(catalog_db)).model_copy(update={"catalog": catalog})
        note = " ".join(FindingsPanel.unchecked(snapshot))
        assert "indexes and NOT VALID constraints of odd.schema.T, public.big_used, public.dup_t" in note
        found = ids(snapshot)
        assert "indexes.unused:public.big_unused_k_idx" in found and "schema.not_valid_constraint:public.checked" \
            ".checked_a_positive" in found
        assert not [i for i in found if i.startswith("indexes.") and "dup_t" in i]
    finally:
        await holder.execute("ROLLBACK")
        await holder.close()
        await reader.close()


def test_identifiers_in_statements_are_quoted_as_the_server_quotes_them(pg):
    """A column named `left` or `time` written bare into CREATE INDEX … (left) would be a syntax error."""
    from dbtop.engines.quoting import quote_ident

    rows = pg.psql("SELECT word || '|' || quote_ident(word) FROM pg_get_keywords() "
                   "UNION ALL SELECT x || '|' || quote_ident(x) FROM unnest(ARRAY['plain_name', 'Mixed', 'a b', "
                   "'we\"ird', '1st', 'dollar$']) x")
    expected = dict(line.split("|", 1) for line in rows.splitlines())
    assert {word: quote_ident(word) for word in expected} == expected
