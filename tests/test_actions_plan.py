"""The action seam: the Plan type, refusal of unknown actions, and the PostgreSQL runner on a
connection of its own, proven with an action defined here (tests/test_actions_postgres.py tests the
actions dbtop ships)."""

from __future__ import annotations

from datetime import datetime, timezone

import asyncpg
import pytest
from pydantic import ValidationError

from dbtop.actions import registry
from dbtop.actions.plan import Outcome, Plan, PlannedStatement, PlanTarget, Precondition, ProgressUpdate
from dbtop.engines.errors import ActionRefused, UnknownAction
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.registry import collector_for
from dbtop.profiles.target import resolve_target

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
TARGET = PlanTarget(engine="postgres", label="ops@db1:5432/app", profile="prod", host="db1", database="app",
                    system_identifier="7313136098020860212")


def terminate_plan(**changes) -> Plan:
    values = dict(
        action="terminate", target=TARGET, summary="terminate session 4242 (alice, app)", params={"pid": 4242},
        statements=(PlannedStatement(text="SELECT pg_terminate_backend($1)", arguments=(4242,)),),
        preconditions=(Precondition(name="same_query", description="session 4242 still runs the query shown",
                                    passed=True, seen={"backend_start": "2025-05-01T11:00:00+00:00",
                                                       "query_id": 991}),),
        risk="disruptive", confirm_text="4242", statement_timeout_ms=5000, lock_timeout_ms=500, planned_at=NOW)
    values.update(changes)
    return Plan(**values)


# -- the types, without a server ------------------------------------------------------------------

def test_a_plan_is_frozen_and_round_trips_through_json():
    plan = terminate_plan()
    with pytest.raises(ValidationError):
        plan.risk = "read-only"
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    outcome = Outcome(action="terminate", target=TARGET, status="done", detail="session 4242 terminated",
                      preconditions=plan.preconditions, started_at=NOW, finished_at=NOW.replace(second=2))
    assert Outcome.model_validate_json(outcome.model_dump_json()) == outcome
    assert outcome.duration_s == 2


def test_a_plan_names_what_it_runs_and_a_disruptive_one_what_to_type():
    with pytest.raises(ValidationError, match="needs the text the operator types"):
        terminate_plan(confirm_text=None)
    with pytest.raises(ValidationError, match="names the statements, the command or the request"):
        terminate_plan(statements=())
    with pytest.raises(ValidationError):
        terminate_plan(risk="harmless")
    assert terminate_plan(statements=(), command=("pg_dump", "-Fc", "app"), risk="read-only", confirm_text=None)


def test_confirmation_is_the_exact_text_and_preconditions_gate_it():
    plan = terminate_plan()
    assert plan.confirmed_by("4242") and plan.confirmed_by(" 4242 ")
    assert not plan.confirmed_by("") and not plan.confirmed_by("424")
    assert terminate_plan(risk="reversible", confirm_text=None).confirmed_by("")
    assert plan.ready
    blocked = terminate_plan(preconditions=(Precondition(name="privilege", description="may signal 4242",
                                                         passed=False, detail="needs pg_signal_backend"),))
    assert not blocked.ready and [p.name for p in blocked.failed] == ["privilege"]


def test_statements_are_shown_with_their_arguments():
    assert terminate_plan().statements[0].shown() == "SELECT pg_terminate_backend($1)  -- $1 = 4242"
    assert PlannedStatement(text="VACUUM t").shown() == "VACUUM t"


def test_what_changed_between_plan_and_run_is_said():
    plan = terminate_plan()
    assert plan.changes_since(terminate_plan(planned_at=NOW.replace(minute=5))) == []
    reused = Precondition(name="same_query", description="session 4242 still runs the query shown", passed=False,
                          detail="pid 4242 now belongs to a session started at 11:59",
                          seen={"backend_start": "2025-05-01T11:59:00+00:00", "query_id": 991})
    assert plan.changes_since(terminate_plan(preconditions=(reused,))) == [
        "session 4242 still runs the query shown: pid 4242 now belongs to a session started at 11:59"]
    rebuilt = terminate_plan(target=TARGET.model_copy(update={"system_identifier": "1"}))
    assert plan.changes_since(rebuilt) == [
        "the target changed: ops@db1:5432/app (system 7313136098020860212) is now ops@db1:5432/app (system 1)"]


def test_progress_fraction():
    assert ProgressUpdate(phase="scanning heap", done=50, total=200, unit="blocks").fraction == 0.25
    assert ProgressUpdate(phase="starting").fraction is None


async def test_an_unknown_action_is_refused_in_one_line_before_connecting():
    # No server at this address: refusing must not need one.
    collector = collector_for(resolve_target("postgresql://nobody@127.0.0.1:1/none"))
    with pytest.raises(UnknownAction) as refused:
        await collector.plan("terminate", pid=4242)
    assert isinstance(refused.value, ActionRefused)
    known = ", ".join(sorted(registry.ACTIONS))
    assert str(refused.value) == f"dbtop has no action named 'terminate' (actions: {known})"
    with pytest.raises(UnknownAction):
        await collector.run(terminate_plan(target=TARGET.model_copy(update={"label": collector.target.label})))


async def test_a_plan_for_another_target_is_refused():
    collector = collector_for(resolve_target("postgresql://nobody@127.0.0.1:1/none"))
    with pytest.raises(ActionRefused, match="the plan is for ops@db1:5432/app"):
        await collector.run(terminate_plan())


# -- the PostgreSQL runner, with an action defined by this test -----------------------------------

class CreateTable:
    """Creates a table that must not exist yet: enough to see where and how the runner runs."""

    name = "test-create-table"
    engines = frozenset({"postgres"})
    seen_connections: list[dict] = []

    async def plan(self, session, *, table: str) -> Plan:
        row = await session.conn.fetchrow(
            "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS application, "
            "to_regclass($1)::oid::bigint AS oid", table)
        self.seen_connections.append(dict(row))
        return Plan(action=self.name, target=session.target, summary=f"create table {table}", params={"table": table},
                    statements=(PlannedStatement(text=f"CREATE TABLE {table} (a int)"),), risk="reversible",
                    preconditions=(Precondition(name="absent", description=f"{table} does not exist yet",
                                                passed=row["oid"] is None, seen={"oid": row["oid"]}),),
                    planned_at=datetime.now(timezone.utc))

    async def run(self, session, plan: Plan, progress) -> str:
        for statement in plan.statements:
            await session.conn.execute(statement.text, *statement.arguments)
        progress(ProgressUpdate(phase="created", done=1, total=1))
        return f"created {plan.params['table']}"


CREATE_TABLE = CreateTable()


@pytest.fixture
def test_action(monkeypatch):
    monkeypatch.setitem(registry.ACTIONS, CreateTable.name, (__name__, "CREATE_TABLE"))
    CreateTable.seen_connections.clear()


async def test_actions_plan_and_run_on_a_connection_of_their_own(pg, collector, test_action):
    pg.psql("DROP TABLE IF EXISTS action_seam")
    plan = await collector.plan(CreateTable.name, table="action_seam")
    assert plan.ready and plan.target.engine == "postgres" and plan.target.database == "postgres"
    assert plan.target.system_identifier == pg.psql("SELECT system_identifier FROM pg_control_system()").strip()
    updates = []
    outcome = await collector.run(plan, updates.append)
    assert outcome.status == "done" and outcome.detail == "created action_seam"
    assert [u.phase for u in updates] == ["created"]
    assert pg.psql("SELECT to_regclass('action_seam') IS NOT NULL").strip() == "t"
    monitoring = collector._conn.get_server_pid()
    assert len(CreateTable.seen_connections) == 2  # planned, then planned again just before running
    for seen in CreateTable.seen_connections:
        assert seen["pid"] != monitoring and seen["application"] == "dbtop action"
    # The monitoring connection stays read-only.
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await collector._conn.execute("CREATE TABLE from_the_monitor (a int)")


async def test_nothing_runs_when_what_the_plan_rests_on_changed(pg, pg_target, test_action):
    pg.psql("DROP TABLE IF EXISTS action_raced")
    collector = PostgresCollector(pg_target)
    plan = await collector.plan(CreateTable.name, table="action_raced")
    pg.psql("CREATE TABLE action_raced (b text)")  # someone else, between confirm and run
    outcome = await collector.run(plan)
    assert outcome.status == "refused"
    assert outcome.detail == "nothing ran: action_raced does not exist yet: failed"
    assert pg.psql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'action_raced'::regclass AND attname = 'a'"
                   ).strip() == "0"


async def test_a_server_error_while_running_is_a_failed_outcome(pg_target, test_action):
    collector = PostgresCollector(pg_target)
    plan = await collector.plan(CreateTable.name, table="no_such_schema.t")
    outcome = await collector.run(plan)
    assert outcome.status == "failed"
    assert outcome.detail == 'the server refused or stopped the action: schema "no_such_schema" does not exist'


def test_a_tuple_of_pids_is_a_parameter_that_round_trips_through_json():
    plan = terminate_plan(params={"pids": (4242, 4243)},
                          statements=(PlannedStatement(text="SELECT pg_terminate_backend(p) FROM unnest($1::int[]) p",
                                                       arguments=((4242, 4243),)),))
    again = Plan.model_validate_json(plan.model_dump_json())
    assert again == plan and again.params["pids"] == (4242, 4243)
