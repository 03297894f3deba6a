"""The backup actions on the suite's real server: take (pg_dump -Fc into the backup directory, the
password only in a private password file), verify (five steps, the result in the metadata), prune
(exactly the files the retention policy marks). Each database here is small: a take is ~0.3 s."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from dbtop.actions.journal import Journal
from dbtop.engines.backups.inventory import (GOOD, build_backups, metadata_path, read_metadata,
                                             scan_backup_directory, write_metadata)
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import _start_cluster

ROLE = "backup_operator"
PASSWORD = "Pw-backup-7f3c9e1d"  # searched for in every process's argv and environment
DATABASE = "backup_src"
ROWS = {"public.orders": 500, 'public."Line Items"': 1200, "sales.regions": 3}


@pytest.fixture(scope="module")
def server():
    """A server of this module's own: pg_dump and pg_restore send `SET statement_timeout = 0`, which
    must not show in the shared server's statement statistics as some user's statement."""
    cluster = _start_cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def source(server):
    """A small database owned by a role that logs in with a password, over TCP (scram)."""
    pg = server
    pg.psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    pg.psql(f"DROP ROLE IF EXISTS {ROLE}")
    pg.psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
    pg.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    pg.psql(f"""SET ROLE {ROLE};
        CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note FROM generate_series(1, 500) g;
        ALTER TABLE orders ADD PRIMARY KEY (id);
        CREATE TABLE "Line Items" AS SELECT g AS id, g % 500 + 1 AS order_id FROM generate_series(1, 1200) g;
        CREATE SCHEMA sales;
        CREATE TABLE sales.regions (name text);
        INSERT INTO sales.regions VALUES ('north'), ('south'), ('east');
        CREATE TABLE sales.by_month (month date, total numeric) PARTITION BY RANGE (month);
        CREATE TABLE sales.by_month_2025 PARTITION OF sales.by_month FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO sales.by_month VALUES ('2025-03-01', 10), ('2025-04-01', 20);""", database=DATABASE)
    return resolve_target(f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{pg.port}/{DATABASE}")


def collector_for(target, directory: Path, **policy) -> PostgresCollector:
    return PostgresCollector(target, policy=WatchPolicy(profile="nightly", backup_dir=str(directory), **policy))


async def take(collector, progress=None):
    plan = await collector.plan("backup")
    outcome = await collector.run(plan, progress)
    return plan, outcome


def entries_by_name(directory: Path) -> dict:
    entries, error = scan_backup_directory(directory)
    assert error is None
    return {e.name: e for e in entries}


# -- take ---------------------------------------------------------------------------------------

async def test_the_backup_plan_names_the_command_without_its_password(source, tmp_path):
    plan = await collector_for(source, tmp_path / "backups").plan("backup")
    name = plan.params["name"]
    assert name.startswith(f"{DATABASE}-") and name.endswith(".dump")
    command = plan.command
    assert Path(command[0]).name == "pg_dump"
    assert command[1:5] == ("--format=custom", f"--file={tmp_path / 'backups' / name}.partial",
                            "--lock-wait-timeout=10000", "--no-password")
    assert f"user={ROLE}" in command[-1] and f"dbname={DATABASE}" in command[-1]
    assert PASSWORD not in plan.model_dump_json()
    assert [p.name for p in plan.preconditions] == ["pg_dump_found", "pg_dump_version", "readable",
                                                    "backup_directory", "name_valid", "name_free"]
    assert plan.ready and plan.risk == "read-only" and plan.confirm_text == (plan.target.profile or plan.target.label)
    assert plan.preconditions[3].detail.endswith("(will be created)")
    assert any("ACCESS SHARE" in w for w in plan.warnings)
    escaping = await collector_for(source, tmp_path / "backups").plan("backup", name="../../outside.dump")
    assert [p.name for p in escaping.failed] == ["name_valid"] and "outside" not in " ".join(escaping.command)


async def test_the_next_snapshot_shows_the_backup_just_taken(source, tmp_path):
    # The inventory is read every minute; an action that changes it makes the next snapshot read it again.
    collector = collector_for(source, tmp_path / "backups")
    await collector.connect()
    try:
        assert (await collector.snapshot()).backups.entries == []
        plan, outcome = await take(collector)
        assert outcome.status == "done", outcome
        assert [e.name for e in (await collector.snapshot()).backups.entries] == [plan.params["name"]]
    finally:
        await collector.close()


async def test_take_then_verify_makes_the_recovery_point_good(source, tmp_path):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory, rpo_s=3600)
    updates = []
    plan, outcome = await take(collector, updates.append)
    assert outcome.status == "done", outcome
    name = plan.params["name"]
    backup = directory / name
    assert sorted(p.name for p in directory.iterdir()) == [name, name + ".dbtop.json"]
    meta = read_metadata(metadata_path(backup))
    assert meta.sha256 == hashlib.sha256(backup.read_bytes()).hexdigest()
    assert meta.size_bytes == backup.stat().st_size and meta.format == "custom" and meta.database == DATABASE
    assert meta.tool == "pg_dump" and meta.tool_version.startswith("15") and meta.server_version.startswith("15")
    rows = {f"{t.schema_name}.{t.name}": t.rows for t in meta.tables}
    assert rows == {"public.Line Items": 1200, "public.orders": 500, "sales.by_month": None,
                    "sales.by_month_2025": 2, "sales.regions": 3}
    assert updates[0].phase == "dumping" and updates[0].unit == "bytes"
    assert updates[0].total == meta.database_size_bytes > 0
    assert updates[-1].phase == "checksumming" and updates[-1].done == meta.size_bytes

    entry = entries_by_name(directory)[name]
    assert entry.status == "unverified"
    now = datetime.now(timezone.utc)
    assert build_backups(directory=directory, directory_error=None, entries=[entry], rpo_s=3600,
                         retention_s=86400, keep=3, now=now).newest_verified_at is None

    verify = await collector.plan("verify-backup", name=name)
    assert verify.ready and verify.risk == "reversible"
    assert [s.text.split(" ")[0:2] for s in verify.statements] == [["CREATE", "DATABASE"], ["DROP", "DATABASE"]]
    assert Path(verify.command[0]).name == "pg_restore" and verify.command[-1] == str(backup)
    phases = []
    checked = await collector.run(verify, phases.append)
    assert checked.status == "done", checked.detail
    assert [p.phase for p in phases] == ["1/5 checksum", "2/5 pg_restore --list", "3/5 tables", "4/5 size",
                                         "5/5 test restore", "verified"]
    lines = checked.detail.splitlines()
    assert lines[0] == f"{name} verified: 5 of 5 steps passed"
    assert [line.split(":")[0] for line in lines[1:]] == [
        "1. checksum", "2. pg_restore --list", "3. tables", "4. size", "5. test restore"]
    assert "5 tables recorded at backup time" in lines[3] and "1705 rows, every count as dumped" in lines[5]

    entry = entries_by_name(directory)[name]
    assert entry.status == "verified" and entry.verified_at is not None
    backups = build_backups(directory=directory, directory_error=None, entries=[entry], rpo_s=3600,
                            retention_s=86400, keep=3, now=datetime.now(timezone.utc))
    assert backups.newest_verified_at == entry.finished_at and backups.recovery_point_age_s < 3600
    # The scratch database is gone.
    assert "dbtop_verify" not in collector_pg_databases(source)

    journal = Journal(tmp_path / "journal.jsonl")
    journal.record(plan, outcome, typed=DATABASE)
    journal.record(verify, checked)
    text = journal.path.read_text()
    assert PASSWORD not in text and journal.verify().intact
    assert [json.loads(line)["action"] for line in text.splitlines()] == ["backup", "verify-backup"]


def collector_pg_databases(target) -> str:
    import subprocess
    host, port = target.hosts[0], target.ports[0]
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    return subprocess.run(["psql", "-XAt", "-h", host, "-p", str(port), "-U", ROLE, "-d", DATABASE, "-c",
                           "SELECT string_agg(datname, ',') FROM pg_database"],
                          capture_output=True, text=True, env=env, check=True).stdout


# -- pg_dump while it runs: where the password is, and killing it --------------------------------

def pg_dump_processes(partial: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"pg_dump") and f"--file={partial}".encode() in argv:
                found.append(int(entry.name))
    return found


def processes_showing(secret: bytes) -> list[str]:
    """Every process whose argv or environment holds `secret` (the test runs as root: it reads all)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                if secret in (entry / part).read_bytes():
                    found.append(f"{entry.name}/{part}")
            except OSError:
                continue
    return found


@pytest.fixture
async def table_locked(server):
    """orders locked ACCESS EXCLUSIVE by another session: pg_dump waits for it (up to its lock wait)."""
    locker = await asyncpg.connect(**server.connect_kwargs(database=DATABASE))
    await locker.execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
    yield locker
    locker.terminate()


async def test_the_password_is_in_no_process_argv_or_environment_while_pg_dump_runs(source, tmp_path,
                                                                                   table_locked, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # dbtop's own environment may hold it: pg_dump's must not
    collector = collector_for(source, tmp_path / "backups")
    plan = await collector.plan("backup")
    partial = Path(plan.command[2].removeprefix("--file="))
    seen: dict = {}

    def watch(update):
        if update.phase != "dumping" or seen:
            return
        pids = pg_dump_processes(partial)
        if not pids:
            return
        environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
        passfile = Path(next(v for v in environ if v.startswith(b"PGPASSFILE=")).split(b"=", 1)[1].decode())
        seen.update(pid=pids[0], passfile=passfile, environ=environ,
                    file_mode=stat.S_IMODE(passfile.stat().st_mode), dir_mode=stat.S_IMODE(passfile.parent.stat().st_mode),
                    showing=[p for p in processes_showing(PASSWORD.encode())
                             if not p.startswith(f"{os.getpid()}/")])
        asyncio.get_running_loop().create_task(table_locked.execute("ROLLBACK"))

    outcome = await collector.run(plan, watch)
    assert outcome.status == "done", outcome
    assert seen, "pg_dump was never seen running"
    assert seen["showing"] == []
    assert not any(v.startswith(b"PGPASSWORD=") for v in seen["environ"])
    assert (seen["file_mode"], seen["dir_mode"]) == (0o600, 0o700)
    assert not seen["passfile"].parent.exists()  # removed afterwards
    journal = Journal(tmp_path / "journal.jsonl")
    journal.record(plan, outcome, typed=DATABASE)
    assert PASSWORD not in journal.path.read_text() + outcome.model_dump_json() + plan.model_dump_json()


async def test_a_backup_killed_mid_way_leaves_no_file_the_inventory_calls_good(source, tmp_path, table_locked):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory)
    plan = await collector.plan("backup")
    partial = Path(plan.command[2].removeprefix("--file="))
    killed = []

    def kill(update):
        pids = pg_dump_processes(partial)
        if pids and not killed:
            os.killpg(pids[0], signal.SIGKILL)  # pg_dump runs in a session of its own
            killed.append(pids[0])

    outcome = await collector.run(plan, kill)
    assert killed and outcome.status == "failed"
    assert outcome.detail == (f"no backup was made: pg_dump was killed (SIGKILL); "
                              f"the incomplete {partial.name} was removed")
    assert outcome.error == "pg_dump was killed (SIGKILL)"
    entries, _ = scan_backup_directory(directory)
    assert not [e for e in entries if e.status in GOOD]
    assert sorted(p.name for p in directory.iterdir()) == []
    line = Journal(tmp_path / "journal.jsonl").record(plan, outcome)
    assert line.outcome == "failed" and "SIGKILL" in line.error


async def test_a_pg_dump_older_than_the_server_is_refused_in_the_plan(source, tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.22'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DBTOP_PG_BINDIR", str(bindir))
    collector = collector_for(source, tmp_path / "backups")
    plan = await collector.plan("backup")
    assert [p.name for p in plan.failed] == ["pg_dump_version"]
    assert plan.failed[0].detail.startswith("pg_dump 11.22 is older than the server (15): it cannot be used")
    outcome = await collector.run(plan)
    assert outcome.status == "refused" and not (tmp_path / "backups").exists()


# -- verify: where a damaged backup fails --------------------------------------------------------

async def test_verify_of_a_corrupted_file_fails_at_the_checksum_step(source, tmp_path):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory)
    plan, _ = await take(collector)
    backup = directory / plan.params["name"]
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: the inventory's size check cannot see it
    backup.write_bytes(bytes(data))
    outcome = await collector.run(await collector.plan("verify-backup", name=backup.name))
    assert outcome.status == "failed"
    lines = outcome.detail.splitlines()
    assert lines[0] == f"{backup.name} FAILED verification at step 1 (checksum)"
    assert lines[1].startswith("1. checksum: FAILED: sha256 ") and lines[1].endswith("when taken: the file changed")
    assert lines[2:] == ["2. pg_restore --list: not run", "3. tables: not run", "4. size: not run",
                         "5. test restore: not run"]
    entry = entries_by_name(directory)[backup.name]
    assert entry.status == "verification_failed" and "step 1 (checksum)" in entry.problem


async def test_verify_of_a_truncated_archive_fails_at_pg_restore_list(source, tmp_path):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory)
    plan, _ = await take(collector)
    backup = directory / plan.params["name"]
    backup.write_bytes(backup.read_bytes()[:100])  # inside the table of contents
    meta = read_metadata(metadata_path(backup))  # a checksum that matches the truncated file
    write_metadata(metadata_path(backup), meta.model_copy(update={
        "sha256": hashlib.sha256(backup.read_bytes()).hexdigest(), "size_bytes": 100}))
    outcome = await collector.run(await collector.plan("verify-backup", name=backup.name))
    lines = outcome.detail.splitlines()
    assert outcome.status == "failed" and lines[0].endswith("at step 2 (pg_restore --list)")
    assert lines[1].startswith("1. checksum: passed")
    assert lines[2].startswith("2. pg_restore --list: FAILED: pg_restore --list failed: pg_restore: error:")
    assert entries_by_name(directory)[backup.name].status == "verification_failed"


async def test_verify_refuses_a_file_without_dbtop_metadata(source, tmp_path):
    directory = tmp_path / "backups"
    directory.mkdir()
    (directory / "other.dump").write_bytes(b"PGDMP")
    plan = await collector_for(source, directory).plan("verify-backup", name="other.dump")
    assert [p.name for p in plan.failed] == ["backup"]
    assert "other.dump.dbtop.json: cannot be read" in plan.failed[0].detail


# -- prune ---------------------------------------------------------------------------------------

def aged_copy(backup: Path, name: str, days: float, verified: bool) -> Path:
    """A copy of `backup` (and its metadata) as if taken `days` ago."""
    copy = backup.with_name(name)
    copy.write_bytes(backup.read_bytes())
    meta = read_metadata(metadata_path(backup))
    when = datetime.now(timezone.utc) - timedelta(days=days)
    update = {"file": name, "started_at": when - timedelta(minutes=1), "finished_at": when}
    if not verified:
        update["verification"] = None
    else:
        update["verification"] = meta.verification.model_copy(update={"at": when})
    write_metadata(metadata_path(copy), meta.model_copy(update=update))
    return copy


async def test_prune_deletes_exactly_the_planned_files(source, tmp_path):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory, retention_s=7 * 86400, retention_keep=1)
    plan, _ = await take(collector)
    fresh = directory / plan.params["name"]
    assert (await collector.run(await collector.plan("verify-backup", name=fresh.name))).status == "done"
    old_verified = aged_copy(fresh, f"{DATABASE}-old-verified.dump", 20, verified=True)
    older_verified = aged_copy(fresh, f"{DATABASE}-older-verified.dump", 30, verified=True)
    old_unverified = aged_copy(fresh, f"{DATABASE}-old.dump", 25, verified=False)
    foreign = directory / "by-hand.dump"
    foreign.write_bytes(b"PGDMP foreign")
    partial = directory / f"{DATABASE}-crashed.dump.partial"
    partial.write_bytes(b"PGDMP")
    for path in (foreign, partial):
        old = (datetime.now(timezone.utc) - timedelta(days=40)).timestamp()
        os.utime(path, (old, old))
    before = {p.name for p in directory.iterdir()}

    prune = await collector.plan("prune-backups")
    deleted = {older_verified, metadata_path(older_verified), old_verified, metadata_path(old_verified),
               old_unverified, metadata_path(old_unverified), partial}
    assert prune.command[:3] == ("rm", "-r", "--") and set(prune.command[3:]) == {str(p) for p in deleted}
    assert len(prune.command) == 3 + len(deleted)
    assert prune.risk == "destructive" and prune.confirm_text == "nightly" and prune.ready
    assert f"the newest verified backup kept: {fresh.name}" in prune.summary
    assert not prune.confirmed_by("") and prune.confirmed_by("nightly")

    outcome = await collector.run(prune)
    assert outcome.status == "done", outcome
    assert {p.name for p in directory.iterdir()} == before - {p.name for p in deleted}
    assert foreign.exists() and fresh.exists() and metadata_path(fresh).exists()
    again = await collector.plan("prune-backups")
    assert not again.ready and again.failed[0].detail == "none: nothing to prune"


async def test_verify_restores_on_the_profiles_verify_target(server, source, tmp_path, monkeypatch):
    # The verify_target profile reaches the server another way (its socket, as the superuser): enough
    # to see the restore go through the profile's connection rather than the backup's, without a
    # second server to start.
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.scratch-server]\nhost = "{server.socket_dir}"\nport = {server.port}\n'
                      f'user = "postgres"\ndatabase = "postgres"\n')
    monkeypatch.setenv("DBTOP_CONFIG", str(config))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    directory = tmp_path / "backups"
    collector = collector_for(source, directory, verify_target="scratch-server")
    plan, _ = await take(collector)
    verify = await collector.plan("verify-backup", name=plan.params["name"])
    restore_to = verify.command[-2]
    assert verify.ready and f"host={server.socket_dir}" in restore_to and "user=postgres" in restore_to
    assert f"test-restoring it on postgres@{server.socket_dir}:{server.port}/postgres (verify_target)" in verify.summary
    outcome = await collector.run(verify)
    assert outcome.status == "done", outcome.detail
    assert "every count as dumped" in outcome.detail
    assert server.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'dbtop_verify_%'") == "0"


def test_the_verify_target_is_a_profile_key_passed_to_the_policy():
    from dbtop.profiles.config import Profile
    from dbtop.profiles.policy import watch_policy

    assert watch_policy(Profile(name="prod", verify_target="scratch")).verify_target == "scratch"
    assert watch_policy(Profile(name="prod")).verify_target is None
    with pytest.raises(ValueError, match="verify_target names this profile"):
        Profile(name="prod", verify_target="prod")


def test_the_connection_string_given_to_pg_dump_holds_no_password_and_reads_back():
    from dbtop.engines.postgres.dump import conninfo
    from dbtop.profiles.target import parse_keyword_string

    target = resolve_target("postgresql://ops:s3cr%20et@db1:5433/my%20app?sslmode=require")
    text = conninfo(target)
    assert "s3cr" not in text
    assert parse_keyword_string(text) == {"host": "db1", "port": "5433", "user": "ops", "dbname": "my app",
                                          "connect_timeout": "5", "application_name": "dbtop backup",
                                          "sslmode": "require"}
    assert parse_keyword_string(conninfo(target, database="x"))["dbname"] == "x"


async def test_a_cancelled_backup_kills_pg_dump_and_removes_its_partial_file(source, tmp_path, table_locked):
    directory = tmp_path / "backups"
    collector = collector_for(source, directory)
    plan = await collector.plan("backup")
    partial = Path(plan.command[2].removeprefix("--file="))
    running: list[int] = []

    def cancel(update):
        if not running and (pids := pg_dump_processes(partial)):
            running.extend(pids)
            task.cancel()

    task = asyncio.ensure_future(collector.run(plan, cancel))
    outcome = await task  # the runner turns the cancelled task into a cancelled outcome
    assert outcome.status == "cancelled"
    assert running and pg_dump_processes(partial) == []
    assert not partial.exists() and list(directory.iterdir()) == []


def test_the_cron_line_takes_verifies_and_prunes_unattended(server, source, tmp_path, monkeypatch):
    """`dbtop backup take TARGET --verify --prune --confirm TEXT`: one text confirms the night's three
    plans (each names the target, not one of its objects), and the journal gets a line for each."""
    from dbtop.tui.commands import backup as backup_command

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    url = f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{server.port}/{DATABASE}"
    label = resolve_target(url).label
    assert backup_command.run(["take", url, "--verify", "--prune", "--confirm", label]) == 0
    journal = Journal(tmp_path / "state" / "dbtop" / "journal.jsonl")
    # A first night: nothing is old enough to prune, which is said and is no failure.
    assert [(e.action, e.outcome) for e in journal.entries()] == [("backup", "done"), ("verify-backup", "done")]
    assert journal.verify().intact
    assert PASSWORD not in journal.path.read_text()
    assert backup_command.run(["take", url, "--confirm", "not-the-target"]) == 2  # refused, nothing ran


def test_every_postgres_action_says_which_slow_parts_it_changes():
    # A slow part (read every 30 s – 10 min) an action changed would show the old state until then:
    # an action is either listed in REREAD_AFTER or changes only what every snapshot reads.
    from importlib import import_module

    from dbtop.actions.registry import ACTIONS
    from dbtop.engines.postgres.collector import REREAD_AFTER

    every_snapshot_only = {"terminate-session", "cancel-query", "drop-slot"}
    postgres_actions = {name for name, (module, attribute) in ACTIONS.items()
                        if "postgres" in getattr(import_module(module, "dbtop.actions"), attribute).engines}
    assert postgres_actions - set(REREAD_AFTER) == every_snapshot_only


async def test_a_database_with_the_refresh_log_verifies(server, tmp_path):
    # dbtop's own event trigger records the restore's view refreshes in the scratch copy: its
    # refresh log grows during the test restore, which is not a damaged backup.
    server.psql("DROP DATABASE IF EXISTS backup_rl")
    server.psql("CREATE DATABASE backup_rl")
    server.psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 10) g; "
                "CREATE MATERIALIZED VIEW mv1 AS SELECT count(*) FROM t; "
                "CREATE MATERIALIZED VIEW mv2 AS SELECT max(g) FROM t", database="backup_rl")
    collector = collector_for(resolve_target(server.dsn(database="backup_rl")), tmp_path / "backups")
    try:
        assert (await collector.run(await collector.plan("install-refresh-log"))).status == "done"
        server.psql("REFRESH MATERIALIZED VIEW mv1", database="backup_rl")
        plan, outcome = await take(collector)
        assert outcome.status == "done", outcome
        checked = await collector.run(await collector.plan("verify-backup", name=plan.params["name"]))
        assert checked.status == "done", checked.detail
        assert "dbtop.refresh_log has 2 more row(s): the restore's own view refreshes" in checked.detail
    finally:
        server.psql("DROP DATABASE IF EXISTS backup_rl WITH (FORCE)")
