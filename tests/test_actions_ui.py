"""The operator's side of the guarded actions: the confirm screen, the keys and the palette of the
dashboard, read-only mode, and the `dbtop act|backup|journal` commands. Actions are defined here
(as tests/test_actions_plan.py does), registered under the ids the CLI verbs name, so what is tested
is the path every action takes, not one action's SQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from textual.widgets import Button, DataTable, Input, TabbedContent

from dbtop.actions import registry
from dbtop.actions.journal import Journal
from dbtop.actions.plan import Plan, PlannedStatement, PlanTarget, Precondition, ProgressUpdate
from dbtop.tui.commands import act as act_command
from dbtop.tui.commands import backup as backup_command
from dbtop.tui.commands import guarded
from dbtop.tui.commands import journal as journal_command
from dbtop.tui.confirm import ConfirmScreen

from . import fakes
from .conftest import wait_until
from .fakes import FakeCollector, fake_dashboard
from .test_app import dashboard, screen_text, toasts, until

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
TARGET = PlanTarget(engine="postgres", label="ops@db1:5432/app", profile="prod", host="db1", database="app",
                    system_identifier="7313136098020860212")


def a_plan(statements: int = 1, **changes) -> Plan:
    values = dict(
        action="terminate-session", target=TARGET, summary="terminate session 4242 (alice, app)",
        params={"pids": (4242,)},
        statements=tuple(PlannedStatement(text=f"SELECT pg_terminate_backend($1) /* {n} */", arguments=(4242,))
                         for n in range(statements)),
        preconditions=(Precondition(name="same_query", description="session 4242 still runs the query shown",
                                    passed=True, detail="UPDATE invoices …"),),
        risk="disruptive", warnings=("its open transaction is rolled back",), confirm_text="4242",
        statement_timeout_ms=5000, lock_timeout_ms=500, planned_at=NOW)
    values.update(changes)
    return Plan(**values)


@pytest.fixture(autouse=True)
def private_journal(tmp_path, monkeypatch) -> Journal:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return Journal()


# -- the confirm screen ---------------------------------------------------------------------------

async def open_confirm(pilot, app, plan: Plan) -> list:
    answers: list = []
    app.push_screen(ConfirmScreen(plan), callback=answers.append)
    await pilot.pause()
    return answers


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_confirm_screen_shows_the_plan_whole_and_starts_on_cancel(size):
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=size) as (app, pilot):
        answers = await open_confirm(pilot, app, a_plan())
        text = screen_text(app)
        for shown in ("ops@db1:5432/app", "system 7313136098020860212", "terminate session 4242 (alice, app)",
                      "SELECT pg_terminate_backend($1) /* 0 */  -- $1 = 4242", "statement_timeout 5000 ms",
                      "ok   session 4242 still runs the query shown", "DISRUPTIVE",
                      "its open transaction is rolled back", "type 4242 to run it"):
            assert shown in text, shown
        assert app.focused.id == "confirm-cancel"
        assert app.screen.query_one("#confirm-run", Button).disabled
        await pilot.press("enter")  # Enter on Cancel cancels
        assert answers == [None]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_long_plan_scrolls_to_its_end(size):
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=size) as (app, pilot):
        await open_confirm(pilot, app, a_plan(statements=40))
        assert "/* 39 */" not in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        text = screen_text(app)
        assert "/* 39 */" in text and "its open transaction is rolled back" in text
        assert "Cancel" in text  # the buttons stay on screen


async def test_enter_on_an_empty_or_wrong_text_does_nothing_and_the_right_one_runs():
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(80, 24)) as (app, pilot):
        answers = await open_confirm(pilot, app, a_plan())
        await pilot.press("tab")
        assert app.focused.id == "confirm-text"
        await pilot.press("enter")
        await pilot.press(*"424", "enter")
        await pilot.press("5", "enter")
        assert answers == [] and isinstance(app.screen, ConfirmScreen)
        assert app.screen.query_one("#confirm-run", Button).disabled
        app.screen.query_one("#confirm-text", Input).value = ""
        await pilot.press(*"4242")
        assert not app.screen.query_one("#confirm-run", Button).disabled
        await pilot.press("enter")
        assert answers == ["4242"]


async def test_escape_cancels():
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(80, 24)) as (app, pilot):
        answers = await open_confirm(pilot, app, a_plan())
        await pilot.press("tab", *"4242", "escape")
        assert answers == [None]


async def test_a_plan_with_a_failed_precondition_cannot_be_confirmed():
    failed = Precondition(name="privilege", description="this role may signal session 4242", passed=False,
                          detail="needs pg_signal_backend")
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(80, 24)) as (app, pilot):
        answers = await open_confirm(pilot, app, a_plan(preconditions=(failed,)))
        text = screen_text(app)
        assert "FAIL this role may signal session 4242: needs pg_signal_backend" in text
        assert "cannot run: a precondition failed" in text
        assert app.screen.query_one("#confirm-text", Input).disabled
        assert app.screen.query_one("#confirm-run", Button).disabled
        await pilot.press("tab")
        assert app.focused.id == "confirm-cancel"  # nothing else to go to
        app.screen.query_one("#confirm-text", Input).value = "4242"
        await app.screen.query_one("#confirm-text", Input).action_submit()
        await pilot.pause()
        assert answers == [] and isinstance(app.screen, ConfirmScreen)


# -- actions defined for these tests --------------------------------------------------------------

class TerminateForTest:
    """pg_terminate_backend on each pid, planned on whether the session still runs."""

    name = "terminate-session"
    engines = frozenset({"postgres"})

    async def plan(self, session, *, pids) -> Plan:
        rows = await session.conn.fetch("SELECT pid, backend_start::text AS started FROM pg_stat_activity "
                                        "WHERE pid = ANY($1::int[])", list(pids))
        found = {r["pid"]: r["started"] for r in rows}
        return Plan(action=self.name, target=session.target, summary=f"terminate {', '.join(map(str, pids))}",
                    params={"pids": tuple(pids)},
                    statements=tuple(PlannedStatement(text="SELECT pg_terminate_backend($1)", arguments=(p,))
                                     for p in pids),
                    preconditions=tuple(Precondition(name=f"running_{p}", description=f"session {p} runs",
                                                     passed=p in found, seen={"started": found.get(p)})
                                        for p in pids),
                    risk="disruptive", confirm_text=",".join(map(str, pids)), planned_at=datetime.now(timezone.utc))

    async def run(self, session, plan: Plan, progress) -> str:
        for statement in plan.statements:
            await session.conn.execute(statement.text, *statement.arguments)
        return f"terminated {len(plan.statements)} session(s)"


class SleepForTest:
    """A long action on a session's pid: to see it run, block a second one and be cancelled."""

    name = "test-sleep"
    engines = frozenset({"postgres"})

    async def plan(self, session, *, pids) -> Plan:
        return Plan(action=self.name, target=session.target, summary="sleep", params={"pids": tuple(pids)},
                    statements=(PlannedStatement(text="SELECT pg_sleep(60)"),), risk="reversible",
                    statement_timeout_ms=120_000, planned_at=datetime.now(timezone.utc))

    async def run(self, session, plan: Plan, progress) -> str:
        progress(ProgressUpdate(phase="sleeping", done=1, total=4))
        await session.conn.execute("SELECT pg_sleep(60)")
        return "slept"


class StepForTest:
    """Stands for backup, verify-backup, prune-backups and a failing vacuum: records its params."""

    engines = frozenset({"postgres"})
    calls: list[tuple[str, dict]] = []

    def __init__(self, name: str, fails: bool = False):
        self.name = name
        self.fails = fails

    async def plan(self, session, **params) -> Plan:
        if self.name == "backup":
            params = {"name": "app-test.dump"}
        return Plan(action=self.name, target=session.target, summary=f"{self.name} {params}", params=params,
                    statements=(PlannedStatement(text="SELECT 1/0" if self.fails else "SELECT 1"),),
                    risk="destructive", confirm_text=session.target.database, planned_at=datetime.now(timezone.utc))

    async def run(self, session, plan: Plan, progress) -> str:
        self.calls.append((self.name, dict(plan.params)))
        await session.conn.execute(plan.statements[0].text)
        return f"{self.name} done"


TERMINATE, SLEEP = TerminateForTest(), SleepForTest()
BACKUP, VERIFY, PRUNE = StepForTest("backup"), StepForTest("verify-backup"), StepForTest("prune-backups")
FAILING_VACUUM = StepForTest("vacuum", fails=True)


@pytest.fixture
def test_actions(monkeypatch):
    for name, attribute in (("terminate-session", "TERMINATE"), ("test-sleep", "SLEEP"), ("backup", "BACKUP"),
                            ("verify-backup", "VERIFY"), ("prune-backups", "PRUNE"), ("vacuum", "FAILING_VACUUM")):
        monkeypatch.setitem(registry.ACTIONS, name, (__name__, attribute))
    StepForTest.calls.clear()


async def alive(pg, pid: int) -> bool:
    return pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}").strip() == "1"


# -- the dashboard on a real server ---------------------------------------------------------------

async def test_marked_sessions_are_terminated_through_the_confirm_screen(pg, pg_target, sessions, test_actions,
                                                                          private_journal):
    victims = [(await sessions(app="victim")).get_server_pid() for _ in range(2)]
    bystander = (await sessions(app="bystander")).get_server_pid()
    async with dashboard(pg_target, (120, 40)) as (app, pilot):
        await until(pilot, lambda: all(any(s.pid == v for s in app.last_reachable.sessions) for v in victims))
        await pilot.press("1")
        panel = app.panel("connections")
        table = panel.query_one("#connections-table", DataTable)
        for pid in victims:
            await until(pilot, lambda: str(pid) in [k.value for k in table.rows])
            table.move_cursor(row=table.get_row_index(str(pid)))
            await pilot.press("space")
        assert panel.marked == set(victims)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        plan = app.screen.plan
        assert plan.action == "terminate-session" and plan.params["pids"] == tuple(sorted(victims))
        text = screen_text(app)
        assert all(f"$1 = {pid}" in text for pid in victims)
        await pilot.press("tab", *plan.confirm_text, "enter")
        await until(pilot, lambda: not app.running and not isinstance(app.screen, ConfirmScreen))
        assert [await alive(pg, pid) for pid in victims] == [False, False]
        assert await alive(pg, bystander)
        await until(pilot, lambda: "terminate-session done" in toasts(app))
        assert panel.marked == set()
    entry, = private_journal.entries()
    assert (entry.action, entry.outcome, entry.typed) == ("terminate-session", "done", plan.confirm_text)
    assert private_journal.verify().intact


async def test_locks_k_acts_on_the_selected_root_blocker(pg, pg_target, sessions, test_actions):
    from .conftest import open_lock_chain

    chain = await open_lock_chain(sessions, "act_ui_chain", apps=("holder", "middle", "tail"))
    try:
        async with dashboard(pg_target, (120, 40)) as (app, pilot):
            await until(pilot, lambda: app.last_reachable.blocking.blocked_count >= 2)
            await pilot.press("2")
            await pilot.pause()
            table = app.panel("locks").query_one(DataTable)
            table.move_cursor(row=table.get_row_index(str(chain.pid("holder"))))
            await pilot.press("k")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert app.screen.plan.params == {"pids": (chain.pid("holder"),)}
            await pilot.press("escape")
            await pilot.pause()
            assert await alive(pg, chain.pid("holder"))  # cancelled: nothing ran
    finally:
        await chain.release()


async def test_a_running_action_refuses_a_second_on_its_object_is_shown_and_cancelled(
        pg, pg_target, sessions, test_actions, private_journal):
    pid = (await sessions(app="sleepy")).get_server_pid()
    async with dashboard(pg_target, (120, 40), interval=0.5) as (app, pilot):
        assert app.request_action("test-sleep", {"pids": (pid,)})
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab", "enter")  # a reversible plan: Run is enabled, nothing to type
        await until(pilot, lambda: app.running and app.running[0].progress is not None)
        status = str(app.query_one("#action-status").render())
        assert "test-sleep pids" in status and "sleeping 25%" in status and "Ctrl+X" in status
        before = app.latest.sequence
        await until(pilot, lambda: app.latest.sequence >= before + 2)  # the monitor keeps refreshing
        assert not app.request_action("terminate-session", {"pids": (pid,)})
        await until(pilot, lambda: "one action per object at a time" in toasts(app))
        await pilot.press("ctrl+x")
        await until(pilot, lambda: not app.running, timeout=15)
        await until(pilot, lambda: "test-sleep cancelled" in toasts(app))
    entry, = private_journal.entries()
    assert entry.outcome == "cancelled" and entry.action == "test-sleep"
    assert pg.psql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'").strip() == "0"


async def test_what_changed_after_confirming_is_said_and_nothing_runs(pg, pg_target, sessions, test_actions,
                                                                       private_journal):
    pid = (await sessions(app="gone-soon")).get_server_pid()
    async with dashboard(pg_target, (80, 24)) as (app, pilot):
        app.request_action("terminate-session", {"pids": (pid,)})
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        pg.psql(f"SELECT pg_terminate_backend({pid})")  # it ends by itself between plan and run
        await pilot.press("tab", *str(pid), "enter")
        await until(pilot, lambda: "terminate-session refused" in toasts(app))
        assert f"session {pid} runs" in toasts(app)
    entry, = private_journal.entries()
    assert (entry.outcome, entry.typed) == ("refused", str(pid))


async def test_a_findings_action_is_offered_with_its_object(monkeypatch):
    from dbtop.findings.model import Evidence, Finding

    finding = Finding(id="views.never_populated:analytics.daily", rule="views.never_populated", area="performance",
                      severity="high", title="analytics.daily was never populated", impact="reads fail",
                      fix="refresh it", evidence=[Evidence(subject="analytics.daily")],
                      addressed_by="action:refresh-view", action_params={"view": "analytics.daily"})
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(120, 40)) as (app, pilot):
        asked = []
        monkeypatch.setattr(app, "request_action", lambda action, params: asked.append((action, params)))
        app.findings = [finding]
        app.query_one("#findings-panel").set_findings([finding], [], app.latest.sequence)
        await pilot.press("7")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: "a acts on it" in screen_text(app))
        await pilot.press("a")
        await pilot.pause()
        assert asked == [("refresh-view", {"view": "analytics.daily"})]


# -- read-only ------------------------------------------------------------------------------------

async def test_read_only_removes_the_keys_and_palette_entries_and_refuses_an_action(private_journal):
    collector = FakeCollector(fakes.healthy(sessions=[fakes.idle(101), fakes.idle(102)]))
    async with fake_dashboard(collector, size=(120, 40), read_only=True) as (app, pilot):
        assert "READ-ONLY" in screen_text(app)
        await pilot.press("1", "space", "k", "c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and app.panel("connections").marked == set()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if "Terminate" in t or "Take a backup" in t or "Refresh the" in t]
        assert "Journal and running actions" in titles
        assert not app.request_action("terminate-session", {"pids": (101,)})  # invoked anyway
        await until(pilot, lambda: list(private_journal.entries()))
        assert "read-only" in toasts(app)
    entry, = private_journal.entries()
    assert (entry.action, entry.outcome) == ("terminate-session", "refused") and "read-only" in entry.error


async def test_read_write_offers_the_keys_and_the_palette_entries():
    collector = FakeCollector(fakes.healthy(sessions=[fakes.idle(101), fakes.idle(102)]))
    async with fake_dashboard(collector, size=(120, 40)) as (app, pilot):
        assert "READ-ONLY" not in screen_text(app)
        await pilot.press("1", "space")
        assert len(app.panel("connections").marked) == 1
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.startswith("Terminate session") for t in titles) and "Take a backup" in titles


async def test_the_journal_screen_lists_the_last_entries(private_journal):
    private_journal.append(target="ops@db1/app", action="vacuum", outcome="done", detail={"result": "vacuumed x"})
    async with fake_dashboard(FakeCollector(fakes.healthy()), size=(80, 24)) as (app, pilot):
        await pilot.press("J")
        await pilot.pause()
        text = screen_text(app)
        assert "vacuum" in text and "vacuumed x" in text and "running" in text


# -- the command line -----------------------------------------------------------------------------

def run_act(*argv: str, ask=lambda prompt: "") -> int:
    return act_command.run(list(argv), ask=ask)


async def test_act_terminate_unattended_with_confirm(pg, sessions, test_actions, private_journal, capsys):
    pid = (await sessions(app="cron-victim")).get_server_pid()
    status = await to_thread(run_act, "terminate", pg.dsn(), str(pid), "--confirm", str(pid))
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"$1 = {pid}" in out and "system" in out and "done: terminated 1 session(s)" in out
    assert not await alive(pg, pid)
    entry, = private_journal.entries()
    assert (entry.outcome, entry.typed) == ("done", str(pid))


async def test_act_refuses_a_wrong_text_no_terminal_and_read_only(pg, sessions, test_actions, private_journal,
                                                                  capsys):
    pid = (await sessions(app="survivor")).get_server_pid()
    assert await to_thread(run_act, "terminate", pg.dsn(), str(pid), "--confirm", "nope") == 2
    assert await to_thread(run_act, "terminate-session", pg.dsn(), str(pid)) == 2  # no terminal, no --confirm
    assert await to_thread(run_act, "terminate", pg.dsn(), str(pid), "--confirm", str(pid), "--read-only") == 2
    assert await alive(pg, pid)
    err = capsys.readouterr().err
    assert "does not confirm it" in err and "no terminal" in err and "read-only" in err
    assert [(e.outcome, e.typed) for e in private_journal.entries()] == [("refused", "nope"), ("refused", None),
                                                                         ("refused", None)]
    assert run_act("terminate", pg.dsn(), "twelve") == 2  # bad input


async def test_act_asks_in_a_terminal(pg, sessions, test_actions, monkeypatch):
    pid = (await sessions(app="asked")).get_server_pid()
    monkeypatch.setattr(guarded, "interactive", lambda: True)
    prompts = []
    status = await to_thread(run_act, "terminate", pg.dsn(), str(pid),
                             ask=lambda prompt: prompts.append(prompt) or str(pid))
    assert status == 0 and prompts == [f"Type {pid} to run it (anything else cancels): "]


async def test_act_exits_1_on_a_failure_and_journals_it(pg, test_actions, private_journal, capsys):
    status = await to_thread(run_act, "vacuum", pg.dsn(), "public.t", "--confirm", "postgres")
    assert status == 1
    assert "division by zero" in capsys.readouterr().err
    entry, = private_journal.entries()
    assert entry.outcome == "failed" and "division by zero" in entry.error


async def test_backup_take_verify_prune_runs_unattended_each_journaled(pg, test_actions, private_journal):
    argv = ["take", pg.dsn(), "--verify", "--prune", "--confirm", "postgres"]
    assert await to_thread(backup_command.run, argv) == 0
    assert StepForTest.calls == [("backup", {"name": "app-test.dump"}), ("verify-backup", {"name": "app-test.dump"}),
                                 ("prune-backups", {})]
    assert [(e.action, e.outcome) for e in private_journal.entries()] == [
        ("backup", "done"), ("verify-backup", "done"), ("prune-backups", "done")]


# -- dbtop journal --------------------------------------------------------------------------------

def test_journal_prints_filters_and_verifies(private_journal, capsys):
    private_journal.append(target="ops@db1/app", action="vacuum", outcome="done", statements=["VACUUM t"],
                           typed="app", detail={"result": "vacuumed t"})
    private_journal.append(target="ops@db1/app", action="drop-index", outcome="refused", error="read-only",
                           now=datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert journal_command.run([]) == 0
    out = capsys.readouterr().out
    assert "vacuum" in out and "VACUUM t" in out and "typed: app" in out and "drop-index" in out
    assert journal_command.run(["--since", "1h", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["vacuum"]
    assert journal_command.run(["--verify"]) == 0
    assert "intact: 2 line(s)" in capsys.readouterr().out
    assert journal_command.run(["--since", "soon"]) == 2


def test_journal_verify_reports_a_line_edited_by_hand(private_journal, capsys):
    for action in ("vacuum", "analyze", "reindex"):
        private_journal.append(target="ops@db1/app", action=action, outcome="done")
    lines = private_journal.path.read_text().splitlines()
    lines[1] = lines[1].replace('"done"', '"failed"')
    private_journal.path.write_text("\n".join(lines) + "\n")
    assert journal_command.run(["--verify"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "line 3 does not follow line 2" in out


async def to_thread(function, *args, **kwargs):
    """The commands run asyncio.run themselves: off the test's event loop."""
    import asyncio

    return await asyncio.to_thread(function, *args, **kwargs)


async def test_keys_typed_over_a_detail_page_do_not_reach_the_dashboard_behind_it():
    # An operator who types an object's name into a detail page (the confirm screen had not come
    # up yet) must not switch panels or open pages behind it: Escape must still close the page.
    from dbtop.findings.model import Evidence, Finding
    from dbtop.tui.screens import DetailScreen

    finding = Finding(id="performance.slow_statement:1", rule="performance.slow_statement", area="performance",
                      severity="high", title="Statement averaging 963 ms", impact="i", fix="f",
                      evidence=[Evidence(subject="q")], statement="EXPLAIN SELECT 1")
    async with fake_dashboard(FakeCollector(fakes.healthy(sessions=[fakes.idle(101)])), size=(120, 40)) as (app, pilot):
        app.findings = [finding]
        app.query_one("#findings-panel").set_findings([finding], [], app.latest.sequence)
        await pilot.press("7")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        page = app.screen
        await pilot.press("tab", "1", "/", "enter", "shift+tab", "3", "enter")
        await pilot.pause()
        assert app.screen_stack[1:] == [page] and app.focused in page.query("*")
        assert app.query_one(TabbedContent).active == "findings"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)
