"""`dbtop demo` against the real thing: the command builds a throwaway cluster, the tests read the
planted problems and the workload from the server's own catalogs and statistics, then stop the
demo in the ways an operator does (SIGTERM, Ctrl-C, a SIGKILL the guardian has to clean up after)
and check that nothing of it remains."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg
import pytest

from dbtop.profiles.target import resolve_target

from .conftest import dbtop_command, wait_until

SMALL_ROWS = 20_000
APPLICATIONS = {"api", "worker", "reporting", "scheduler"}


@dataclass
class RunningDemo:
    process: subprocess.Popen
    dsn: str
    base_dir: Path
    postmaster_pid: int
    stderr_path: Path
    seconds_to_ready: float

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def workload_pids(self) -> list[int]:
        return [pid for pid in processes_mentioning(str(self.base_dir)) if pid != self.process.pid
                and "demo.workload" in cmdline(pid)]

    def connect_kwargs(self) -> dict:
        target = resolve_target(self.dsn)
        return {"host": target.hosts[0], "port": target.ports[0], "user": target.user, "database": target.database}


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_mentioning(text: str) -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and text in cmdline(int(entry.name))]


def children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def start_demo(tmp_path: Path, *args: str, ready_within_s: float = 90.0) -> RunningDemo:
    """`dbtop demo --no-app …` as a subprocess; returns once it printed its connection string."""
    stderr_path = tmp_path / f"demo-{time.monotonic_ns()}.err"
    started = time.monotonic()
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen([*dbtop_command(), "demo", "--no-app", *args], stdout=subprocess.PIPE,
                                   stderr=stderr, stdin=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        dsn = lines.get(timeout=ready_within_s).strip()
    except queue.Empty:
        process.kill()
        pytest.fail(f"dbtop demo printed no connection string within {ready_within_s} s:\n"
                    f"{stderr_path.read_text()}")
    if not dsn:
        process.wait(10)
        pytest.fail(f"dbtop demo ended ({process.returncode}) without a connection string:\n{stderr_path.read_text()}")
    seconds = time.monotonic() - started
    base_dir = Path(resolve_target(dsn).hosts[0])
    postmaster_pid = int((base_dir / "data" / "postmaster.pid").read_text().splitlines()[0])
    return RunningDemo(process, dsn, base_dir, postmaster_pid, stderr_path, seconds)


def assert_nothing_left(demo: RunningDemo, workload_pids: list[int]) -> None:
    assert not demo.base_dir.exists(), f"{demo.base_dir} is still there"
    assert str(demo.base_dir) not in cmdline(demo.postmaster_pid), "the postmaster still runs"
    assert children_of(demo.postmaster_pid) == [], "postgres processes of the cluster remain"
    assert processes_mentioning(str(demo.base_dir)) == [], "processes of the demo remain"
    for pid in workload_pids:
        assert "demo.workload" not in cmdline(pid), "the workload still runs"


def stop(demo: RunningDemo, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0) -> int:
    if demo.process.poll() is None:
        demo.process.send_signal(sig)
    try:
        return demo.process.wait(timeout)
    except subprocess.TimeoutExpired:
        demo.process.kill()
        raise


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> RunningDemo:
    """One small demo (20,000 rows) shared by the tests that only look at it."""
    running = start_demo(tmp_path_factory.mktemp("demo"), "--rows", str(SMALL_ROWS))
    yield running
    if running.process.poll() is None:
        stop(running)


@pytest.fixture
async def db(demo: RunningDemo):
    conn = await asyncpg.connect(**demo.connect_kwargs(), server_settings={"application_name": "pytest"})
    yield conn
    await conn.close()


async def fetch_row(demo: RunningDemo, query: str) -> asyncpg.Record:
    conn = await asyncpg.connect(**demo.connect_kwargs())
    try:
        return await conn.fetchrow(query)
    finally:
        await conn.close()


def snapshot(dsn: str) -> dict:
    result = subprocess.run([*dbtop_command(), "snapshot", dsn, "--json"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def depth(node: dict) -> int:
    return 1 + max((depth(child) for child in node["blocked"]), default=0)


# -- the first screen ------------------------------------------------------------------------------
def test_the_lock_chain_is_there_when_the_demo_is_ready(demo):
    # No polling: the demo waits for the chain before it reports ready, so the first screen shows it.
    snap = snapshot(demo.dsn)
    roots = snap["blocking"]["roots"]
    assert roots, "no blocking tree in the first snapshot"
    root = roots[0]
    assert root["blocks_total"] >= 2
    assert depth(root["tree"]) >= 3, json.dumps(root["tree"], indent=1)
    sessions = {s["pid"]: s for s in snap["sessions"]}
    assert sessions[root["pid"]]["state"] == "idle in transaction"
    assert sessions[root["pid"]]["application"] in APPLICATIONS
    [child] = root["tree"]["blocked"]
    assert child["waiting_for"]["relation"] == "channels"
    assert child["blocked"], "the middle of the chain blocks no one"


def test_progress_is_reported_while_building(demo):
    err = demo.stderr()
    for words in ("dbtop demo: creating a PostgreSQL cluster in", f"loading {SMALL_ROWS:,} rows into post_metrics",
                  "planting a duplicate and an unused index", "bloating scheduled_posts with dead tuples",
                  "ANALYZE", "demo database built in", "ready in"):
        assert words in err, err


def test_sessions_look_like_an_application(demo):
    sessions = snapshot(demo.dsn)["sessions"]
    demo_sessions = [s for s in sessions if s["database"] == "demo" and s["backend_type"] == "client backend"]
    assert {s["application"] for s in demo_sessions} >= APPLICATIONS
    idle_in_transaction = [s for s in demo_sessions if s["state"] == "idle in transaction"]
    # Two sessions left idle in transaction by the application, plus the lock chain's holder
    # (each pauses for a few seconds between rounds; right after the start all three hold).
    assert len(idle_in_transaction) >= 3, idle_in_transaction
    assert {s["application"] for s in idle_in_transaction} >= {"api", "reporting"}


# -- the planted problems --------------------------------------------------------------------------
async def test_duplicate_index(db):
    pairs = await db.fetch("""
        SELECT i.indrelid::regclass::text AS table_name, array_agg(i.indexrelid::regclass::text) AS indexes
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
        GROUP BY i.indrelid, i.indkey::text, i.indclass::text, coalesce(i.indexprs::text, ''),
                 coalesce(i.indpred::text, '')
        HAVING count(*) > 1""")
    assert [(r["table_name"], sorted(r["indexes"])) for r in pairs] == [
        ("posts", ["idx_posts_channel_published", "posts_channel_id_published_at_idx"])]


async def test_unused_index_backs_no_constraint_and_is_never_scanned(db):
    # Let the reporting job and the API run a few rounds first: the index must stay unused by them.
    await wait_until(lambda: _post_metrics_queries(db, 5), timeout=30, interval=0.5)
    row = await db.fetchrow("""
        SELECT s.idx_scan, i.indisunique,
               EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid) AS backs_constraint
        FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
        WHERE s.indexrelname = 'post_metrics_recorded_at_idx'""")
    assert row is not None
    assert row["idx_scan"] == 0
    assert not row["indisunique"] and not row["backs_constraint"]


async def _post_metrics_queries(db, at_least: int) -> bool:
    calls = await db.fetchval("""
        SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE query LIKE '%FROM post_metrics%' AND query NOT LIKE '%pg_stat_statements%'""")
    return calls >= at_least


async def test_materialized_view_never_refreshed(db):
    views = dict(await db.fetch("SELECT matviewname, ispopulated FROM pg_matviews WHERE schemaname = 'public'"))
    assert views["weekly_top_posts"] is False
    assert views["channel_daily_metrics"] is True and views["post_engagement_totals"] is True


async def test_materialized_view_without_a_unique_index(db):
    rows = await db.fetch("""
        SELECT m.matviewname, m.ispopulated,
               count(i.indexrelid) AS indexes, count(i.indexrelid) FILTER (WHERE i.indisunique) AS unique_indexes
        FROM pg_matviews m
        LEFT JOIN pg_index i ON i.indrelid = (quote_ident(m.schemaname) || '.' || quote_ident(m.matviewname))::regclass
        WHERE m.schemaname = 'public'
        GROUP BY m.matviewname, m.ispopulated""")
    views = {r["matviewname"]: r for r in rows}
    totals = views["post_engagement_totals"]
    assert totals["ispopulated"] and totals["indexes"] >= 1 and totals["unique_indexes"] == 0
    assert views["channel_daily_metrics"]["unique_indexes"] == 1


async def test_foreign_keys_to_posts_mix_cascade_and_restrict(db):
    rules = dict(await db.fetch("""
        SELECT conname, confdeltype::text FROM pg_constraint
        WHERE contype = 'f' AND confrelid = 'posts'::regclass"""))
    assert rules == {"post_metrics_post_id_fkey": "c", "scheduled_posts_post_id_fkey": "r"}


async def test_table_full_of_dead_tuples_that_autovacuum_will_not_clean(db):
    row = await db.fetchrow("""
        SELECT s.n_live_tup, s.n_dead_tup, s.last_autovacuum, s.last_vacuum, c.reloptions
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.relname = 'scheduled_posts'""")
    scheduled = SMALL_ROWS // 10
    assert row["n_dead_tup"] >= 3 * scheduled * 0.9, dict(row)
    assert row["n_dead_tup"] > 2 * row["n_live_tup"], dict(row)
    assert "autovacuum_enabled=false" in row["reloptions"]
    assert row["last_autovacuum"] is None and row["last_vacuum"] is None


async def test_no_backups_and_no_wal_archiving(db):
    assert await db.fetchval("SHOW archive_mode") == "off"
    assert await db.fetchval("SELECT archived_count FROM pg_stat_archiver") == 0


async def test_row_counts_follow_the_rows_argument(db):
    assert await db.fetchval("SELECT count(*) FROM post_metrics") >= SMALL_ROWS
    assert await db.fetchval("SELECT count(*) FROM posts") == SMALL_ROWS // 10


# -- the workload --------------------------------------------------------------------------------
async def test_slow_statements_reach_pg_stat_statements(db):
    async def slow_sleeps():
        return await db.fetchval("""
            SELECT count(*) FROM pg_stat_statements
            WHERE query LIKE 'SELECT pg_sleep(%' AND mean_exec_time >= 500""")

    assert await wait_until(slow_sleeps, timeout=30, interval=0.5)


async def test_n_plus_one_and_many_statement_shapes(db):
    async def enough():
        shapes = await db.fetchval("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '% WHERE id IN (%'")
        return shapes >= 60

    await wait_until(enough, timeout=60, interval=1)
    n_plus_one = await db.fetchrow("""
        SELECT calls, rows FROM pg_stat_statements WHERE query = 'SELECT * FROM users WHERE id = $1'""")
    assert n_plus_one["calls"] >= 100 and n_plus_one["rows"] == n_plus_one["calls"]
    # Different IN-list lengths are different statements to pg_stat_statements.
    lengths = await db.fetchval(r"""
        SELECT count(DISTINCT array_length(regexp_split_to_array(substring(query FROM 'IN \(([^)]*)\)'), ','), 1))
        FROM pg_stat_statements WHERE query LIKE '% WHERE id IN (%'""")
    assert lengths >= 10


async def test_aggregates_over_post_metrics_run(db):
    async def reports():
        return await db.fetchval("""
            SELECT count(*) FROM pg_stat_statements
            WHERE query LIKE '%FROM post_metrics%GROUP BY%' AND calls > 0""")

    assert await wait_until(reports, timeout=30, interval=0.5)


async def lock_chain_formed(db) -> bool:
    text = resources.files("dbtop.engines.postgres.demo").joinpath("lock_chain.sql").read_text()
    row = await db.fetchrow(text)
    return row["depth"] >= 3 and row["waiting"] >= 3


def test_audit_reports_the_planted_problems(demo):
    project = Path(__file__).parent / "fixtures" / "projects" / "broken_alembic"
    result = subprocess.run([*dbtop_command(), "audit", demo.dsn, "--project", str(project), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    found = {row["finding"]["id"]: row["finding"]["severity"] for row in report["findings"]}
    rules = {row["finding"]["rule"] for row in report["findings"]}
    assert {"indexes.duplicate", "backup.no_verified_backup", "backup.archiving_off",
            "project.alembic.multiple_heads"} <= rules
    assert found["views.never_populated:public.weekly_top_posts"] == "high"
    assert found["views.no_unique_index:public.post_engagement_totals"] == "medium"
    assert found["schema.mixed_on_delete:public.posts"] == "high"
    # High once its dead rows pass 10,000, as at full size; the small demo has fewer
    assert found["maintenance.table_autovacuum_off:public.scheduled_posts"] in ("high", "medium")
    assert found["backup.no_verified_backup"] == "critical"
    # the unused index is planted at 21 MB at full size; the small demo's is under the 10 MB threshold
    areas = {a["area"]: a["level"] for a in report["scores"]["areas"]}
    assert areas["backup"] == 1 and areas["migrations"] == 2  # two heads and a broken link: High


async def test_workload_survives_its_sessions_being_terminated(demo, db):
    [workload] = demo.workload_pids()
    fixed_at = time.monotonic()
    terminated = await db.fetchval("""
        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE datname = 'demo' AND application_name = ANY($1::text[])""", sorted(APPLICATIONS))
    assert terminated >= 8
    # Every actor reconnects, and the lock chain forms again instead of waiting out its hold time,
    # but not at once: the operator who broke it sees it gone for a while (DemoWorkload's rest).
    await wait_until(lambda: lock_chain_formed(db), timeout=30, interval=0.5)
    assert time.monotonic() - fixed_at >= 10

    async def all_applications_back():
        names = await db.fetchval("""
            SELECT array_agg(DISTINCT application_name) FROM pg_stat_activity WHERE datname = 'demo'""")
        return set(names) >= APPLICATIONS

    await wait_until(all_applications_back, timeout=30, interval=0.5)
    assert demo.workload_pids() == [workload], "the workload process should have survived"
    assert demo.process.poll() is None


async def test_a_killed_workload_is_started_again(demo, db):
    [workload] = demo.workload_pids()
    os.kill(workload, signal.SIGKILL)
    await wait_until(lambda: (pids := demo.workload_pids()) and pids != [workload], timeout=30, interval=0.5)
    await wait_until(lambda: lock_chain_formed(db), timeout=30, interval=0.5)
    assert demo.process.poll() is None


# -- stopping ------------------------------------------------------------------------------------
def test_sigterm_removes_the_cluster_and_the_workload(demo):
    # Last of the shared demo's tests.
    workload = demo.workload_pids()
    assert len(workload) == 1, "expected exactly one workload process"
    assert children_of(demo.postmaster_pid), "the cluster should be running"
    assert stop(demo, signal.SIGTERM) == 0, demo.stderr()
    assert_nothing_left(demo, workload)
    assert "removing the cluster" in demo.stderr()


def test_ctrl_c_removes_everything(tmp_path):
    running = start_demo(tmp_path, "--rows", "2000")
    workload = running.workload_pids()
    assert stop(running, signal.SIGINT) == 0, running.stderr()
    assert_nothing_left(running, workload)


def test_guardian_cleans_up_after_the_demo_is_killed(tmp_path):
    running = start_demo(tmp_path, "--rows", "2000")
    workload = running.workload_pids()
    assert workload
    running.process.kill()
    running.process.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (running.base_dir.exists() or children_of(running.postmaster_pid)):
        time.sleep(0.2)
    assert not running.base_dir.exists(), "the guardian did not remove the cluster within 15 s"
    assert str(running.base_dir) not in cmdline(running.postmaster_pid)
    assert children_of(running.postmaster_pid) == []
    # The guardian itself ends once it has cleaned up.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any("demo.workload" in cmdline(pid) for pid in workload):
        time.sleep(0.2)
    assert_nothing_left(running, workload)


@pytest.mark.timeout(240)
def test_full_size_demo_builds_in_under_a_minute(tmp_path):
    """The default demo: a million rows in post_metrics, ready (the lock chain formed) in < 60 s."""
    running = start_demo(tmp_path, ready_within_s=120)
    try:
        built = re.search(r"demo database built in ([\d.]+) s", running.stderr())
        print(f"\nfull demo: database built in {built and built[1]} s, ready in {running.seconds_to_ready:.1f} s")
        assert running.seconds_to_ready < 60, running.stderr()
        rows, unused_index_bytes, idx_scan = asyncio.run(fetch_row(running, """
            SELECT (SELECT count(*) FROM post_metrics),
                   pg_relation_size('post_metrics_recorded_at_idx'),
                   (SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'post_metrics_recorded_at_idx')"""))
        assert rows >= 1_000_000
        assert unused_index_bytes >= 10 * 1024 * 1024
        assert idx_scan == 0
    finally:
        workload = running.workload_pids()
        assert stop(running) == 0
    assert_nothing_left(running, workload)

