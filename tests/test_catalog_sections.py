"""The catalog sections added for the second round of findings, read from a real server with the
problems planted: sequences against their columns, per-table wraparound and write counters, btree
index bloat, the schema and security facts, prepared transactions, checkpoints, the archive backlog,
settings and statements spilling to disk; and the rules that read them fire on the plants."""

from __future__ import annotations

import asyncpg
import pytest

from dbtop.engines.postgres.catalog import read_catalog
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.snapshot import Catalog, Snapshot
from dbtop.findings.engine import Thresholds, evaluate
from dbtop.profiles.target import resolve_target

DB = "catalog_sections"

PLANTS = """
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE narrow (id int PRIMARY KEY, v int);
CREATE SEQUENCE narrow_id_seq OWNED BY narrow.id;  -- bigint, feeding an integer column
ALTER TABLE narrow ALTER COLUMN id SET DEFAULT nextval('narrow_id_seq');
SELECT setval('narrow_id_seq', 2000000000);
CREATE TABLE wide_ok (id bigserial PRIMARY KEY);

CREATE TABLE churn (id int PRIMARY KEY, v int, note text);
INSERT INTO churn SELECT g, 0, NULL FROM generate_series(1, 200000) g;
CREATE INDEX churn_v_idx ON churn (v);
CREATE INDEX churn_note_idx ON churn (note);
DELETE FROM churn WHERE id % 10 <> 0;

CREATE TABLE customers (id bigint PRIMARY KEY);
CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE invoices (id int PRIMARY KEY, customer_id int REFERENCES customers, account_id int,
                       issued timestamp, code char(12), amount money);

CREATE FUNCTION leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
CREATE FUNCTION fixed() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS 'SELECT 1';
CREATE SCHEMA open_schema;
GRANT CREATE ON SCHEMA open_schema TO PUBLIC;
CREATE TABLE guarded (id int PRIMARY KEY, owner text);
CREATE POLICY own_rows ON guarded USING (owner = current_user);

CREATE TABLE events (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE events_rest PARTITION OF events DEFAULT;
INSERT INTO events VALUES ('2020-06-01', 1), ('2030-01-01', 2);
CREATE TABLE metrics (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE metrics_2020 PARTITION OF metrics FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
"""


@pytest.fixture(scope="module")
def sections_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql(PLANTS, DB)
    pg.psql("ANALYZE", DB)
    pg.psql("UPDATE churn SET v = v + 1 WHERE id % 100 = 0", DB)
    pg.psql("SET work_mem = '64kB'; SELECT count(*) FROM (SELECT id FROM churn ORDER BY v DESC, id) s", DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


async def read(cluster, **kwargs) -> Catalog:
    connection = await asyncpg.connect(**cluster.connect_kwargs(database=DB, **kwargs))
    try:
        version = connection.get_server_version()
        return await read_catalog(connection.fetch, version.major)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
async def catalog(sections_db) -> Catalog:
    return await read(sections_db)


@pytest.fixture(scope="module")
async def snap(sections_db) -> Snapshot:
    collector = PostgresCollector(resolve_target(sections_db.dsn(database=DB)), catalog_first_after_s=0)
    try:
        snapshot = await collector.snapshot()
    finally:
        await collector.close()
    assert snapshot.reachable, snapshot.error
    return snapshot


def test_every_new_section_is_read_by_a_superuser(catalog):
    # but the server log: the shared server runs without logging_collector (test_deadlock_log_live has one)
    assert set(catalog.gaps) == {"deadlock_log"}


def test_sequence_knows_the_column_it_feeds(catalog):
    narrow = next(s for s in catalog.sequences if s.name == "narrow_id_seq")
    assert narrow.column_type == "integer" and (narrow.column_schema, narrow.column_table, narrow.column_name) == ("public", "narrow", "id")
    assert narrow.limit == 2147483647 and narrow.max_value == 9223372036854775807
    wide = next(s for s in catalog.sequences if s.name == "wide_ok_id_seq")
    assert wide.column_type == "bigint" and wide.column_max is None


def test_tables_carry_write_counters_and_ages(catalog):
    churn = next(t for t in catalog.tables if t.name == "churn")
    assert churn.rows_inserted == 200000 and churn.rows_deleted == 180000
    assert churn.xid_age is not None and churn.xid_age > 0 and churn.mxid_age is not None
    events = next(t for t in catalog.tables if t.name == "events")
    assert events.partitioned and events.xid_age is None
    invoices = next(t for t in catalog.tables if t.name == "invoices")
    assert invoices.toast_xid_age is None  # no TOAST-able column
    assert next(t for t in catalog.tables if t.name == "guarded").toast_xid_age is not None


def test_index_bloat_estimate(catalog):
    churn = next(i for i in catalog.index_bloat if i.name == "churn_pkey")
    assert churn.expected_bytes is not None and churn.wasted_bytes > churn.size_bytes / 2


def test_design_facts(catalog):
    assert [(f.schema_name, f.name) for f in catalog.definer_functions] == [("public", "leaky")]
    assert "open_schema" in catalog.public_create_schemas
    assert [(p.table, p.policies) for p in catalog.unenforced_policies] == [("guarded", 1)]
    events = next(p for p in catalog.partitioned_tables if p.name == "events")
    assert (events.strategy, events.partition_count, events.default_partition) == ("r", 2, "events_rest")
    assert events.upper_bounds == ["'2021-01-01'"] and events.default_rows == 1
    [avoided] = [a for a in catalog.avoided_types if a.table == "invoices"]
    assert avoided.columns == ["issued timestamp without time zone", "code character(12)", "amount money"]
    [mismatch] = catalog.foreign_key_type_mismatches
    assert (mismatch.column, mismatch.column_type, mismatch.referenced_type) == ("customer_id", "integer", "bigint")
    assert [(c.table, c.column) for c in catalog.unreferenced_id_columns] == [("invoices", "account_id")]
    [null_index] = catalog.mostly_null_indexes
    assert null_index.name == "churn_note_idx" and null_index.null_frac == 1.0


def test_prepared_checkpoints_archive_settings(catalog):
    assert catalog.prepared_xacts == []  # max_prepared_transactions is 0 on the test server
    assert catalog.checkpoints is not None and catalog.checkpoints.timed >= 0
    assert catalog.archive_backlog is not None and catalog.archive_backlog.ready == 0
    # the shared server logs to stderr without the collector: no file to read deadlock reports back from
    assert catalog.deadlock_log is None and "logging_collector is off" in catalog.gaps["deadlock_log"]
    assert catalog.settings["wal_level"].setting == "replica"
    assert catalog.settings["random_page_cost"].source == "default"
    assert catalog.settings["work_mem"].bytes == 4 * 1024 * 1024
    written = [s.temp_blks_written for s in catalog.statement_spills]
    assert written and written == sorted(written, reverse=True) and min(written) > 0


async def test_sections_a_plain_role_cannot_read_are_gaps(sections_db):
    sections_db.psql("DROP ROLE IF EXISTS plain_reader; CREATE ROLE plain_reader LOGIN", DB)
    catalog = await read(sections_db, user="plain_reader")
    assert "pg_monitor" in catalog.gaps["archive_backlog"]
    assert "index_bloat" not in catalog.gaps and "definer_functions" not in catalog.gaps
    assert catalog.settings["wal_level"].setting == "replica"


def test_the_rules_fire_on_the_plants(snap):
    found, failures = evaluate(snap, Thresholds({"partitions.default_min_rows": 1, "indexes.null_min_bytes": 0,
                                                 "indexes.bloat_min_bytes": 0}))
    assert failures == []
    by_id = {f.id: f for f in found}
    assert by_id["maintenance.sequence_exhaustion:public.narrow_id_seq"].severity.label == "High"
    assert "ALTER TABLE public.narrow ALTER COLUMN id TYPE bigint" in by_id[
        "maintenance.sequence_exhaustion:public.narrow_id_seq"].statement
    assert "maintenance.sequence_exhaustion:public.wide_ok_id_seq" not in by_id
    for expected in ("security.definer_search_path", "security.public_create", "security.rls_not_enforced",
                     "schema.fk_type_mismatch:public.invoices.invoices_customer_id_fkey", "schema.avoided_types",
                     "schema.id_without_fk", "partitions.running_out:public.metrics",
                     "partitions.default_rows:public.events", "indexes.mostly_null:public.churn_note_idx",
                     "indexes.bloat:public.churn_pkey"):
        assert expected in by_id, (expected, sorted(by_id))
    assert "partitions.running_out:public.events" not in by_id  # its default partition takes the rows
    assert [e.subject for e in by_id["schema.id_without_fk"].evidence] == ["public.invoices.account_id"]
    assert [e.subject for e in by_id["security.definer_search_path"].evidence] == ["public.leaky()"]
