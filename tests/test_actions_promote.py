"""promote (issue 13, plain streaming): the pure plan builder for each precondition's outcome, then
real pairs the tests start themselves (never the suite's shared `pg`/`standby`): refused while replay
lags or is paused, refused on the command line while the primary answers unless `split-brain` is also
given (and then done, with the new timeline and the journal line), done from the Replication panel
with the primary stopped, the confirm screen's second field, and the shown pg_rewind steps bringing
the old primary back as a standby."""

from __future__ import annotations

import asyncio
import shlex
from datetime import datetime, timezone

import pytest
from textual.widgets import Button, Input

from dbtop.actions.journal import Journal
from dbtop.actions.plan import Plan, PlanTarget, Precondition
from dbtop.actions.promote import (DOWN, PRIMARY, REFUSED, SPLIT_BRAIN, STANDBY, STREAMING, UNKNOWN,
                                   confirm_text_for, primary_address, promote_plan, source_server)
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target
from dbtop.tui.commands import act as act_command
from dbtop.tui.commands import guarded
from dbtop.tui.confirm import ConfirmScreen

from . import fakes
from .conftest import wait_until
from .fakes import FakeCollector, fake_dashboard
from .test_app import dashboard, screen_text, toasts, until

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
TARGET = PlanTarget(engine="postgres", label="ops@db2:5432/app", profile="db2", host="db2", database="app",
                    system_identifier="7313136098020860212")


def standby_facts(**changes) -> dict:
    facts = {"in_recovery": True, "pause_state": "not paused", "received_lsn": "0/3000060",
             "replayed_lsn": "0/3000060", "unreplayed_bytes": 0, "replay_lag_s": 0.0, "receiver_status": None,
             "sender_host": None, "sender_port": None, "primary_conninfo": "user=ops host=db1 port=5432",
             "primary_slot_name": None,
             "data_checksums": "off", "full_page_writes": "on", "superuser": True, "may_promote": True,
             "role": "ops", "timeline": 1}
    facts.update(changes)
    return facts


def old_primary(state: str = DOWN, **changes) -> dict:
    found = {"state": state, "where": "db1:5432", "source": "primary_conninfo", "host": "db1", "port": 5432,
             "error": "cannot reach ops@db1:5432/app: connection refused" if state == DOWN else None}
    if state in (PRIMARY, STANDBY):
        found.update(in_recovery=state == STANDBY, system_identifier=TARGET.system_identifier, wal_log_hints="on",
                     data_checksums="off", full_page_writes="on", data_directory="/srv/pg/db1", port="5432")
    found.update(changes)
    return found


def plan_of(facts: dict | None = None, primary: dict | None = None, **options) -> Plan:
    return promote_plan(facts or standby_facts(), primary or old_primary(), target=TARGET, confirm_text="db2",
                        source="host=db2 port=5432 user=ops dbname=app", max_lag_s=options.pop("max_lag_s", 10.0),
                        planned_at=NOW, **options)


def precondition(plan: Plan, name: str) -> Precondition:
    return next(p for p in plan.preconditions if p.name == name)


# -- the pure plan builder -----------------------------------------------------------------------

def test_a_caught_up_standby_whose_primary_is_down_may_be_promoted_with_its_name_alone():
    plan = plan_of()
    assert plan.ready and plan.risk == "disruptive"
    assert [s.shown() for s in plan.statements] == ["SELECT pg_promote(wait => true, wait_seconds => $1)  -- $1 = 60"]
    assert plan.confirm_text == "db2" and plan.second_confirm_text is None
    assert plan.confirmed_by("db2") and not plan.confirmed_by("db1")
    assert "does not answer" in precondition(plan, "old_primary").detail
    assert not any(SPLIT_BRAIN in w for w in plan.warnings)


def test_a_primary_is_not_a_standby():
    plan = plan_of(standby_facts(in_recovery=False, pause_state=None, received_lsn=None, unreplayed_bytes=None,
                                 replay_lag_s=None))
    failed = {p.name: p.detail for p in plan.failed}
    assert "already a primary" in failed["in_recovery"]
    assert "not a standby" in failed["replay_not_paused"] and "not a standby" in failed["replay_lag"]


@pytest.mark.parametrize("state", ["paused", "pause requested"])
def test_paused_replay_refuses(state):
    plan = plan_of(standby_facts(pause_state=state))
    assert [p.name for p in plan.failed] == ["replay_not_paused"]
    assert f"replay is {state}" in plan.failed[0].detail and "pg_wal_replay_resume()" in plan.failed[0].detail


def test_replay_lag_over_the_threshold_refuses_and_says_the_lag():
    lagging = standby_facts(replayed_lsn="0/3000000", unreplayed_bytes=3 * 1024 * 1024, replay_lag_s=42.0)
    plan = plan_of(lagging)
    assert [p.name for p in plan.failed] == ["replay_lag"]
    detail = plan.failed[0].detail
    assert "42s behind" in detail and "3.0 MB received but not replayed" in detail and "over the 10s limit" in detail
    assert plan_of(lagging, max_lag_s=60).ready  # the profile's failover_max_lag decides
    assert "within failover_max_lag (10s)" in plan.failed[0].description


def test_a_lag_that_cannot_be_read_refuses():
    never_streamed = plan_of(standby_facts(received_lsn=None, unreplayed_bytes=None, replay_lag_s=None))
    assert "received no WAL by streaming" in precondition(never_streamed, "replay_lag").detail
    no_replay_yet = plan_of(standby_facts(unreplayed_bytes=100, replay_lag_s=None))
    assert "cannot tell how far behind" in precondition(no_replay_yet, "replay_lag").detail
    assert not never_streamed.ready and not no_replay_yet.ready


def test_a_role_that_may_not_promote_is_named_with_the_grant():
    plan = plan_of(standby_facts(superuser=False, may_promote=False))
    assert [p.name for p in plan.failed] == ["privilege"]
    assert "GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) TO ops" in plan.failed[0].detail
    assert plan_of(standby_facts(superuser=False, may_promote=True)).ready


@pytest.mark.parametrize("state, says", [
    (PRIMARY, "still answers: promoting makes TWO primaries"),
    (STREAMING, "still streaming from db1:5432"),
    (STANDBY, "is a standby too"),
    (REFUSED, "cannot tell whether it is still a primary"),
    (UNKNOWN, "cannot tell whether this standby's primary still runs"),
])
def test_a_primary_that_answers_or_may_answer_needs_split_brain_typed_as_well(state, says):
    plan = plan_of(primary=old_primary(state))
    assert plan.ready and plan.second_confirm_text == SPLIT_BRAIN
    assert any(says in w for w in plan.warnings), plan.warnings
    assert not plan.confirmed_by("db2") and not plan.confirmed_by("db2", "split brain")
    assert plan.confirmed_by("db2", "split-brain") and not plan.confirmed_by("db1", "split-brain")


def test_another_cluster_at_the_primary_address_is_not_taken_for_the_primary():
    plan = plan_of(primary=old_primary(PRIMARY, system_identifier="1"))
    assert plan.second_confirm_text == SPLIT_BRAIN
    assert "another cluster" in precondition(plan, "old_primary").detail


def test_a_change_of_the_primary_s_state_between_plan_and_run_is_a_change():
    confirmed = plan_of(primary=old_primary(PRIMARY))
    fresh = plan_of()
    changes = confirmed.changes_since(fresh)
    assert any("second confirmation" in c for c in changes) and any("does not answer" in c for c in changes)
    assert plan_of().changes_since(plan_of()) == []


def test_a_cluster_manager_check_comes_first():
    managed = Precondition(name="not_managed", description="no cluster manager runs this cluster", passed=False,
                           detail="Patroni runs it: use dbtop act switchover")
    plan = plan_of(manager=managed)
    assert plan.preconditions[0] == managed and not plan.ready


def test_the_rewind_step_uses_what_the_old_primary_said():
    plan = plan_of(primary=old_primary(PRIMARY))
    steps = "\n".join(plan.manual_steps)
    assert "pg_rewind --target-pgdata=/srv/pg/db1 --source-server='host=db2 port=5432 user=ops dbname=app' -R -P" \
        in steps
    assert "psql 'host=db2 port=5432 user=ops dbname=app' -c CHECKPOINT — " in steps
    assert "pg_ctl -D /srv/pg/db1 -o '-p 5432' -w start — " in steps
    assert "pg_create_physical_replication_slot" not in steps  # no slot was used
    assert "wal_log_hints = on: it is on" in steps and "clean shutdown, which dbtop cannot check" in steps
    assert "ops is a superuser" in steps


def test_the_rewind_step_says_what_it_cannot_check():
    down = "\n".join(plan_of().manual_steps)
    assert "OLD_PRIMARY_DATA_DIR" in down and "cannot check, the old primary did not answer" in down
    off = "\n".join(plan_of(primary=old_primary(PRIMARY, wal_log_hints="off")).manual_steps)
    assert "pg_rewind will refuse" in off
    checksums = "\n".join(plan_of(standby_facts(data_checksums="on")).manual_steps)
    assert "data checksums: on" in checksums and "wal_log_hints is not needed" in checksums


def test_the_rewind_steps_create_the_slot_the_standby_used():
    steps = plan_of(standby_facts(primary_slot_name="o'slot")).manual_steps
    [create] = [step for step in steps if "pg_create_physical_replication_slot" in step]
    argv = shlex.split(create.partition(". ")[2].partition(" — ")[0])
    assert argv == ["psql", "host=db2 port=5432 user=ops dbname=app", "-c",
                    "SELECT pg_create_physical_replication_slot('o''slot')"]
    assert "slot o'slot (primary_slot_name)" in create
    [create] = [step for step in plan_of(standby_facts(primary_slot_name="standby_1")).manual_steps
                if "pg_create_physical_replication_slot" in step]
    assert """-c "SELECT pg_create_physical_replication_slot('standby_1')" — """ in create


def test_where_the_primary_is_read_from():
    assert primary_address(standby_facts(sender_host="10.0.0.1", sender_port=5433)) == \
        ("10.0.0.1", 5433, "pg_stat_wal_receiver")
    assert primary_address(standby_facts(primary_conninfo="host='/tmp/s x' port=6000 password=secret")) == \
        ("/tmp/s x", 6000, "primary_conninfo")
    assert primary_address(standby_facts(primary_conninfo="host=a,b")) == ("a", 5432, "primary_conninfo")
    assert primary_address(standby_facts(primary_conninfo=None)) is None
    assert primary_address(standby_facts(primary_conninfo="user=x")) is None


def test_what_the_operator_types_and_where_pg_rewind_connects():
    url = resolve_target("postgresql://ops:secret@db2:5433/app")
    unnamed = TARGET.model_copy(update={"profile": None})
    assert confirm_text_for(TARGET, url) == "db2" and confirm_text_for(unnamed, url) == "db2:5433"
    assert source_server(url) == "host=db2 port=5433 user=ops dbname=app"  # never the password


# -- real pairs -------------------------------------------------------------------------------------

@pytest.fixture
def journal(tmp_path, monkeypatch) -> Journal:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return Journal()


@pytest.fixture
def pair(start_cluster):
    """A primary of the test's own and a streaming standby of it; wal_log_hints and full_page_writes on (the
    test clusters run with full_page_writes off) so that the old primary can be rewound."""
    primary = start_cluster(settings={"wal_log_hints": "on", "full_page_writes": "on"})
    standby = primary.create_standby(slot="promote_test")
    yield primary, standby
    standby.destroy()


async def replayed(primary, standby) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    lsn = primary.psql("SELECT pg_current_wal_insert_lsn()")  # the test clusters run synchronous_commit=off
    await wait_until(lambda: standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t")


async def act(args: list[str]) -> int:
    """`dbtop act promote ARGS` in this process (on a thread: the command runs its own event loop)."""
    return await asyncio.to_thread(act_command.run, ["promote", *args])


async def test_promote_is_refused_on_lag_and_paused_replay_and_needs_split_brain_while_the_primary_answers(
        pair, journal, capsys, monkeypatch):
    primary, standby = pair
    primary.psql("CREATE TABLE promote_t (n int); INSERT INTO promote_t VALUES (1)")
    await replayed(primary, standby)  # a replayed transaction: its time is what replay lag is measured from
    collector = PostgresCollector(resolve_target(standby.dsn()), policy=WatchPolicy(failover_max_lag_s=1.0))
    await collector.connect()
    try:
        standby.psql("SELECT pg_wal_replay_pause()")
        primary.psql("INSERT INTO promote_t VALUES (2)")
        await asyncio.sleep(1.2)

        plan = await collector.plan("promote")
        failed = {p.name: p.detail for p in plan.failed}
        assert set(failed) == {"replay_not_paused", "replay_lag"}, failed
        assert "replay is paused" in failed["replay_not_paused"]
        assert "received but not replayed" in failed["replay_lag"] and "over the 1.0s limit" in failed["replay_lag"]
        outcome = await collector.run(plan)  # the runner plans again and refuses: nothing runs
        assert outcome.status == "refused" and standby.psql("SELECT pg_is_in_recovery()") == "t"

        standby.psql("SELECT pg_wal_replay_resume()")
        await replayed(primary, standby)
        plan = await collector.plan("promote")
        assert plan.ready and plan.second_confirm_text == SPLIT_BRAIN
        old = {p.name: p for p in plan.preconditions}["old_primary"]
        assert old.seen == {"primary": f"{primary.socket_dir}:{primary.port}", "state": PRIMARY}
        assert "/srv" not in "\n".join(plan.manual_steps)
        assert f"--target-pgdata={primary.data_dir}" in "\n".join(plan.manual_steps)
        assert "wal_log_hints = on: it is on" in "\n".join(plan.manual_steps)
    finally:
        await collector.close()

    name = f"{standby.socket_dir}:{standby.port}"  # a target given as a connection string: host:port
    assert await act([standby.dsn(), "--confirm", name]) == 2
    err = capsys.readouterr().err
    assert "split-brain" in err and "nothing ran" in err
    assert standby.psql("SELECT pg_is_in_recovery()") == "t"

    monkeypatch.setattr(guarded, "interactive", lambda: True)  # in a terminal both texts are asked
    prompts: list[str] = []
    answers = iter([name, "split brain"])
    asked = await asyncio.to_thread(act_command.run, ["promote", standby.dsn()],
                                    lambda prompt: prompts.append(prompt) or next(answers))
    assert asked == 2 and prompts == [f"Type {name} to run it (anything else cancels): ",
                                      "Type split-brain to accept the warnings above (anything else cancels): "]
    assert "'split brain' does not accept it" in capsys.readouterr().err
    monkeypatch.setattr(guarded, "interactive", lambda: False)

    assert await act([standby.dsn(), "--confirm", name, "--accept-split-brain"]) == 0
    out = capsys.readouterr().out
    assert "done: promoted" in out and "new timeline 2 (was 1)" in out, out
    assert standby.psql("SELECT pg_is_in_recovery()") == "f"
    assert primary.psql("SELECT pg_is_in_recovery()") == "f"  # two primaries: what the operator accepted
    standby.psql("CHECKPOINT")
    assert standby.psql("SELECT timeline_id FROM pg_control_checkpoint()") == "2"

    entries = [(e.action, e.outcome, e.typed, e.typed_second) for e in journal.entries()]
    assert entries == [("promote", "refused", name, None), ("promote", "refused", name, "split brain"),
                       ("promote", "done", name, SPLIT_BRAIN)]
    assert journal.verify().intact


async def test_promote_from_the_replication_panel_with_the_primary_stopped_reports_the_new_timeline(pair, journal):
    primary, standby = pair
    primary.psql("CREATE TABLE promote_t (n int); INSERT INTO promote_t VALUES (1)")
    await replayed(primary, standby)
    primary.stop()
    await wait_until(lambda: standby.psql("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")
                     == "0")
    async with dashboard(resolve_target(standby.dsn()), (120, 40)) as (app, pilot):
        await pilot.press("4")  # Replication
        panel = app.panel("replication")
        await until(pilot, panel.is_postgres_standby)
        await until(pilot, lambda: "Promote standby" in screen_text(app), timeout=5)  # the footer offers O
        assert "Promote this standby to primary" in [command.title for command in app.action_commands()]
        await pilot.press("O")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        plan = app.screen.plan
        assert plan.action == "promote" and plan.ready and plan.second_confirm_text is None, plan.failed
        assert "does not answer" in {p.name: p.detail for p in plan.preconditions}["old_primary"]
        assert not app.screen.query_one("#confirm-second", Input).display
        await pilot.press("tab", *plan.confirm_text, "enter")
        await until(pilot, lambda: "promote done" in toasts(app), timeout=30)
        assert "new timeline 2 (was 1)" in toasts(app)
        await until(pilot, lambda: not panel.is_postgres_standby())
        # a primary is not promoted: the key bar drops O (it is composed after the next refresh)
        await until(pilot, lambda: "Promote standby" not in screen_text(app), timeout=5)
    assert standby.psql("SELECT pg_is_in_recovery()") == "f"
    assert standby.psql("SELECT count(*) FROM promote_t") == "1"
    [entry] = journal.entries()
    assert (entry.action, entry.outcome, entry.typed, entry.typed_second) == ("promote", "done", plan.confirm_text,
                                                                              None)
    assert "pg_is_in_recovery() is false; new timeline 2 (was 1)" in entry.detail["result"]
    assert journal.verify().intact


# -- the confirm screen's second field --------------------------------------------------------------

async def test_the_confirm_screen_asks_for_split_brain_in_a_second_field():
    plan = plan_of(primary=old_primary(PRIMARY))
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(80, 24)) as (app, pilot):
        answers: list = []
        screen = ConfirmScreen(plan)
        app.push_screen(screen, callback=answers.append)
        await pilot.pause()
        text = screen_text(app)
        assert "type db2 to run it, and split-brain to accept what the warnings say" in text
        await pilot.press("tab", *"db2", "enter")  # right: Enter goes on to the second field
        assert app.focused.id == "confirm-second" and answers == []
        await pilot.press(*"split brain", "enter")  # wrong: nothing happens
        assert answers == [] and isinstance(app.screen, ConfirmScreen)
        assert app.screen.query_one("#confirm-run", Button).disabled
        app.screen.query_one("#confirm-second", Input).value = ""
        await pilot.press(*"split-brain")
        assert not app.screen.query_one("#confirm-run", Button).disabled
        await pilot.press("enter")
        assert answers == ["db2"] and screen.typed_second == "split-brain"


async def test_a_wrong_first_field_with_split_brain_does_nothing_and_escape_cancels():
    plan = plan_of(primary=old_primary(PRIMARY))
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(120, 40)) as (app, pilot):
        answers: list = []
        app.push_screen(ConfirmScreen(plan), callback=answers.append)
        await pilot.pause()
        await pilot.press("tab", *"db1", "enter")
        assert app.focused.id == "confirm-text"  # a wrong name does not move on
        await pilot.press("tab", *"split-brain", "enter")
        assert answers == [] and isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        assert answers == [None]


async def test_the_shown_pg_rewind_brings_the_old_primary_back_as_a_standby_of_the_new_one(pair):
    primary, standby = pair
    primary.psql("CREATE TABLE promote_t (n int); INSERT INTO promote_t VALUES (1)")
    await replayed(primary, standby)
    collector = PostgresCollector(resolve_target(standby.dsn()))
    await collector.connect()
    try:
        plan = await collector.plan("promote")  # the primary answers: its data directory and port are shown
        assert (await collector.run(plan)).status == "done"
    finally:
        await collector.close()
    primary.psql("INSERT INTO promote_t VALUES (666)")  # written on the old primary after the split: discarded
    standby.psql("INSERT INTO promote_t VALUES (2)")
    primary.stop()  # step 1, a clean shutdown (LocalCluster.stop: pg_ctl stop -m fast)

    # The numbered steps, run as shown: "N. COMMAND — why" (step 1 was the clean shutdown above).
    commands = [shlex.split(step.partition(". ")[2].partition(" — ")[0]) for step in plan.manual_steps
                if step[:1].isdigit()]
    assert [argv[0] for argv in commands] == ["pg_ctl", "psql", "psql", "pg_rewind", "pg_ctl"]
    assert commands[1][-2:] == ["-c", "CHECKPOINT"]
    assert commands[2][-1] == "SELECT pg_create_physical_replication_slot('promote_test')"
    assert f"--target-pgdata={primary.data_dir}" in commands[3]
    for argv in commands[1:4]:
        primary._run(*argv, timeout=120)
    # pg_rewind copied the new primary's postgresql.conf: the old primary's own socket directory and
    # port go back, as the last step says to check.
    primary.append_config({"port": str(primary.port), "unix_socket_directories": f"'{primary.socket_dir}'"})
    primary.start()

    assert primary.psql("SELECT pg_is_in_recovery()") == "t"
    await wait_until(lambda: standby.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                     == "1")
    await replayed(standby, primary)
    assert primary.psql("SELECT array_agg(n ORDER BY n) FROM promote_t") == "{1,2}"
