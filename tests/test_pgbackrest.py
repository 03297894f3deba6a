"""pgBackRest through dbtop, on a real repository (the session's `pgbackrest_repo`): backups taken by
dbtop's action and CLI, verify through dbtop (the journal line, the backups it covered verified, the
recovery point good), the WAL archive range, a corrupted backup found invalid although pgBackRest 2.45
exits 0, and a point-in-time restore into a scratch directory on another port."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from dbtop.actions.journal import Journal
from dbtop.engines.backups.inventory import read_pgbackrest
from dbtop.engines.postgres.cluster import LocalCluster
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.findings.engine import evaluate
from dbtop.profiles.target import resolve_target

from .pgbackrest_repo import STANZA, server_time, wait_past


@pytest.fixture
def journal_home(tmp_path, monkeypatch) -> Journal:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return Journal(tmp_path / "state" / "dbtop" / "journal.jsonl")


def collector_for(repo, tmp_path, **policy) -> PostgresCollector:
    return PostgresCollector(resolve_target(repo.cluster.dsn()), policy=repo.policy(tmp_path / "backups", **policy))


async def snapshot_of(collector):
    try:
        return await collector.snapshot()
    finally:
        await collector.close()


async def test_a_full_backup_through_dbtops_action(pgbackrest_repo, tmp_path):
    repo = pgbackrest_repo
    collector = collector_for(repo, tmp_path)
    plan = await collector.plan("pgbackrest-backup", type="full")
    prefix = ["runuser", "-u", repo.os_user, "--"] if repo.os_user else []
    assert list(plan.command) == [*prefix, shutil.which("pgbackrest"), f"--config={repo.config}",
                                  f"--stanza={STANZA}", "--type=full", "backup"]
    assert [p.name for p in plan.preconditions] == [
        "backup_type", "stanza_named", "pgbackrest_found", "pgbackrest_user", "stanza_ready", "same_cluster",
        "archiving", "prior_backups", "no_backup_running"]
    assert plan.ready and plan.risk == "disruptive" and plan.confirm_text == "pgbr"
    assert any("expires backups" in w for w in plan.warnings)
    before = {b["label"] for b in repo.info()[0]["backup"]}
    updates = []
    outcome = await collector.run(plan, updates.append)
    assert outcome.status == "done", (outcome.detail, outcome.error)
    newest = repo.newest()
    assert newest["label"] not in before and newest["type"] == "full"
    assert outcome.detail.startswith(f"took full backup {STANZA}/{newest['label']} (")
    assert updates[0].phase == "pgbackrest backup --type=full starting"
    assert any(u.phase.endswith("written to the repository") for u in updates[1:]), updates

    # an incr asked for on a stanza without a full one is said to become a full one; a bad type refused
    wrong = await collector.plan("pgbackrest-backup", type="weekly")
    assert [p.name for p in wrong.failed] == ["backup_type"]


async def test_a_stanza_of_another_server_is_refused(pgbackrest_repo, pg, tmp_path):
    """The profile names the stanza, but the target is another cluster: nothing may run."""
    collector = PostgresCollector(resolve_target(pg.dsn()), policy=pgbackrest_repo.policy(tmp_path))
    plan = await collector.plan("pgbackrest-verify")
    assert [p.name for p in plan.failed] == ["same_cluster"]
    assert "the profile names another server's stanza" in plan.failed[0].detail


async def test_verify_through_dbtop_makes_the_recovery_point_good(pgbackrest_repo, tmp_path, journal_home):
    repo = pgbackrest_repo
    before = await snapshot_of(collector_for(repo, tmp_path, rpo_s=3600))
    ours = [e for e in before.backups.entries if e.origin == "pgbackrest"]
    assert ours and all(e.status == "unverified" for e in ours)
    assert before.backups.newest_verified_at is None
    assert "backup.no_verified_backup" in {f.rule for f in evaluate(before)[0]}
    rest = before.postgres.pgbackrest
    assert rest.profile_stanza == STANZA and rest.stanzas == [STANZA]
    archive = repo.info()[0]["archive"][0]
    assert [(a.stanza, a.id, a.min, a.max) for a in rest.archives] == [
        (STANZA, archive["id"], archive["min"], archive["max"])]

    collector = collector_for(repo, tmp_path, rpo_s=3600)
    plan = await collector.plan("pgbackrest-verify")
    labels = [b["label"] for b in repo.info()[0]["backup"]]
    assert plan.command[-3:] == ("--output=text", "--verbose", "verify") and plan.risk == "read-only"
    assert {p.name: p.seen for p in plan.preconditions}["backups"] == {"stanza": STANZA, "labels": " ".join(labels)}
    outcome = await collector.run(plan)
    assert outcome.status == "done", (outcome.detail, outcome.error)
    journal_home.record(plan, outcome, typed="yes")
    assert outcome.detail.startswith(f"stanza {STANZA} verified: {len(labels)} backup(s) valid")

    after = await snapshot_of(collector_for(repo, tmp_path, rpo_s=3600))
    verified = {e.name: e for e in after.backups.entries if e.origin == "pgbackrest"}
    assert set(verified) >= {f"{STANZA}/{label}" for label in labels}
    assert all(verified[f"{STANZA}/{label}"].status == "verified" for label in labels)
    assert after.backups.recovery_point_age_s < 3600  # the gauge is good
    rules = {f.rule for f in evaluate(after)[0]}
    assert not {"backup.no_verified_backup", "backup.rpo_exceeded", "backup.never_verified"} & rules


async def test_a_corrupted_backup_fails_verify_though_pgbackrest_exits_0(pgbackrest_repo, tmp_path, journal_home):
    repo = pgbackrest_repo
    label = repo.labels[-1]
    victim = max((repo.repo_path / "backup" / STANZA / label / "pg_data" / "base").rglob("*.lz4"),
                 key=lambda p: p.stat().st_size)
    original = victim.read_bytes()
    # pgBackRest itself says nothing and exits 0 (2.45): the reason dbtop reads its text output
    assert subprocess.run(repo.argv("verify"), capture_output=True).returncode == 0
    try:
        victim.write_bytes(original[:20] + b"garbage" + original[27:])
        collector = collector_for(repo, tmp_path)
        plan = await collector.plan("pgbackrest-verify")
        outcome = await collector.run(plan)
        journal_home.record(plan, outcome)
    finally:
        victim.write_bytes(original)
    assert outcome.status == "failed" and outcome.error == f"invalid backups: {label}"
    assert f"backup {label}: invalid" in outcome.detail
    after = await snapshot_of(collector_for(repo, tmp_path))
    entry = next(e for e in after.backups.entries if e.name == f"{STANZA}/{label}")
    assert entry.status == "verification_failed" and "found it invalid" in entry.problem


def test_the_cli_takes_an_incr_backup_and_verifies_it(pgbackrest_repo, tmp_path, monkeypatch):
    """`dbtop backup take PROFILE --type incr --verify --confirm PROFILE` on a profile naming the stanza."""
    from dbtop.tui.commands import backup as backup_command

    repo = pgbackrest_repo
    config = tmp_path / "config.toml"
    config.write_text(repo.profile_toml("pgbr"))
    monkeypatch.setenv("DBTOP_CONFIG", str(config))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    before = {b["label"] for b in repo.info()[0]["backup"]}
    assert backup_command.run(["take", "pgbr", "--type", "incr", "--verify", "--confirm", "pgbr"]) == 0
    newest = repo.newest()
    assert newest["label"] not in before and newest["type"] == "incr"
    journal = Journal(tmp_path / "state" / "dbtop" / "journal.jsonl")
    entries = list(journal.entries())
    assert [(e.action, e.outcome) for e in entries] == [("pgbackrest-backup", "done"), ("pgbackrest-verify", "done")]
    assert entries[0].statements[0].endswith(f"--stanza={STANZA} --type=incr backup")
    assert newest["label"] in {p.name: p.seen for p in entries[1].preconditions}["backups"]["labels"].split()
    assert journal.verify().intact
    assert backup_command.run(["verify", "pgbr", "some.dump", "--confirm", "x"]) == 2  # a stanza verifies all


def test_type_without_a_stanza_is_one_line_of_bad_input(capsys):
    from dbtop.tui.commands import backup as backup_command

    assert backup_command.run(["take", "postgresql://ops@127.0.0.1:1/app", "--type", "full", "--read-only"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: --type applies to a pgBackRest stanza") and err.count("\n") == 1


async def test_the_inventory_reads_the_profiles_stanza(pgbackrest_repo):
    repo = pgbackrest_repo
    status, entries = await read_pgbackrest(repo.command)
    info = repo.info()[0]
    assert status.available and status.error is None and status.stanzas == [STANZA]
    assert status.system_ids == {STANZA: str(info["db"][-1]["system-id"])}
    assert status.backup_running == []
    found = {e.name: e for e in entries}
    for backup in info["backup"]:
        entry = found[f"{STANZA}/{backup['label']}"]
        assert entry.backup_type == backup["type"] and entry.size_bytes == backup["info"]["repository"]["delta"]
        assert entry.finished_at.timestamp() == backup["timestamp"]["stop"]
        assert entry.tool_version == "pgBackRest 2.45" and entry.server_version == "15"
    assert found[f"{STANZA}/{repo.labels[0]}"].backup_type == "full"


def test_a_point_in_time_restore_reaches_the_target_time_and_no_further(pgbackrest_repo, tmp_path):
    repo = pgbackrest_repo
    cluster = repo.cluster
    cluster.psql("INSERT INTO pgbr_rows (id) SELECT generate_series(50001, 50100)")
    target = server_time(cluster)
    wait_past(target + timedelta(milliseconds=50), cluster)
    cluster.psql("INSERT INTO pgbr_rows (id) SELECT generate_series(60001, 60100)")
    repo.archive_now()  # the WAL past the target must be in the archive

    scratch = LocalCluster(base_dir=Path(cluster.base_dir) / "pitr")
    try:
        repo.run("restore", f"--pg1-path={scratch.data_dir}", "--type=time", f"--target={target:%Y-%m-%d %H:%M:%S.%f}+00",
                 "--target-action=promote", "--archive-mode=off")
        scratch.append_config({"port": str(scratch.port), "unix_socket_directories": f"'{scratch.socket_dir}'"})
        scratch.start()
        deadline = server_time(scratch) + timedelta(seconds=30)
        while scratch.psql("SELECT pg_is_in_recovery()") == "t" and server_time(scratch) < deadline:
            pass
        assert scratch.port != cluster.port
        assert scratch.psql("SELECT pg_is_in_recovery()") == "f"
        assert scratch.psql("SELECT count(*) FROM pgbr_rows WHERE id BETWEEN 50001 AND 50100") == "100"
        assert scratch.psql("SELECT count(*) FROM pgbr_rows WHERE id BETWEEN 60001 AND 60100") == "0"
        assert scratch.psql("SHOW archive_mode") == "off"
    finally:
        scratch.destroy()



async def test_the_backups_panel_verifies_the_stanza_and_the_gauge_turns_good(pgbackrest_repo, tmp_path, journal_home):
    """From the dashboard: the Backups panel shows the WAL archive range, `v` plans pgbackrest-verify,
    Run runs it, and the next snapshot (backups are read again at once) shows the recovery point good."""
    import asyncio

    from dbtop.tui.app import DbtopApp
    from dbtop.tui.confirm import ConfirmScreen
    from dbtop.tui.poller import SnapshotPoller

    from .test_app import screen_text, until

    repo = pgbackrest_repo
    poller = SnapshotPoller(collector_for(repo, tmp_path, rpo_s=3600), 0.5)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name="dbtop-dark")
    archive = repo.info()[0]["archive"][0]
    try:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await until(pilot, lambda: app.last_reachable is not None and app.last_reachable.backups is not None)
            await pilot.press("6")
            await pilot.pause()
            text = screen_text(app)
            assert "NO VERIFIED BACKUP" in text
            assert f"{STANZA} WAL {archive['id']}: {archive['min']} … {archive['max']}" in text
            assert "restores reach from the oldest backup" in " ".join(text.split())  # wrapped
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert app.screen.plan.action == "pgbackrest-verify" and app.screen.plan.ready
            await pilot.click("#confirm-run")
            await until(pilot, lambda: not app.running and not isinstance(app.screen, ConfirmScreen))
            await until(pilot, lambda: app.last_reachable.backups.newest_verified_at is not None)
            await pilot.pause()
            assert "newest verified backup" in screen_text(app)
    finally:
        await asyncio.to_thread(poller.stop)
    entry, = journal_home.entries()
    assert (entry.action, entry.outcome) == ("pgbackrest-verify", "done")



@pytest.mark.parametrize("stanza", [None, "main"])
async def test_the_backups_keys_ask_for_pgbackrest_where_the_profile_names_a_stanza(stanza, monkeypatch):
    from dbtop.engines.snapshot import PgBackRestArchive, PgBackRestStatus

    from . import fakes
    from .fakes import FakeCollector, fake_dashboard

    snap = fakes.healthy(backups=fakes.backups(fakes.backup("app-nightly.dump", status="unverified")))
    rest = PgBackRestStatus(available=True, profile_stanza=stanza, stanzas=[stanza or "main"],
                            archives=[PgBackRestArchive(stanza="main", id="15-1", min="000000010000000000000001",
                                                        max="000000010000000000000009")])
    snap = snap.model_copy(update={"postgres": snap.postgres.model_copy(update={"pgbackrest": rest})})
    async with fake_dashboard(FakeCollector(snap), size=(120, 40)) as (app, pilot):
        asked = []
        monkeypatch.setattr(app, "request_action", lambda action, params: asked.append((action, params)) or True)
        await pilot.press("6", "b", "v")
        titles = [c.title for c in app.get_system_commands(app.screen)]
    if stanza:
        assert asked == [("pgbackrest-backup", {"type": "incr"}), ("pgbackrest-verify", {})]
        assert {"Take a pgBackRest full backup of stanza main", "Verify pgBackRest stanza main"} <= set(titles)
    else:
        assert asked == [("backup", {}), ("verify-backup", {"name": "app-nightly.dump"})]
        assert not [t for t in titles if "pgBackRest" in t]


# -- the pure parts, on pgBackRest 2.45's recorded output -----------------------------------------

VERIFY_OK = """stanza: demo
status: ok
  archiveId: 15-1, total WAL checked: 4, total valid WAL: 4
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261207-150116F, status: valid, total files checked: 967, total valid files: 967
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20261207-150116F_20261207-150118I, status: valid, total files checked: 967, total valid files: 967
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
"""
VERIFY_INVALID = VERIFY_OK.replace("status: ok", "status: error").replace(
    "150118I, status: valid, total files checked: 967, total valid files: 967",
    "150118I, status: invalid, total files checked: 967, total valid files: 966")


def test_verify_output_decides_not_the_exit_status():
    from dbtop.engines.backups.pgbackrest import parse_verify_output

    ok = parse_verify_output(VERIFY_OK)
    assert ok.passed and ok.stanza == "demo" and (ok.wal_checked, ok.wal_valid) == (4, 4)
    assert ok.backups == {"20261207-150116F": "valid", "20261207-150116F_20261207-150118I": "valid"}
    bad = parse_verify_output(VERIFY_INVALID)
    assert not bad.passed and bad.problems() == ["backup 20261207-150116F_20261207-150118I is invalid"]
    assert not parse_verify_output("").passed  # pgBackRest's silence (no --output) proves nothing
    wal = parse_verify_output(VERIFY_OK.replace("total valid WAL: 4", "total valid WAL: 3"))
    assert not wal.passed and wal.problems() == ["1 of 4 WAL segments are not valid"]


def test_the_repository_path_comes_from_the_stanza_section_over_global():
    from dbtop.engines.backups.pgbackrest import repository_path

    text = "[global]\nrepo1-path=/var/lib/pgbackrest ; comment\n\n[main]\npg1-path=/data\n[other]\nrepo1-path=/srv/other\n"
    assert repository_path(text, "main") == Path("/var/lib/pgbackrest")
    assert repository_path(text, "other") == Path("/srv/other")
    assert repository_path("", None) == Path("/var/lib/pgbackrest")
    assert repository_path("[global]\nrepo1-type=s3\n", "main") is None


def test_journaled_verify_runs_mark_the_backups_they_covered(tmp_path):
    from datetime import datetime, timezone

    from dbtop.actions.plan import Outcome, Plan, PlanTarget, Precondition
    from dbtop.engines.backups.pgbackrest import journal_verifications, mark_verified
    from dbtop.engines.snapshot import BackupEntry

    journal = Journal(tmp_path / "journal.jsonl")
    target = PlanTarget(engine="postgres", label="x", system_identifier="42")

    def record(labels: str, status: str, error: str | None = None, action: str = "pgbackrest-verify") -> None:
        now = datetime.now(timezone.utc)
        plan = Plan(action=action, target=target, summary="s", command=("pgbackrest", "verify"), risk="read-only",
                    planned_at=now, preconditions=(Precondition(name="backups", description="d", passed=True,
                                                                seen={"stanza": "main", "labels": labels}),))
        journal.record(plan, Outcome(action=action, target=target, status=status, detail="d", error=error,
                                     started_at=now, finished_at=now))

    record("F1 I1", "done")
    record("F1 I1 I2", "failed", "invalid backups: I2")
    record("F1 I1 I2", "failed", "pgbackrest verify failed: sudo: a password is required")  # proves nothing
    record("I3", "done", action="pgbackrest-backup")  # not a verification
    found = journal_verifications(journal.entries())
    assert {key: check.passed for key, check in found.items()} == {
        ("main", "F1"): True, ("main", "I1"): True, ("main", "I2"): False}
    entries = [BackupEntry(origin="pgbackrest", name=f"main/{label}", status="unverified")
               for label in ("F1", "I1", "I2", "I3")]
    marked = {e.name: e.status for e in mark_verified(entries, found, {"main": "42"})}
    assert marked == {"main/F1": "verified", "main/I1": "verified", "main/I2": "verification_failed",
                      "main/I3": "unverified"}
    # the stanza now backs up another cluster (rebuilt, same stanza name): nothing journaled counts
    assert {e.status for e in mark_verified(entries, found, {"main": "43"})} == {"unverified"}
