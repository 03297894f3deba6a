"""The PostgreSQL actions (issue 12), each through the runner against the suite's real server: its
plan (statements, preconditions, risk), refusal of a wrong typed name, its effect, its journal line;
acting only on what was seen; privileges named before confirming; cancellation; one action per
object at a time. The pure plan builders are tested without a server at the end."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from dbtop.actions import registry
from dbtop.actions.journal import Journal
from dbtop.actions.pg_common import split_name
from dbtop.actions.plan import Plan, PlannedStatement, PlanTarget, Precondition
from dbtop.actions.sessions import pids_of, signal_plan
from dbtop.actions.refresh_view import refresh_view_plan
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.postgres.views import latest_refresh
from dbtop.engines.snapshot import ViewRefresh
from dbtop.profiles.target import resolve_target
from dbtop.tui.plan_text import outcome_line

from .conftest import open_lock_chain, wait_until

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
TARGET = PlanTarget(engine="postgres", label="t", database="app", system_identifier="1")


@pytest.fixture
def journal(tmp_path, monkeypatch) -> Journal:
    """The default journal, in a temporary XDG state directory (where the views reader looks too)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return Journal()


@pytest.fixture(autouse=True)
def drop_what_the_tests_made(request):
    """The shared server is left as found: other modules count its views and tables."""
    yield
    if "pg" in request.fixturenames:
        pg = request.getfixturevalue("pg")
        pg.psql("DROP MATERIALIZED VIEW IF EXISTS act_mv, act_mv2; "
                "DROP TABLE IF EXISTS act_chain, act_vac, act_vac_big, act_idx, act_reidx, act_child, act_parent, "
                "act_fail, act_owned, public.t")
        pg.psql("DROP DATABASE IF EXISTS act_rl")


def precondition(plan: Plan, name: str) -> Precondition:
    return next(p for p in plan.preconditions if p.name == name)


# -- sessions ------------------------------------------------------------------------------------

async def test_terminating_the_root_of_a_three_deep_chain_ends_the_chain(collector, sessions, journal):
    chain = await open_lock_chain(sessions, "act_chain")
    try:
        root = chain.pid("holder")
        plan = await collector.plan("terminate-session", pids=(root,))
        assert plan.risk == "disruptive" and plan.confirm_text == str(root) and plan.ready
        assert plan.statements == (PlannedStatement(text="SELECT pg_terminate_backend($1, $2)",
                                                    arguments=(root, 5000)),)
        assert "2 session(s) wait behind it" in plan.summary
        assert any("root blocker: 2 session(s) wait behind it" in w for w in plan.warnings)
        assert set(precondition(plan, f"same_session_{root}").seen) == {"backend_start", "query_start"}
        assert not plan.confirmed_by(str(root + 1)) and plan.confirmed_by(str(root))
        outcome = await collector.run(plan)
        assert outcome.status == "done" and outcome.detail == f"terminated session {root}"
        entry = journal.record(plan, outcome, typed=str(root))
        assert entry.action == "terminate-session" and entry.outcome == "done"
        assert entry.statements == [f"SELECT pg_terminate_backend($1, $2)  -- $1 = {root}, $2 = 5000"]
        assert journal.verify().intact
        snapshot = await collector.snapshot()
        assert root not in {s.pid for s in snapshot.sessions}
        await wait_until(lambda: chain.waits[0].done())
        snapshot = await collector.snapshot()
        # the three-deep chain is gone; the middle session, now holding both rows in its open
        # transaction, still blocks the tail (the fixture's middle never commits)
        assert [(r.pid, r.blocks_total) for r in snapshot.blocking.roots] == [(chain.pid("middle"), 1)]
    finally:
        await chain.release()


async def test_a_session_that_ran_another_query_since_the_plan_is_not_cancelled(collector, sessions):
    victim = await sessions(app="victim")
    await victim.execute("SELECT 1")
    plan = await collector.plan("cancel-query", pids=victim.get_server_pid())
    assert plan.params == {"pids": (victim.get_server_pid(),)}
    assert plan.statements[0].text == "SELECT pg_cancel_backend($1)"
    await asyncio.sleep(0.01)
    await victim.execute("SELECT 2")  # a new query: what was shown is no longer what it runs
    outcome = await collector.run(plan)
    assert outcome.status == "refused" and outcome.detail.startswith("nothing ran: session")
    assert await victim.fetchval("SELECT 3") == 3


async def test_a_pid_that_ended_and_a_server_process_are_refused(collector):
    plan = await collector.plan("terminate-session", pids=(999999,))
    assert not plan.ready and "no session has pid 999999" in precondition(plan, "same_session_999999").detail
    checkpointer = int((await collector._conn.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")))
    plan = await collector.plan("terminate-session", pids=checkpointer)
    assert "not a client session" in precondition(plan, f"same_session_{checkpointer}").detail


@pytest.fixture
def plain_role(pg):
    pg.psql("DROP OWNED BY act_plain; DROP ROLE IF EXISTS act_plain" if pg.psql(
        "SELECT 1 FROM pg_roles WHERE rolname = 'act_plain'").strip() else "SELECT 1")
    pg.psql("CREATE ROLE act_plain LOGIN; GRANT pg_read_all_stats TO act_plain")
    yield PostgresCollector(resolve_target(pg.dsn(user="act_plain")))
    pg.psql("DROP OWNED BY act_plain; DROP ROLE act_plain")


async def test_a_role_without_the_privilege_gets_a_failed_precondition_naming_it(pg, plain_role, sessions):
    other = await sessions(app="someone-else")
    pid = other.get_server_pid()
    plan = await plain_role.plan("terminate-session", pids=(pid,))
    failed = precondition(plan, f"may_signal_{pid}")
    assert not failed.passed and "is a superuser" not in failed.detail
    assert "superuser" in failed.detail  # the suite's sessions are the superuser's
    pg.psql("DROP TABLE IF EXISTS act_owned; CREATE TABLE act_owned (a int)")
    plan = await plain_role.plan("vacuum", table="public.act_owned")
    assert not plan.ready
    assert precondition(plan, "privilege").detail.startswith("act_plain needs ownership of public.act_owned")
    outcome = await plain_role.run(plan)
    assert outcome.status == "refused"
    pg.psql("CREATE ROLE act_other LOGIN")
    try:
        not_mine = await sessions(user="act_other")
        plan = await plain_role.plan("cancel-query", pids=not_mine.get_server_pid())
        assert "needs pg_signal_backend (GRANT pg_signal_backend TO act_plain)" in \
            precondition(plan, f"may_signal_{not_mine.get_server_pid()}").detail
        not_mine.terminate()
    finally:
        pg.psql("DROP ROLE act_other")


# -- materialized views --------------------------------------------------------------------------

async def test_refreshing_a_never_populated_view_shows_it_fresh_from_dbtop_action(pg, pg_target, journal):
    pg.psql("DROP MATERIALIZED VIEW IF EXISTS act_mv; "
            "CREATE MATERIALIZED VIEW act_mv AS SELECT g AS id FROM generate_series(1, 10) g WITH NO DATA")
    collector = PostgresCollector(pg_target)  # views read every 30 s: the action makes them due
    await collector.connect()
    try:
        before = next(v for v in (await collector.snapshot()).views.views if v.name == "act_mv")
        assert not before.populated and before.stale is True
        plan = await collector.plan("refresh-view", view="public.act_mv")
        assert plan.statements == (PlannedStatement(text="REFRESH MATERIALIZED VIEW public.act_mv"),)
        assert plan.risk == "disruptive" and plan.confirm_text == "public.act_mv" and plan.ready
        assert "ACCESS EXCLUSIVE lock on public.act_mv" in plan.warnings[0]
        assert "how long it takes is not known" in plan.warnings[0]
        assert not plan.confirmed_by("act_mv")
        outcome = await collector.run(plan)
        assert outcome.status == "done"
        journal.record(plan, outcome, typed="public.act_mv")
        view = next(v for v in (await collector.snapshot()).views.views if v.name == "act_mv")
        assert view.populated and view.last_refresh.source == "dbtop_action" and view.stale is False
        assert view.last_refresh.concurrently is False and view.last_refresh.role == pg.superuser
        # the next plan knows how long that took; with a unique index it goes concurrently
        pg.psql("CREATE UNIQUE INDEX ON act_mv (id)")
        again = await collector.plan("refresh-view", view="act_mv")
        assert again.statements[0].text == "REFRESH MATERIALIZED VIEW CONCURRENTLY public.act_mv"
        assert again.risk == "reversible" and again.confirm_text is None
        assert "the last refresh took" in again.warnings[0] and "dbtop's journal" in again.warnings[0]
    finally:
        await collector.close()


async def test_a_view_dropped_and_created_again_is_not_the_one_seen(pg, collector):
    pg.psql("DROP MATERIALIZED VIEW IF EXISTS act_mv2; CREATE MATERIALIZED VIEW act_mv2 AS SELECT 1 AS a")
    plan = await collector.plan("refresh-view", view="public.act_mv2")
    pg.psql("DROP MATERIALIZED VIEW act_mv2; CREATE MATERIALIZED VIEW act_mv2 AS SELECT 1 AS a")
    outcome = await collector.run(plan)
    assert outcome.status == "refused" and "same oid" in outcome.detail


# -- maintenance ---------------------------------------------------------------------------------

@pytest.mark.parametrize("action, text", [("vacuum", "VACUUM public.act_vac"), ("analyze", "ANALYZE public.act_vac"),
                                          ("vacuum-analyze", "VACUUM (ANALYZE) public.act_vac")])
async def test_vacuum_and_analyze(pg, collector, journal, action, text):
    pg.psql("DROP TABLE IF EXISTS act_vac; CREATE TABLE act_vac AS SELECT g AS a FROM generate_series(1, 2000) g; "
            "DELETE FROM act_vac WHERE a % 2 = 0")
    plan = await collector.plan(action, table="public.act_vac")
    assert plan.statements == (PlannedStatement(text=text),) and plan.risk == "reversible" and plan.ready
    assert plan.lock_timeout_ms == 2000 and precondition(plan, "same_table").seen["table"] == "public.act_vac"
    outcome = await collector.run(plan, lambda update: None)
    assert outcome.status == "done", outcome
    column = "last_analyze" if action == "analyze" else "last_vacuum"
    assert pg.psql(f"SELECT {column} IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'act_vac'").strip() == "t"
    assert journal.record(plan, outcome).statements == [text]


async def test_vacuum_progress_is_read_beside_it(pg, collector):
    pg.psql("DROP TABLE IF EXISTS act_vac_big; CREATE TABLE act_vac_big AS SELECT g AS a, repeat('x', 200) AS b "
            "FROM generate_series(1, 60000) g; DELETE FROM act_vac_big WHERE a % 3 = 0")
    plan = await collector.plan("vacuum", table="act_vac_big")
    updates = []
    # slow the vacuum down (cost-based delay) so that it is seen running
    plan = plan.model_copy(update={"statements": (PlannedStatement(text="VACUUM public.act_vac_big"),)})
    async with collector.actions.session() as session:
        await session.conn.execute("SET vacuum_cost_delay = 20; SET vacuum_cost_limit = 50")
        from dbtop.actions.maintenance import VACUUM
        await VACUUM.run(session, plan, updates.append)
    assert updates and updates[-1].unit == "heap blocks" and updates[-1].total > 0


# -- indexes -------------------------------------------------------------------------------------

async def test_drop_index_drops_a_duplicate_and_refuses_a_constraint_index(pg, collector, journal):
    pg.psql("DROP TABLE IF EXISTS act_idx; CREATE TABLE act_idx (id int PRIMARY KEY, a int); "
            "CREATE INDEX act_idx_a ON act_idx (a); CREATE INDEX act_idx_a_dup ON act_idx (a)")
    plan = await collector.plan("drop-index", index="public.act_idx_a_dup")
    assert plan.statements == (PlannedStatement(text="DROP INDEX CONCURRENTLY public.act_idx_a_dup"),)
    assert plan.risk == "destructive" and plan.confirm_text == "public.act_idx_a_dup" and plan.ready
    assert not plan.confirmed_by("act_idx_a_dup")
    outcome = await collector.run(plan)
    assert outcome.status == "done"
    assert pg.psql("SELECT to_regclass('act_idx_a_dup') IS NULL").strip() == "t"
    assert journal.record(plan, outcome, typed="public.act_idx_a_dup").detail["result"] == \
        "dropped index public.act_idx_a_dup"
    refused = await collector.plan("drop-index", index="public.act_idx_pkey")
    assert not refused.ready and "backs constraint act_idx_pkey (primary key)" in \
        precondition(refused, "no_constraint").detail


async def test_reindex_rebuilds_an_invalid_index(pg, collector):
    pg.psql("DROP TABLE IF EXISTS act_reidx; CREATE TABLE act_reidx (a int); CREATE INDEX act_reidx_a ON act_reidx (a);"
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'act_reidx_a'::regclass")
    plan = await collector.plan("reindex", index="public.act_reidx_a")
    assert plan.statements[0].text == "REINDEX INDEX CONCURRENTLY public.act_reidx_a"
    assert "(INVALID)" in plan.summary and plan.risk == "reversible"
    outcome = await collector.run(plan)
    assert outcome.status == "done"
    assert pg.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'act_reidx_a'::regclass").strip() == "t"


async def test_create_index_on_a_foreign_keys_columns(pg, collector):
    pg.psql("DROP TABLE IF EXISTS act_child, act_parent; CREATE TABLE act_parent (id int PRIMARY KEY); "
            "CREATE TABLE act_child (id int, parent_id int REFERENCES act_parent)")
    plan = await collector.plan("create-index", table="public.act_child", columns="parent_id")
    assert plan.statements[0].text == "CREATE INDEX CONCURRENTLY act_child_parent_id_idx ON public.act_child (parent_id)"
    assert plan.ready and plan.risk == "reversible"
    assert (await collector.run(plan)).status == "done"
    again = await collector.plan("create-index", table="public.act_child", columns="parent_id")
    assert not again.ready and "act_child_parent_id_idx already starts with them" in \
        precondition(again, "not_indexed").detail
    missing = await collector.plan("create-index", table="public.act_child", columns="nope")
    assert precondition(missing, "columns").detail == "no column nope"


async def blocked_build(pg, collector, sessions):
    """A CREATE INDEX CONCURRENTLY on act_fail started behind a writer's open transaction, which it
    waits for (and so does the DROP of the INVALID index it leaves). Returns (writer, plan, the
    running task, a monitoring session)."""
    pg.psql("DROP TABLE IF EXISTS act_fail; CREATE TABLE act_fail (a int)")
    writer = await sessions(app="writer")
    await writer.execute("BEGIN; INSERT INTO act_fail VALUES (1)")
    plan = await collector.plan("create-index", table="act_fail", columns="a")
    return writer, plan, asyncio.ensure_future(collector.run(plan)), await sessions()


async def cleanup_dropped(pg, writer, monitor, running):
    """Let the clean-up's DROP INDEX CONCURRENTLY through once it waits; the outcome."""
    await wait_until(lambda: monitor.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'DROP INDEX CONCURRENTLY IF EXISTS%'"),
        timeout=15)
    await writer.execute("COMMIT")
    outcome = await running
    assert pg.psql("SELECT count(*) FROM pg_index WHERE indrelid = 'act_fail'::regclass").strip() == "0"
    return outcome


async def test_a_failed_build_drops_the_invalid_index_it_left(pg, collector, sessions, journal):
    writer, plan, running, monitor = await blocked_build(pg, collector, sessions)
    # the build times out (lock_timeout) waiting for the writer
    outcome = await cleanup_dropped(pg, writer, monitor, running)
    assert outcome.status == "failed"
    assert "lock timeout" in outcome.detail and "the INVALID index act_fail_a_idx it left was dropped" in outcome.detail
    assert "was dropped" in journal.record(plan, outcome).detail["result"]


async def test_a_cancelled_build_drops_the_invalid_index_it_left(pg, collector, sessions):
    writer, plan, running, monitor = await blocked_build(pg, collector, sessions)
    build = await wait_until(lambda: monitor.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'"))
    running.cancel()
    outcome = await cleanup_dropped(pg, writer, monitor, running)
    assert outcome.status == "cancelled"
    assert f"backend {build} was cancelled" in outcome.detail and "act_fail_a_idx it left was dropped" in outcome.detail


# -- slots, refresh log --------------------------------------------------------------------------

async def test_drop_slot(pg, collector):
    pg.psql("SELECT pg_drop_replication_slot('act_slot') FROM pg_replication_slots WHERE slot_name = 'act_slot'")
    pg.psql("SELECT pg_create_physical_replication_slot('act_slot', true)")
    plan = await collector.plan("drop-slot", slot="act_slot")
    assert plan.statements == (PlannedStatement(text="SELECT pg_drop_replication_slot($1)", arguments=("act_slot",)),)
    assert plan.risk == "destructive" and plan.confirm_text == "act_slot" and plan.ready
    assert (await collector.run(plan)).status == "done"
    assert pg.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'act_slot'").strip() == "0"
    gone = await collector.plan("drop-slot", slot="act_slot")
    assert not gone.ready and "no replication slot named act_slot" in gone.preconditions[0].detail


async def test_install_and_uninstall_the_refresh_log(pg, journal):
    pg.psql("DROP DATABASE IF EXISTS act_rl")
    pg.psql("CREATE DATABASE act_rl")
    collector = PostgresCollector(resolve_target(pg.dsn(database="act_rl")))
    install = await collector.plan("install-refresh-log")
    assert install.ready and install.risk == "reversible" and "CREATE EVENT TRIGGER" in install.statements[0].text
    assert install.confirm_text == "act_rl"  # it creates objects in someone's database: its name is typed
    assert (await collector.run(install)).status == "done"
    assert not (await collector.plan("install-refresh-log")).ready
    # with the log installed, a refresh dbtop ran shows as dbtop's (the demo's case), the log's duration kept
    pg.psql("CREATE MATERIALIZED VIEW rl_mv AS SELECT 1 AS a WITH NO DATA", database="act_rl")
    refresh = await collector.plan("refresh-view", view="public.rl_mv")
    journal.record(refresh, await collector.run(refresh), typed="public.rl_mv")
    await collector.connect()
    try:
        view = (await collector.snapshot()).views.views[0]
    finally:
        await collector.close()
    assert view.last_refresh.source == "dbtop_action" and view.last_refresh.duration_s < 1
    assert (await collector.plan("refresh-view", view="public.rl_mv")).warnings[0].endswith("(from dbtop's journal)")
    uninstall = await collector.plan("uninstall-refresh-log")
    assert uninstall.risk == "destructive" and uninstall.confirm_text == "act_rl" and uninstall.ready
    assert (await collector.run(uninstall)).status == "done"
    assert pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'dbtop'", database="act_rl").strip() == "0"


# -- cancellation, one action per object ----------------------------------------------------------

class Sleep:
    """A long action on `table` (a pg_sleep), to cancel and to collide with."""

    name = "test-sleep"
    engines = frozenset({"postgres"})

    async def plan(self, session, *, table: str) -> Plan:
        return Plan(action=self.name, target=session.target, summary="sleep", params={"table": table},
                    statements=(PlannedStatement(text="SELECT pg_sleep(30)"),), risk="reversible",
                    statement_timeout_ms=60_000, planned_at=datetime.now(timezone.utc))

    async def run(self, session, plan: Plan, progress) -> str:
        async def nothing(conn, pid):
            return None
        await session.execute_watched(plan.statements[0], progress, nothing)
        return "slept"


SLEEP = Sleep()


@pytest.fixture
def sleep_action(monkeypatch):
    monkeypatch.setitem(registry.ACTIONS, Sleep.name, (__name__, "SLEEP"))


async def test_cancelling_a_running_action_cancels_its_backend(collector, sleep_action, sessions):
    plan = await collector.plan(Sleep.name, table="public.t")
    task = asyncio.ensure_future(collector.run(plan, lambda update: None))
    monitor = await sessions()
    pid = await wait_until(lambda: monitor.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"))
    # a second action on the same object is refused while the first runs
    busy = await collector.run(await collector.plan("vacuum", table="public.t"))
    assert busy.status == "refused" and "test-sleep is already running on public.t" in busy.detail
    task.cancel()
    outcome = await task
    assert outcome.status == "cancelled" and f"backend {pid} was cancelled" in outcome.detail
    assert not await monitor.fetchval("SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $1", pid)
    assert outcome.duration_s < 10


# -- the pure plans ------------------------------------------------------------------------------

def session_row(**changes):
    row = dict(pid=4242, found=True, backend_type="client backend", usename="alice", datname="app",
               backend_start=NOW, query_start=NOW, state="idle in transaction", query="UPDATE t SET a = 1",
               superuser_session=False, member=False, waiting_behind=0, role="ops", here="app", superuser=False,
               signal_backend=True)
    row.update(changes)
    return row


def test_signal_plans_several_sessions_and_names_what_is_missing():
    plan = signal_plan("terminate-session", [session_row(waiting_behind=3), session_row(pid=4243, datname="other")],
                       target=TARGET, major=13, planned_at=NOW)
    assert plan.confirm_text == "4242,4243" and plan.params == {"pids": (4242, 4243)}
    assert [s.shown() for s in plan.statements] == ["SELECT pg_terminate_backend($1)  -- $1 = 4242",
                                                    "SELECT pg_terminate_backend($1)  -- $1 = 4243"]
    assert plan.summary == "terminate 2 sessions (4242, 4243); 3 session(s) wait behind it"
    assert any("in database other" in w for w in plan.warnings) and plan.ready
    superuser = signal_plan("cancel-query", [session_row(superuser_session=True, usename="postgres")],
                            target=TARGET, major=15, planned_at=NOW)
    assert superuser.failed[0].detail.startswith("session 4242 is superuser postgres's: only a superuser may cancel")
    neither = signal_plan("cancel-query", [session_row(signal_backend=False)], target=TARGET, major=15, planned_at=NOW)
    assert "ops needs pg_signal_backend (GRANT pg_signal_backend TO ops) or membership in alice" in \
        neither.failed[0].detail
    assert pids_of("4242, 4243") == (4242, 4243) and pids_of(7) == (7,) and pids_of([7, 7]) == (7,)
    with pytest.raises(ValueError):
        pids_of("abc")


def test_refresh_plans_without_a_server():
    facts = dict(oid=5, schema_name="s", name="V", relkind="m", owner="o", populated=True, unique_index=False,
                 locked_by=[], role="o", superuser=False, owns=True, owns_database=False, shared=False, maintain=None)
    last = ViewRefresh(source="refresh_log", at=NOW, duration_s=12.5)
    plan = refresh_view_plan("s.V", facts, last, target=TARGET, planned_at=NOW)
    assert plan.statements[0].text == 'REFRESH MATERIALIZED VIEW s."V"' and plan.confirm_text == "s.V"
    assert "the last refresh took 12.5 s (from dbtop's refresh log)" in plan.warnings[0]
    assert plan.statement_timeout_ms == 60_000 and plan.lock_timeout_ms == 1000
    seventeen = refresh_view_plan("s.V", {**facts, "owns": False, "maintain": False}, None, target=TARGET,
                                  planned_at=NOW)
    assert "needs the MAINTAIN privilege on s.V" in seventeen.failed[0].detail
    logged = ViewRefresh(source="refresh_log", at=NOW, duration_s=2.0)
    ours = ViewRefresh(source="dbtop_action", at=NOW.replace(second=1), duration_s=2.4)
    assert latest_refresh(ours, logged) == ours.model_copy(update={"duration_s": 2.0})  # the same refresh
    assert latest_refresh(ours, logged.model_copy(update={"at": NOW.replace(minute=5)})).source == "refresh_log"
    assert latest_refresh(None, logged) == logged and latest_refresh(ours, None) == ours
    assert split_name('"My S"."T.x"') == ("My S", "T.x") and split_name("a.b.c") == ("a", "b.c")
    assert split_name("t") == (None, "t")


async def test_an_action_that_gave_up_waiting_names_who_holds_the_lock(pg, collector, sessions):
    pg.psql("DROP TABLE IF EXISTS act_held; CREATE TABLE act_held (a int); CREATE INDEX act_held_a_idx ON act_held (a)")
    reader = await sessions(app="held-by-reader")
    await reader.execute("BEGIN; SELECT count(*) FROM act_held")  # idle in transaction, holding ACCESS SHARE
    try:
        plan = await collector.plan("drop-index", index="public.act_held_a_idx")
        pid = reader.get_server_pid()
        assert any(w.startswith(f"session {pid} (held-by-reader, idle in transaction since ") and
                   "leaves the index INVALID" in w for w in plan.warnings)
        outcome = await collector.run(plan)
        assert outcome.status == "failed" and "lock timeout" in outcome.detail
        pid = reader.get_server_pid()
        assert f"the lock is held by session {pid} (held-by-reader, idle in transaction since " in outcome.detail
        # DROP INDEX CONCURRENTLY's first step marks the index INVALID before it waits: said, with what to do
        assert pg.psql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'act_held_a_idx'::regclass").strip() == "f"
        assert "index public.act_held_a_idx is left INVALID: queries no longer use it" in outcome.detail
        assert "Locks panel" not in outcome_line(outcome)  # it shows waiting sessions; this one is idle
        # a statement the action runs itself (VACUUM) names the holders from the runner
        pg.psql("CREATE TABLE IF NOT EXISTS act_held_b (a int)")
        await reader.execute("LOCK TABLE act_held_b IN SHARE UPDATE EXCLUSIVE MODE")
        vacuum = await collector.run(await collector.plan("vacuum", table="public.act_held_b"))
        assert vacuum.status == "failed" and f"held by session {pid} (held-by-reader" in vacuum.detail
        assert vacuum.detail.endswith("wait for them to finish, or end them (Connections panel), then run it again")
    finally:
        await reader.execute("ROLLBACK")
        pg.psql("DROP TABLE act_held; DROP TABLE IF EXISTS act_held_b")
