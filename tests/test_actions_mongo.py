"""MongoDB's guarded actions with the real driver over a real socket, against mockupdb servers
answering like mongod 7.0 (tests/mongo_mock.py): killOp, replSetStepDown between two servers whose
handshakes swap the primary, replSetFreeze, mongodump's absence; each journaled through `dbtop act`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from datetime import timedelta

import pytest
from pydantic import SecretStr

from dbtop.actions.journal import Journal
from dbtop.actions.plan import Plan, PlanTarget, Precondition
from dbtop.engines.errors import UnknownAction
from dbtop.engines.mongo.collector import MongoCollector
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.backups.inventory import backup_checksum, metadata_path, read_metadata
from dbtop.profiles.target import Target
from dbtop.tui.commands import act
from dbtop.tui.commands import backup as backup_cli

from .test_app import screen_text, until
from .mongo_mock import NOW, MockMongo, current_op, member, operation, repl_config, repl_status, unauthorized

TARGET = PlanTarget(engine="mongo", label="mongodb://db1:27017", system_identifier="rs0")


@pytest.fixture
def mongo():
    server = MockMongo().start()
    yield server
    server.stop()


@pytest.fixture
def journal(tmp_path, monkeypatch) -> Journal:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return Journal()


def collector_on(uri: str, policy: WatchPolicy | None = None) -> MongoCollector:
    return MongoCollector(Target(engine="mongo", mongo_uri=SecretStr(uri)), max_time_ms=500,
                          socket_timeout_ms=1500, server_selection_timeout_ms=1500, policy=policy)


def precondition(plan: Plan, name: str) -> Precondition:
    return next(p for p in plan.preconditions if p.name == name)


def sent(server: MockMongo, command: str) -> list[dict]:
    return [doc for doc in server.received if next(iter(doc)) == command]


def last_entry(journal: Journal):
    return list(journal.entries())[-1]


# -- killOp ----------------------------------------------------------------------------------------

async def test_kill_op_sends_the_opid_seen_and_is_journaled(mongo, journal):
    code = await _act(["killop", mongo.uri, "102", "--confirm", "102"])
    assert code == 0
    kills = sent(mongo, "killOp")
    assert len(kills) == 1 and kills[0]["op"] == 102 and kills[0]["maxTimeMS"] == 5000
    assert kills[0]["$db"] == "admin"
    entry = last_entry(journal)
    assert entry.action == "kill-op" and entry.outcome == "done" and entry.typed == "102"
    assert json.loads(entry.statements[0]) == {"killOp": 1, "op": 102, "maxTimeMS": 5000}
    assert "update on shop.orders by app@admin" in entry.preconditions[0].detail


async def test_kill_op_is_refused_when_the_opid_now_runs_something_else(mongo, journal):
    collector = collector_on(mongo.uri)
    plan = await collector.plan("kill-op", opid=102)
    assert plan.ready and plan.confirm_text == "102" and plan.risk == "disruptive"
    # Between the plan and the run, opid 102 is reused by another operation on another collection.
    mongo.replies["currentOp"] = current_op([operation(102, secs=1, op="remove", ns="shop.customers")])
    outcome = await collector.run(plan)
    assert outcome.status == "refused" and "shop.customers" not in plan.summary
    assert "operation 102 still runs what was shown" in outcome.detail
    assert sent(mongo, "killOp") == []
    Journal().record(plan, outcome, typed="102")
    assert last_entry(journal).outcome == "refused"


async def test_kill_op_of_a_finished_or_internal_operation_cannot_be_confirmed(mongo):
    collector = collector_on(mongo.uri)
    gone = await collector.plan("kill-op", opid=999)
    assert not gone.ready and "no operation has opid 999" in precondition(gone, "same_operation").detail
    internal = operation(7, secs=5)
    internal.pop("client")
    mongo.replies["currentOp"] = current_op([internal])
    own = await collector.plan("kill-op", opid=7)
    assert not own.ready and "the server's own" in precondition(own, "same_operation").detail


async def test_an_authorization_error_is_one_line_naming_the_role(mongo, journal):
    mongo.replies["killOp"] = unauthorized("killOp")
    code = await _act(["killop", mongo.uri, "101", "--confirm", "101"])
    assert code == 1
    entry = last_entry(journal)
    assert entry.outcome == "failed" and "\n" not in entry.error
    assert "not authorized on admin to execute command { killOp: 1 }" in entry.error
    assert "needs hostManager" in entry.error


# -- step-down -------------------------------------------------------------------------------------

@pytest.fixture
def pair():
    """Two servers of set rs0: `a` primary, `b` a secondary 2 s behind. A replSetStepDown sent to `a`
    swaps the roles their handshakes report, as an election would."""
    a, b = MockMongo().start(), MockMongo().start()
    hosts = [f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]
    for server in (a, b):
        server.hosts = hosts
        server.replies["replSetGetConfig"] = repl_config(hosts)
    b.primary, b.primary_host = False, hosts[0]

    def status(primary: str, lag_s: float) -> dict:
        members = [member(0, 0, 1 if primary == hosts[0] else 2, NOW - timedelta(seconds=0 if primary == hosts[0] else lag_s)),
                   member(1, 0, 1 if primary == hosts[1] else 2, NOW - timedelta(seconds=0 if primary == hosts[1] else lag_s))]
        for doc, host in zip(members, hosts):
            doc["name"] = host
        return {**repl_status(), "members": members}

    a.replies["replSetGetStatus"] = status(hosts[0], 2)

    def step_down(request):
        a.primary, a.primary_host = False, hosts[1]
        b.primary, b.primary_host = True, None
        b.replies["replSetGetStatus"] = status(hosts[1], 0)
        return {"ok": 1.0}

    a.replies["replSetStepDown"] = step_down
    a.status = status
    yield a, b, f"mongodb://{hosts[0]},{hosts[1]}/?replicaSet=rs0"
    a.stop()
    b.stop()


async def test_step_down_hands_the_primary_over_and_the_client_follows_it(pair, journal):
    a, b, uri = pair
    code = await _act(["stepdown", uri, "--confirm", "rs0"])
    assert code == 0
    (command,) = sent(a, "replSetStepDown")
    assert command["replSetStepDown"] == 60 and command["secondaryCatchUpPeriodSecs"] == 10
    assert command["maxTimeMS"] == 40_000
    entry = last_entry(journal)
    assert entry.action == "step-down" and entry.outcome == "done" and entry.typed == "rs0"
    assert f"{a.hosts[1]} is primary now" in entry.detail["result"]
    assert "rs0 65a1b2c3d4e5f60718293a4b" == entry.detail["system_identifier"]
    # The action's client followed the election: b answered its hello as the new primary.
    assert sent(b, "replSetStepDown") == [] and sent(b, "hello")


async def test_step_down_is_refused_without_an_electable_secondary_within_the_lag(pair, journal):
    a, _, uri = pair
    a.replies["replSetGetStatus"] = a.status(a.hosts[0], 40)
    collector = collector_on(uri, WatchPolicy(failover_max_lag_s=10))
    plan = await collector.plan("step-down")
    failed = precondition(plan, "electable_secondary")
    assert not plan.ready and f"{a.hosts[1]} is 40 s behind (over 10 s)" in failed.detail
    assert "failover_max_lag" in failed.description
    code = await _act(["stepdown", uri, "--confirm", "rs0"])
    assert code == 2 and sent(a, "replSetStepDown") == []
    assert last_entry(journal).outcome == "refused"
    # A larger threshold from the profile lets the same set step down.
    assert (await collector_on(uri, WatchPolicy(failover_max_lag_s=60)).plan("step-down")).ready


async def test_step_down_on_a_secondary_names_the_primary(mongo):
    mongo.primary, mongo.primary_host = False, "db1:27017"
    plan = await collector_on(mongo.uri).plan("step-down")
    assert not precondition(plan, "is_primary").passed
    assert "the primary is db1:27017: point dbtop at it" in precondition(plan, "is_primary").detail


# -- freeze ----------------------------------------------------------------------------------------

async def test_freeze_a_secondary_and_journal_it(mongo, journal):
    mongo.primary, mongo.primary_host = False, "db1:27017"
    me = f"127.0.0.1:{mongo.port}"
    code = await _act(["freeze", mongo.uri, "120", "--confirm", me])
    assert code == 0
    assert [doc["replSetFreeze"] for doc in sent(mongo, "replSetFreeze")] == [120]
    entry = last_entry(journal)
    assert entry.action == "freeze-member" and entry.outcome == "done"
    assert f"{me} will not seek election for 120 s" in entry.detail["result"]


async def test_freeze_is_refused_on_the_primary(mongo, journal):
    code = await _act(["freeze", mongo.uri, "--confirm", f"127.0.0.1:{mongo.port}"])
    assert code == 2 and sent(mongo, "replSetFreeze") == []
    assert "is not a secondary" in last_entry(journal).preconditions[0].detail


async def test_unknown_actions_are_refused_before_connecting():
    collector = collector_on("mongodb://127.0.0.1:1")
    with pytest.raises(UnknownAction, match="not available for mongo targets"):
        await collector.plan("terminate-session", pids=(1,))


async def _act(argv: list[str]) -> int:
    """`dbtop act …` in this process (its own event loop, on a thread, as the command runs it)."""
    return await asyncio.to_thread(act.run, argv)


# -- backups ---------------------------------------------------------------------------------------

@pytest.fixture
def backup_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "dbtop" / "backups"


async def test_without_mongodump_the_plan_names_the_package(mongo, journal, backup_dir, tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    plan = await collector_on(mongo.uri).plan("backup")
    found = precondition(plan, "mongodump_found")
    assert not plan.ready and "mongodb-database-tools" in found.detail
    assert plan.command[:3] == ("mongodump", f"--archive={plan.command[1].split('=', 1)[1]}", "--gzip")
    assert "--oplog" in plan.command  # a replica set member: one point in time
    code = await asyncio.to_thread(backup_cli.run, ["take", mongo.uri, "--confirm", mongo.uri])
    assert code == 2
    entry = last_entry(journal)
    assert entry.action == "backup" and entry.outcome == "refused" and "mongodump is installed" in entry.error
    assert "mongodb-database-tools" in entry.preconditions[0].detail


# Stand-ins for MongoDB's Database Tools, which are not installed here: they check what dbtop hands
# them (the connection string in a 0600 file named by --config, never on the command line) and write or
# read a gzip archive as the real ones would.
STAND_IN = r"""#!{python}
import gzip, os, stat, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("{name} version: 100.9.4")
    sys.exit(0)
config = next(a.split("=", 1)[1] for a in args if a.startswith("--config="))
assert stat.S_IMODE(os.stat(config).st_mode) == 0o600, "config file readable by others"
assert "uri: " in open(config).read() and not any("mongodb://" in a for a in args), "URI on the command line"
archive = next(a.split("=", 1)[1] for a in args if a.startswith("--archive="))
open(os.environ["STAND_IN_LOG"], "a").write(" ".join(args) + "\n")
if "{name}" == "mongodump":
    with gzip.open(archive, "wb") as out:
        out.write(b"mongodump archive of rs0" * 1000)
else:
    assert "--dryRun" in args
    gzip.open(archive).read()
"""


@pytest.fixture
def database_tools(tmp_path, monkeypatch):
    import sys

    bin_dir = tmp_path / "tools"
    bin_dir.mkdir()
    for name in ("mongodump", "mongorestore"):
        script = bin_dir / name
        script.write_text(STAND_IN.replace("{python}", sys.executable).replace("{name}", name))
        script.chmod(0o755)
    log = tmp_path / "tools.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("STAND_IN_LOG", str(log))
    return log


async def test_backup_take_and_verify_write_checksummed_metadata(mongo, journal, backup_dir, database_tools):
    code = await asyncio.to_thread(backup_cli.run, ["take", mongo.uri, "--verify", "--confirm", mongo.uri])
    assert code == 0
    (archive,) = [p for p in backup_dir.rglob("*.archive.gz")]
    meta = read_metadata(metadata_path(archive))
    assert meta.format == "archive-gzip" and meta.tool == "mongodump" and meta.tool_version == "100.9.4"
    assert meta.sha256 == backup_checksum(archive) and meta.server_version == "7.0.12"
    assert meta.verification.result == "passed" and "mongorestore --dryRun" in meta.verification.method
    assert not list(backup_dir.rglob("*.partial"))
    calls = database_tools.read_text().splitlines()
    assert calls[0].startswith(f"--archive={archive}.partial --gzip --oplog --config=")
    assert "--dryRun" in calls[1]
    actions = [(e.action, e.outcome) for e in journal.entries()]
    assert actions == [("backup", "done"), ("verify-backup", "done")]
    # An archive changed since it was taken fails at the checksum, and mongorestore is not run.
    archive.write_bytes(archive.read_bytes() + b"x")
    code = await asyncio.to_thread(backup_cli.run, ["verify", mongo.uri, archive.name, "--confirm", "x"])
    assert code == 1 and len(database_tools.read_text().splitlines()) == 2
    assert read_metadata(metadata_path(archive)).verification.result == "failed"
    assert last_entry(journal).outcome == "failed" and "the file changed" in last_entry(journal).error


# -- the dashboard's keys ----------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def mongo_dashboard(server: MockMongo, size=(120, 40)):
    from dbtop.tui.app import DbtopApp
    from dbtop.tui.poller import SnapshotPoller

    poller = SnapshotPoller(collector_on(server.uri), 0.5)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name="dbtop-dark", read_only=False)
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(pilot, lambda: app.last_reachable is not None)
        await app.other_panels_composed()
        yield app, pilot


async def test_k_on_an_operation_kills_it_through_the_confirm_screen(mongo, journal):
    from textual.widgets import DataTable

    from dbtop.tui.confirm import ConfirmScreen

    async with mongo_dashboard(mongo) as (app, pilot):
        await pilot.press("1")
        table = app.panel("connections").query_one("#connections-table", DataTable)
        await until(pilot, lambda: "102" in [k.value for k in table.rows])
        table.move_cursor(row=table.get_row_index("102"))
        footer = screen_text(app)
        assert "Kill op" in footer and "Terminate" not in footer and "Cancel query" not in footer
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        plan = app.screen.plan
        assert plan.action == "kill-op" and plan.params == {"opid": 102}
        assert '{"killOp": 1, "op": 102, "maxTimeMS": 5000}' in screen_text(app)
        await pilot.press("tab", *"102", "enter")
        await until(pilot, lambda: not app.running and not isinstance(app.screen, ConfirmScreen))
        await until(pilot, lambda: [e.outcome for e in journal.entries()] == ["done"])
    assert [doc["op"] for doc in sent(mongo, "killOp")] == [102]
    assert last_entry(journal).typed == "102"


async def test_the_replication_panel_plans_a_step_down_of_the_primary(mongo):
    from dbtop.tui.confirm import ConfirmScreen

    async with mongo_dashboard(mongo) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: "Step down" in screen_text(app))
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        plan = app.screen.plan
        assert plan.action == "step-down" and plan.ready and plan.confirm_text == "rs0"
        assert "db2:27017 (3 s behind); db3:27017 (1 s behind)" in precondition(plan, "electable_secondary").detail
        await pilot.press("escape")
    assert sent(mongo, "replSetStepDown") == []
