"""Migration safety with live sizes: the risky operations of the migrations the database has not applied,
judged on built catalogs (no server) and, at the end, on a real server whose alembic_version and
django_migrations tables say which are pending."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from dbtop.engines.snapshot import AppliedMigrations
from dbtop.findings.engine import Thresholds
from dbtop.findings.model import Finding, Severity
from dbtop.findings.project import audit_project
from dbtop.findings.project.migration_operations import sql_operations

from . import fakes as f

PROJECT = Path(__file__).parent / "fixtures" / "projects" / "live_migrations"
GIB = 1024 * f.MIB


def catalog(alembic=("0002",), django=(("shop", "0001_initial"), ("shop", "0002_cart_owner")), **overrides):
    """A catalog with a busy 48 GB orders table (1,200 writes/s over the 30 days since the statistics reset),
    a 12-row lookup table, customers and the Django carts, and the applied migrations given."""
    seconds = 30 * f.DAY
    return f.catalog(**{
        "tables": [
            f.table("orders", size_bytes=48 * GIB, live_rows=400_000_000, rows_inserted=int(1_000 * seconds),
                    rows_updated=int(200 * seconds), rows_deleted=0),
            f.table("tiny_lookup", size_bytes=8192, live_rows=12, rows_inserted=12, rows_updated=0, rows_deleted=0,
                    seq_scan=0, idx_scan=0),
            f.table("customers", size_bytes=2 * GIB, live_rows=3_000_000),
            f.table("shop_carts", size_bytes=300 * f.MIB, live_rows=900_000),
        ],
        "applied_migrations": AppliedMigrations(
            tables=["public.alembic_version", "public.django_migrations"],
            alembic=list(alembic) if alembic is not None else None,
            django=[tuple(p) for p in django] if django is not None else None),
        **overrides})


def migration_findings(**kwargs) -> list[Finding]:
    thresholds = kwargs.pop("thresholds", None)
    result = audit_project(PROJECT, catalog=catalog(**kwargs), thresholds=thresholds)
    return [x for x in result.findings if x.rule.startswith("project.migration.")]


def by_location(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(x.evidence[0].location, x.rule.rsplit(".", 1)[1]): x for x in findings}


def test_only_pending_alembic_revisions_are_judged_with_their_tables_sizes():
    found = by_location(migration_findings())
    assert not [k for k in found if "0001_initial" in k[0] or "0002_orders" in k[0]]  # applied: history
    v3 = "alembic/versions/0003_status.py"
    index = found[(f"{v3}:18", "index")]  # on the 12-row lookup table
    assert index.severity == Severity.INFO and "tiny_lookup" in index.title
    type_change = found[(f"{v3}:13", "type_change")]
    assert type_change.severity == Severity.HIGH
    assert "public.orders (48.0 GB, 400,000,000 rows, 1,200 writes/s)" in type_change.title
    assert "blocks reads and writes for the whole rewrite" in type_change.title and "ACCESS EXCLUSIVE" in type_change.impact
    assert found[(f"{v3}:10", "required_column")].severity == Severity.HIGH  # NOT NULL, no default, 400M rows
    assert "fails: the table has 400,000,000 rows" in found[(f"{v3}:10", "required_column")].title
    assert found[(f"{v3}:11", "volatile_default")].severity == Severity.HIGH
    assert (f"{v3}:12", "required_column") not in found  # NOT NULL with a server default: fine since PG 11
    assert found[(f"{v3}:14", "foreign_key")].severity == Severity.HIGH
    assert found[(f"{v3}:15", "check_constraint")].severity == Severity.HIGH
    assert not [k for k in found if k[0] == f"{v3}:17"]  # NOT VALID: safe
    # CONCURRENTLY, but inside the revision's transaction: fails whatever the table
    assert found[(f"{v3}:16", "concurrently_in_transaction")].severity == Severity.HIGH
    assert [k for k in found if k[0] == f"{v3}:16"] == [(f"{v3}:16", "concurrently_in_transaction")]
    unique = found[(f"{v3}:20", "unique_constraint")]  # batch_op: the batch's table
    assert "public.customers" in unique.title and unique.severity == Severity.MEDIUM  # 2 GB: ~11 s
    assert found[(f"{v3}:21", "drop_column")].severity == Severity.MEDIUM  # a used table: running code breaks
    for finding in found.values():
        assert finding.area == "migrations" and finding.source == "project" and "lock_timeout" in finding.fix


def test_the_throughput_threshold_changes_the_estimate():
    slow_disks = by_location(migration_findings(thresholds=Thresholds({"migrations.scan_mb_per_s": 5})))
    assert slow_disks[("alembic/versions/0003_status.py:20", "unique_constraint")].severity == Severity.HIGH


def test_an_empty_alembic_version_makes_every_revision_pending():
    found = by_location(migration_findings(alembic=()))
    index = found[("alembic/versions/0002_orders_customer.py:13", "index")]
    assert index.severity == Severity.HIGH and "adds an index without CONCURRENTLY on public.orders" in index.title
    assert "blocks writes (not reads)" in index.title
    assert ("alembic/versions/0002_orders_customer.py:12", "index") not in found  # postgresql_concurrently=True
    assert ("alembic/versions/0001_initial.py:11", "index") in found


def test_a_head_applied_means_nothing_pending():
    found = migration_findings(alembic=("0003",), django=(("shop", "0001_initial"), ("shop", "0002_cart_owner"),
                                                          ("shop", "0003_cart_state"),
                                                          ("shop", "0004_cart_title_index")))
    assert found == []


def test_pending_django_migrations_and_their_db_table():
    found = by_location(migration_findings())
    path = "shop/migrations/0003_cart_state.py"
    assert not [k for k in found if "0002_cart_owner" in k[0]]
    required = found[(f"{path}:9", "required_column")]
    assert "public.shop_carts" in required.title and required.severity == Severity.HIGH
    assert (f"{path}:10", "required_column") not in found  # null=True
    assert {(f"{path}:11", "foreign_key"), (f"{path}:11", "index"), (f"{path}:13", "alter_field"),
            (f"{path}:15", "index"), (f"{path}:15", "rewrite"), (f"{path}:17", "rename")} <= set(found)
    assert not [k for k in found if k[0] == f"{path}:14"]  # AddIndexConcurrently with atomic = False
    assert found[("shop/migrations/0004_cart_title_index.py:7", "concurrently_in_transaction")].severity == Severity.HIGH


def test_without_knowing_what_is_applied_nothing_is_judged_and_the_report_says_why():
    result = audit_project(PROJECT)
    assert not [x for x in result.findings if x.rule.startswith("project.migration.")]
    assert any("migration safety not judged: give the database" in n for n in result.notes)
    gap = "which migrations are applied is not known: no SELECT privilege on public.alembic_version"
    result = audit_project(PROJECT, catalog=f.catalog(gaps={"applied_migrations": gap}))
    assert not [x for x in result.findings if x.rule.startswith("project.migration.")]
    assert any(gap in n for n in result.notes)


def test_a_missing_applied_table_takes_every_migration_as_pending():
    result = audit_project(PROJECT, catalog=catalog(alembic=None, django=None))
    assert any("no alembic_version table" in n for n in result.notes)
    assert any("no django_migrations table" in n for n in result.notes)
    assert any("0001_initial" in (x.evidence[0].location or "") for x in result.findings
               if x.rule.startswith("project.migration."))


@pytest.mark.parametrize(("sql", "kinds"), [
    ("CREATE INDEX ix ON app.orders (a)", [("index", "app.orders")]),
    ("create unique index ix on only \"Orders\" (a)", [("index", "Orders")]),
    ("CREATE INDEX CONCURRENTLY ix ON orders (a)", []),
    ("ALTER TABLE orders ADD COLUMN a int NOT NULL, ADD COLUMN b uuid DEFAULT gen_random_uuid()",
     [("required_column", "orders"), ("volatile_default", "orders")]),
    ("ALTER TABLE orders ADD COLUMN c int NOT NULL DEFAULT 0, ADD COLUMN d bigserial", [("volatile_default", "orders")]),
    ("ALTER TABLE orders ALTER COLUMN a TYPE bigint; ALTER TABLE orders ALTER a SET NOT NULL",
     [("type_change", "orders"), ("set_not_null", "orders")]),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id)", [("foreign_key", "orders")]),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID", []),
    ("ALTER TABLE orders ADD CONSTRAINT u UNIQUE (a)", [("unique_constraint", "orders")]),
    ("ALTER TABLE orders ADD CONSTRAINT u UNIQUE USING INDEX ix", []),
    ("ALTER TABLE orders VALIDATE CONSTRAINT fk", []),
    ("ALTER TABLE orders RENAME COLUMN a TO b", [("rename", "orders")]),
    ("ALTER TABLE orders DROP COLUMN a; DROP TABLE IF EXISTS old_orders",
     [("drop_column", "orders"), ("drop_table", "old_orders")]),
    ("ALTER TABLE orders DROP CONSTRAINT fk", []),
    ("VACUUM FULL orders; CLUSTER orders; REINDEX TABLE orders; REINDEX TABLE CONCURRENTLY orders",
     [("rewrite", "orders"), ("rewrite", "orders"), ("reindex", "orders")]),
    ("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON orders (a)", []),
    ("-- CREATE INDEX ix ON orders (a);\nSELECT 'CREATE INDEX ix ON t (a); x'", []),
])
def test_raw_sql_operations(sql, kinds):
    assert [(o.kind, o.table) for o in sql_operations("m", sql, "m.py:1")] == kinds


def test_raw_sql_concurrently_inside_a_transaction():
    sql = "CREATE UNIQUE INDEX CONCURRENTLY ix ON app.orders (a); REINDEX INDEX CONCURRENTLY ix"
    assert [(o.kind, o.table) for o in sql_operations("m", sql, "m.py:1", in_transaction=True)] == [
        ("concurrently_in_transaction", "app.orders"), ("concurrently_in_transaction", "ix")]


# -- a real server ---------------------------------------------------------------------------------

DB = "migrations_live"


async def _catalog(cluster, user: str | None = None):
    from dbtop.engines.postgres.collector import PostgresCollector
    from dbtop.profiles.target import resolve_target

    collector = PostgresCollector(resolve_target(cluster.dsn(database=DB, user=user)), catalog_first_after_s=0)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    assert snap.reachable, snap.error
    return snap.postgres.catalog


def test_pending_migrations_from_a_real_servers_applied_tables(pg, tmp_path):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    try:
        pg.psql("CREATE SCHEMA app; CREATE TABLE app.alembic_version (version_num varchar(32) PRIMARY KEY);"
                "INSERT INTO app.alembic_version VALUES ('0002');"
                "CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), "
                "applied timestamptz DEFAULT now());"
                "INSERT INTO django_migrations (app, name) VALUES ('shop', '0001_initial'), ('shop', '0002_cart_owner');"
                "CREATE TABLE orders (id bigint PRIMARY KEY, total int, customer_id bigint);"
                "INSERT INTO orders SELECT g, g, g FROM generate_series(1, 20000) g;"
                "CREATE TABLE tiny_lookup (code text); INSERT INTO tiny_lookup VALUES ('a'), ('b');"
                "CREATE TABLE customers (id bigint PRIMARY KEY, email text, legacy_flag bool);"
                "CREATE TABLE shop_carts (id bigint PRIMARY KEY); ANALYZE;"
                "CREATE ROLE migrations_live_reader LOGIN; GRANT USAGE ON SCHEMA app TO migrations_live_reader;", DB)
        project = tmp_path / "project"
        shutil.copytree(PROJECT, project)
        live = asyncio.run(_catalog(pg))
        assert live.applied_migrations.alembic == ["0002"]
        assert set(live.applied_migrations.django) == {("shop", "0001_initial"), ("shop", "0002_cart_owner")}
        assert live.applied_migrations.tables == ["app.alembic_version", "public.django_migrations"]
        result = audit_project(project, catalog=live)
        judged = by_location([x for x in result.findings if x.rule.startswith("project.migration.")])
        assert not [k for k in judged if "0002_orders_customer" in k[0] or "0001_initial" in k[0]]
        required = judged[("alembic/versions/0003_status.py:10", "required_column")]
        assert "public.orders (1.0 MB" in required.title and "fails: the table has" in required.title
        assert required.severity == Severity.HIGH
        assert judged[("alembic/versions/0003_status.py:13", "type_change")].severity == Severity.INFO  # ~1 MB
        assert ("shop/migrations/0003_cart_state.py:9", "required_column") in judged
        assert "1 of 3 Alembic revisions pending" in " ".join(result.notes)

        # a role that may not read alembic_version: nothing judged, and the note says what to grant
        denied = asyncio.run(_catalog(pg, user="migrations_live_reader"))
        assert denied.applied_migrations is None
        assert "GRANT SELECT ON app.alembic_version" in denied.gaps["applied_migrations"]
        result = audit_project(project, catalog=denied)
        assert not [x for x in result.findings if x.rule.startswith("project.migration.")]
        assert any("GRANT SELECT ON app.alembic_version" in n for n in result.notes)
    finally:
        pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        pg.psql("DROP ROLE IF EXISTS migrations_live_reader")


def test_the_pending_migrations_checklist_item():
    from dbtop.findings.scores import AuditContext, score

    def item(findings, snapshot):
        items = {i.item: i for area in score(findings, AuditContext(snapshot=snapshot, project_audited=True)).areas
                 for i in area.checklist}
        return next(i for text, i in items.items() if text.startswith("The pending migrations run no operation"))

    healthy = f.healthy()
    live = healthy.model_copy(update={"postgres": healthy.postgres.model_copy(update={"catalog": catalog()})})
    assert item(audit_project(PROJECT, catalog=catalog()).findings, live).status == "not done"
    assert item([], live).status == "done"
    unread = item([], healthy)  # a catalog without the applied migrations
    assert unread.status == "not checked" and "applied" in unread.note
    assert item([], None).status == "not checked"
