"""Materialized views on the real server: population, concurrent refreshability, and the refresh time
with the source it comes from (dbtop's event-trigger log, the file time, or unknown)."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from dbtop.actions.journal import Journal
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres import refresh_log
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import dbtop_command

DB = "views_test"


@pytest.fixture(scope="module")
def views_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql("""
        CREATE TABLE samples (id int PRIMARY KEY, at timestamptz NOT NULL, v int);
        INSERT INTO samples SELECT g, now() - g * interval '1 minute', g FROM generate_series(1, 1000) g;
        CREATE MATERIALIZED VIEW never_refreshed AS SELECT id, v FROM samples WITH NO DATA;
        CREATE MATERIALIZED VIEW no_unique AS SELECT id, v FROM samples;
        CREATE INDEX no_unique_v_idx ON no_unique (v);
        CREATE MATERIALIZED VIEW expression_unique AS SELECT id, v FROM samples;
        CREATE UNIQUE INDEX expression_unique_idx ON expression_unique ((id * 2));
        CREATE MATERIALIZED VIEW latest AS SELECT id, at FROM samples;
        CREATE UNIQUE INDEX latest_id_idx ON latest (id);
    """, DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


async def read_views(pg, policy: WatchPolicy | None = None, user: str | None = None):
    collector = PostgresCollector(resolve_target(pg.dsn(user=user, database=DB)), policy=policy)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    assert snap.reachable, snap.error
    assert snap.part("views").available, snap.part("views")
    return snap.views, {v.name: v for v in snap.views.views}


async def superuser(pg) -> asyncpg.Connection:
    return await asyncpg.connect(**pg.connect_kwargs(database=DB))


def log_objects(pg) -> str:
    """Everything named dbtop in the database's catalogs."""
    return pg.psql("""
        SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'dbtop'
        UNION ALL SELECT 'class ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = 'dbtop'
        UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'dbtop'
        UNION ALL SELECT 'event trigger ' || evtname FROM pg_event_trigger
        UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE n.nspname = 'dbtop'
        ORDER BY 1""", DB)


def view_findings(views) -> dict[str, object]:
    from dbtop.engines.snapshot import Snapshot
    from dbtop.findings.engine import evaluate

    snap = Snapshot(sequence=1, taken_at=datetime.now(timezone.utc), target="t", engine="postgres", reachable=True,
                    views=views)
    return {f.id: f for f in evaluate(snap)[0]}


async def test_unpopulated_view_is_stale_and_uniqueness_decides_concurrent_refresh(views_db):
    views, by_name = await read_views(views_db)
    found = view_findings(views)
    assert "views.never_populated:public.never_refreshed" in found
    assert "views.never_populated:public.latest" not in found
    assert "views.no_unique_index:public.no_unique" in found and "views.no_unique_index:public.latest" not in found
    assert not [i for i in found if i.startswith("views.stale")]  # nothing old enough
    never = by_name["never_refreshed"]
    assert not never.populated and never.stale is True
    assert never.last_refresh.source == "unknown" and never.last_refresh.at is None
    assert by_name["no_unique"].populated and not by_name["no_unique"].unique_index
    assert not by_name["expression_unique"].unique_index  # CONCURRENTLY needs plain columns
    assert by_name["latest"].unique_index
    assert by_name["latest"].rows_estimate in (None, 1000) and by_name["latest"].size_bytes > 0
    assert by_name["latest"].schema_name == "public"


async def test_without_the_log_a_superuser_sees_the_file_time_as_a_lower_bound(views_db):
    views, by_name = await read_views(views_db)
    assert not views.refresh_log_installed and views.file_times_readable
    latest = by_name["latest"]
    assert latest.last_refresh.source == "file_time"
    assert datetime.now(timezone.utc) - latest.last_refresh.at < timedelta(minutes=10)
    assert latest.stale is False  # written minutes ago: within 4 h for certain


async def test_a_monitoring_role_without_pg_stat_file_sees_unknown_not_a_guess(views_db):
    views_db.psql("DROP ROLE IF EXISTS views_watcher; CREATE ROLE views_watcher LOGIN IN ROLE pg_monitor")
    views, by_name = await read_views(views_db, user="views_watcher")
    assert not views.file_times_readable
    assert by_name["latest"].last_refresh.source == "unknown"
    assert by_name["latest"].stale is None and by_name["latest"].age_s is None


async def test_refresh_log_records_refresh_time_duration_and_role_and_uninstall_removes_it(views_db):
    before = log_objects(views_db)
    conn = await superuser(views_db)
    try:
        await refresh_log.install(conn)
        installed = log_objects(views_db)
        assert "event trigger dbtop_record_refresh" in installed and "class refresh_log" in installed
        await conn.execute("""
            CREATE MATERIALIZED VIEW slow_view AS SELECT 1 AS id FROM pg_sleep(0.3);
            CREATE ROLE view_owner LOGIN; GRANT SELECT ON samples TO view_owner;
            ALTER MATERIALIZED VIEW latest OWNER TO view_owner""")
        owner = await asyncpg.connect(**views_db.connect_kwargs(user="view_owner", database=DB))
        try:
            await owner.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY latest")
        finally:
            await owner.close()
        refreshed_at = datetime.now(timezone.utc)
        await conn.execute("REFRESH MATERIALIZED VIEW slow_view")

        views, by_name = await read_views(views_db)
        assert views.refresh_log_installed
        slow = by_name["slow_view"].last_refresh
        assert slow.source == "refresh_log" and slow.duration_s >= 0.3 and slow.role == views_db.superuser
        latest = by_name["latest"].last_refresh
        assert latest.source == "refresh_log" and latest.role == "view_owner"
        assert abs((latest.at - refreshed_at).total_seconds()) < 5
        assert by_name["latest"].stale is False
        # never_refreshed has no logged refresh and no data: still unknown and stale
        assert by_name["never_refreshed"].last_refresh.source == "unknown" and by_name["never_refreshed"].stale

        # A refresh logged five hours ago is stale against the default 4 h, fresh against 6 h for that view.
        await conn.execute("""
            UPDATE dbtop.refresh_log SET started_at = now() - interval '5 hours 1 second',
                                         finished_at = now() - interval '5 hours'
            WHERE view_name = 'public.slow_view'""")
        views, by_name = await read_views(views_db)
        assert by_name["slow_view"].stale is True and by_name["slow_view"].age_s > 5 * 3600 - 60
        assert "views.stale:public.slow_view" in view_findings(views)
        views, by_name = await read_views(views_db, WatchPolicy(freshness_s={"public.slow_view": 6 * 3600}))
        assert by_name["slow_view"].stale is False and by_name["slow_view"].threshold_s == 6 * 3600
        assert "views.stale:public.slow_view" not in view_findings(views)

        await refresh_log.uninstall(conn)
        assert log_objects(views_db) == before
        views, by_name = await read_views(views_db)
        assert not views.refresh_log_installed and by_name["slow_view"].last_refresh.source == "file_time"
    finally:
        await conn.execute("DROP MATERIALIZED VIEW IF EXISTS slow_view; ALTER MATERIALIZED VIEW latest OWNER TO "
                           f"{views_db.superuser}; REVOKE ALL ON samples FROM view_owner; DROP ROLE IF EXISTS view_owner")
        await conn.close()


async def test_uninstall_leaves_a_schema_holding_foreign_objects_and_says_so(views_db):
    conn = await superuser(views_db)
    try:
        await refresh_log.install(conn)
        await conn.execute("CREATE TABLE dbtop.someone_elses (id int)")
        with pytest.raises(refresh_log.RefreshLogError, match="did not create"):
            await refresh_log.uninstall(conn)
        assert (await refresh_log.read_state(conn)).installed  # nothing was removed
        await conn.execute("DROP TABLE dbtop.someone_elses")
        await refresh_log.uninstall(conn)
        assert not (await refresh_log.read_state(conn)).schema_exists
    finally:
        await conn.close()


async def test_a_view_being_refreshed_does_not_make_the_monitor_wait(views_db):
    holder = await superuser(views_db)
    try:
        await holder.execute("BEGIN; REFRESH MATERIALIZED VIEW no_unique")  # holds ACCESS EXCLUSIVE until commit
        started = time.monotonic()
        _, by_name = await read_views(views_db)
        assert time.monotonic() - started < 2
        view = by_name["no_unique"]
        assert view.locked_by == [holder.get_server_pid()] and view.size_bytes is None
    finally:
        await holder.execute("ROLLBACK")
        await holder.close()


async def test_data_age_reads_the_only_timestamp_column_or_the_one_named(views_db):
    _, by_name = await read_views(views_db)
    latest = by_name["latest"]
    assert latest.data_age_column == "at"
    assert latest.data_age_s is not None and 0 <= latest.data_age_s < 600  # newest sample is about a minute old
    assert by_name["no_unique"].data_age_column is None  # no timestamp column
    _, by_name = await read_views(views_db, WatchPolicy(data_age_columns={"latest": "missing_column"}))
    assert by_name["latest"].data_age_s is None and "missing_column" in by_name["latest"].data_age_error


def run_views_cli(pg, command: str, confirm: str, state: Path, user: str | None = None,
                  profile_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*dbtop_command(), "views", command, pg.dsn(user=user, database=DB), "--confirm", confirm,
                           *profile_args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_STATE_HOME": str(state)})


def test_cli_shows_what_it_creates_needs_the_database_name_and_journals_it(views_db, tmp_path):
    wrong = run_views_cli(views_db, "install-refresh-log", "postgres", tmp_path)
    assert wrong.returncode == 2 and "does not confirm it" in wrong.stderr and "nothing ran" in wrong.stderr
    assert "CREATE EVENT TRIGGER dbtop_record_refresh" in wrong.stdout and "schema dbtop" in wrong.stdout
    assert "event trigger" not in log_objects(views_db)

    views_db.psql("DROP ROLE IF EXISTS plain_user; CREATE ROLE plain_user LOGIN")
    refused = run_views_cli(views_db, "install-refresh-log", DB, tmp_path, user="plain_user")
    assert refused.returncode == 2 and "needs a superuser" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    read_only = run_views_cli(views_db, "install-refresh-log", DB, tmp_path, profile_args=("--read-only",))
    assert read_only.returncode == 2 and "read-only" in read_only.stderr

    done = run_views_cli(views_db, "install-refresh-log", DB, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "event trigger dbtop_record_refresh" in log_objects(views_db)
    again = run_views_cli(views_db, "install-refresh-log", DB, tmp_path)
    assert again.returncode == 2 and "already installed" in again.stderr

    removed = run_views_cli(views_db, "uninstall-refresh-log", DB, tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert log_objects(views_db) == ""
    journal = Journal(tmp_path / "dbtop" / "journal.jsonl")
    assert journal.verify().intact
    assert [(e.action, e.outcome) for e in journal.entries()] == [
        ("install-refresh-log", "refused"), ("install-refresh-log", "refused"), ("install-refresh-log", "refused"),
        ("install-refresh-log", "done"), ("install-refresh-log", "refused"), ("uninstall-refresh-log", "done")]
