"""The backup inventory: files written in dbtop's metadata format, foreign and broken files, retention,
the recovery point, pgBackRest (a real repository, the profile's stanza), and WAL archiving
on a real server whose archive_command fails."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dbtop.engines.backups.inventory import (
    BackupInventory,
    BackupMetadata,
    Verification,
    apply_retention,
    collect_backup_inventory,
    default_backup_dir,
    metadata_path,
    read_pgbackrest,
    scan_backup_directory,
    write_metadata,
)
from dbtop.engines.backups.pgbackrest import PgBackRestCommand
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.findings.engine import evaluate
from dbtop.profiles.target import resolve_target

from .conftest import wait_until



def dbtop_backup(directory: Path, name: str, age: timedelta, verification: str | None = None,
                 content: bytes = b"PGDMP backup bytes") -> Path:
    path = directory / name
    path.write_bytes(content)
    finished = datetime.now(timezone.utc) - age
    write_metadata(metadata_path(path), BackupMetadata(
        file=name, database="app", target="ops@db1:5432/app", format="custom",
        started_at=finished - timedelta(minutes=3), finished_at=finished, server_version="15.13",
        tool="pg_dump", tool_version="15.13", dbtop_version="0.1", size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        verification=None if verification is None else Verification(
            at=finished + timedelta(minutes=5), result=verification, method="pg_restore --list",
            detail=None if verification == "passed" else "pg_restore: error: could not read input file")))
    return path


def by_name(entries):
    return {e.name: e for e in entries}


def test_inventory_shows_each_kind_of_file_truthfully(tmp_path):
    dbtop_backup(tmp_path, "app-verified.dump", timedelta(hours=5), "passed")
    dbtop_backup(tmp_path, "app-newer-unverified.dump", timedelta(hours=1))
    dbtop_backup(tmp_path, "app-failed.dump", timedelta(hours=3), "failed")
    (tmp_path / "manual.dump").write_bytes(b"x" * 100)
    (tmp_path / "old.sql.gz").write_bytes(b"y" * 50)
    (tmp_path / "notes.txt").write_text("not a backup")
    directory_format = tmp_path / "dirformat"
    directory_format.mkdir()
    (directory_format / "toc.dat").write_bytes(b"t" * 10)
    (directory_format / "3001.dat.gz").write_bytes(b"d" * 30)
    (tmp_path / "broken.dump.dbtop.json").write_text("{not json")
    (tmp_path / "broken.dump").write_bytes(b"z")
    bad_sum = json.loads(metadata_path(tmp_path / "app-verified.dump").read_text())
    bad_sum.update(file="badsum.dump", sha256="not-a-checksum")
    (tmp_path / "badsum.dump").write_bytes(b"PGDMP backup bytes")
    (tmp_path / "badsum.dump.dbtop.json").write_text(json.dumps(bad_sum))
    (tmp_path / "app-2026.dump.partial").write_bytes(b"half")
    dbtop_backup(tmp_path, "gone.dump", timedelta(hours=2), "passed").unlink()

    entries, error = scan_backup_directory(tmp_path)
    assert error is None
    found = by_name(entries)
    assert found["app-verified.dump"].status == "verified" and found["app-verified.dump"].origin == "dbtop"
    assert found["app-newer-unverified.dump"].status == "unverified"
    assert found["app-failed.dump"].status == "verification_failed"
    assert found["manual.dump"].origin == "foreign" and found["manual.dump"].status == "unverified"
    assert found["manual.dump"].size_bytes == 100 and found["manual.dump"].file_time is not None
    assert found["old.sql.gz"].format == "sql.gz"
    assert found["dirformat"].format == "directory" and found["dirformat"].size_bytes == 40
    assert found["broken.dump"].status == "corrupt_metadata" and "not valid JSON" in found["broken.dump"].problem
    assert found["badsum.dump"].status == "corrupt_metadata" and "sha256" in found["badsum.dump"].problem
    assert found["app-2026.dump.partial"].status == "partial" and "never be restored" in found["app-2026.dump.partial"].problem
    assert found["gone.dump"].status == "missing_file"
    assert "notes.txt" not in found
    assert len(entries) == 10


def test_a_backup_changed_after_it_was_taken_is_not_good(tmp_path):
    path = dbtop_backup(tmp_path, "app.dump", timedelta(hours=1), "passed")
    path.write_bytes(b"truncated")
    entries, _ = scan_backup_directory(tmp_path)
    assert entries[0].status == "verification_failed" and "changed" in entries[0].problem


async def test_recovery_point_is_the_newest_verified_backup_never_a_partial_or_unverified_one(tmp_path):
    taken = datetime.now(timezone.utc) - timedelta(hours=30)
    dbtop_backup(tmp_path, "verified.dump", timedelta(hours=30), "passed")
    dbtop_backup(tmp_path, "unverified.dump", timedelta(hours=1))
    (tmp_path / "newest.dump.partial").write_bytes(b"half")
    backups, _ = await collect_backup_inventory(tmp_path, rpo_s=86400, retention_s=7 * 86400, keep=3)
    assert backups.newest_verified_at is not None
    assert abs((taken - backups.newest_verified_at).total_seconds()) < 1
    assert backups.recovery_point_age_s > 86400  # beyond the RPO: the newer files do not count
    findings, _ = evaluate_backups(backups)
    assert "backup.rpo_exceeded" in findings and "backup.never_verified" in findings
    assert [e.subject for e in findings["backup.bad_files"].evidence] == ["newest.dump.partial"]


def evaluate_backups(backups):
    from dbtop.engines.snapshot import Snapshot

    snapshot = Snapshot(sequence=1, taken_at=datetime.now(timezone.utc), target="t", engine="postgres",
                        reachable=True, backups=backups)
    findings, failures = evaluate(snapshot)
    assert not failures
    return {f.rule: f for f in findings}, findings


async def test_no_backup_at_all_is_critical_and_says_so(tmp_path):
    backups, _ = await collect_backup_inventory(tmp_path / "missing", rpo_s=86400, retention_s=7 * 86400, keep=3)
    assert "no backup directory" in backups.directory_error and backups.newest_verified_at is None
    rules, _ = evaluate_backups(backups)
    assert rules["backup.no_verified_backup"].severity.name == "CRITICAL"


def test_retention_keeps_the_window_and_at_least_the_newest_three(tmp_path):
    for day in range(10):
        dbtop_backup(tmp_path, f"daily-{day}.dump", timedelta(days=day, hours=1), "passed")
    (tmp_path / "foreign-ancient.dump").write_bytes(b"x")
    os.utime(tmp_path / "foreign-ancient.dump", (time.time() - 90 * 86400,) * 2)
    entries, _ = scan_backup_directory(tmp_path)
    marked = by_name(apply_retention(entries, retention_s=7 * 86400, keep=3, now=datetime.now(timezone.utc)))
    assert sorted(n for n, e in marked.items() if e.prune) == ["daily-7.dump", "daily-8.dump", "daily-9.dump"]
    assert not marked["foreign-ancient.dump"].prune  # not dbtop's to delete

    old = tmp_path / "old"
    old.mkdir()
    for n in range(5):
        dbtop_backup(old, f"old-{n}.dump", timedelta(days=20 + n))
    marked = by_name(apply_retention(scan_backup_directory(old)[0], retention_s=7 * 86400, keep=3, now=datetime.now(timezone.utc)))
    assert sorted(n for n, e in marked.items() if e.prune) == ["old-3.dump", "old-4.dump"]


def test_default_directory_is_per_profile_under_the_xdg_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_backup_dir("prod", "x") == tmp_path / "dbtop" / "backups" / "prod"
    adhoc = default_backup_dir(None, "ops@db1:5432/app")
    assert adhoc.parent == tmp_path / "dbtop" / "backups" and "/" not in adhoc.name and "db1" in adhoc.name


async def test_pgbackrest_backups_join_the_inventory(pgbackrest_repo, tmp_path, monkeypatch):
    """The profile's stanza, read from a real repository into the collector's snapshot."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    repo = pgbackrest_repo
    collector = PostgresCollector(resolve_target(repo.cluster.dsn()), policy=repo.policy(tmp_path))
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    rest = snap.postgres.pgbackrest
    assert rest.available and rest.profile_stanza == repo.stanza and rest.stanzas == [repo.stanza]
    assert snap.postgres.archiving.enabled and not snap.postgres.archiving.failing
    found = by_name(snap.backups.entries)
    full, incr = (found[f"{repo.stanza}/{label}"] for label in repo.labels[:2])
    assert (full.backup_type, incr.backup_type) == ("full", "incr")
    assert full.status == incr.status == "unverified" and 0 < incr.size_bytes < full.size_bytes
    assert snap.backups.newest_verified_at is None  # info proves no restore; nothing was verified here


async def test_a_stanza_the_repository_lacks_is_said(pgbackrest_repo, tmp_path):
    missing = PgBackRestCommand(stanza="no_such_stanza", config=str(pgbackrest_repo.config),
                                user=pgbackrest_repo.os_user)
    status, entries = await read_pgbackrest(missing)
    assert status.stanzas == ["no_such_stanza"] and entries == []
    assert status.error.startswith("stanza no_such_stanza: missing stanza path")


async def test_without_pgbackrest_it_is_simply_not_available(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    status, entries = await read_pgbackrest()
    assert not status.available and entries == []


async def test_collector_reads_the_profile_backup_directory(pg, tmp_path):
    dbtop_backup(tmp_path, "app.dump", timedelta(hours=2), "passed")
    collector = PostgresCollector(resolve_target(pg.dsn()), policy=WatchPolicy(backup_dir=str(tmp_path), rpo_s=3600))
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    backups = snap.backups
    assert backups.directory == str(tmp_path) and [e.name for e in backups.entries] == ["app.dump"]
    assert backups.rpo_s == 3600 and backups.recovery_point_age_s > 3600
    assert snap.postgres.archiving is not None and not snap.postgres.archiving.enabled  # the test server does not archive
    rules = {f.rule for f in evaluate(snap)[0]}
    assert {"backup.rpo_exceeded", "backup.archiving_off"} <= rules and "backup.no_verified_backup" not in rules
    assert not {"backup.never_verified", "backup.bad_files"} & rules  # one good, verified backup


async def test_collector_reads_the_inventory_it_is_handed_and_adds_archiving(pg, tmp_path):
    handed, policy_dir = tmp_path / "handed", tmp_path / "policy"
    handed.mkdir(), policy_dir.mkdir()
    dbtop_backup(handed, "handed.dump", timedelta(hours=1), "passed")
    dbtop_backup(policy_dir, "policy.dump", timedelta(hours=1), "passed")
    inventory = BackupInventory(handed, rpo_s=7200, retention_s=86400, keep=1)
    collector = PostgresCollector(resolve_target(pg.dsn()), policy=WatchPolicy(backup_dir=str(policy_dir)),
                                  backups=inventory)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    assert snap.backups.directory == str(handed) and [e.name for e in snap.backups.entries] == ["handed.dump"]
    assert snap.backups.rpo_s == 7200 and snap.postgres.archiving is not None
    assert BackupInventory.from_policy(WatchPolicy(backup_dir=str(policy_dir)), "x").directory == policy_dir


async def test_a_backup_directory_that_does_not_answer_costs_the_part_not_the_snapshot(tmp_path, monkeypatch):
    from dbtop.engines.backups import inventory as backup_inventory
    from dbtop.engines.parts import PartFailed

    def hung_scan(directory, now=None):
        time.sleep(1)
        return [], None

    monkeypatch.setattr(backup_inventory, "scan_backup_directory", hung_scan)
    slow = BackupInventory(tmp_path, rpo_s=3600, retention_s=86400, keep=1, pgbackrest_timeout_s=0.1,
                           scan_timeout_s=0.1)
    with pytest.raises(PartFailed, match=f"reading the backup directory {tmp_path} did not finish in time"):
        await slow.read()


async def archiving_snapshot(cluster, tmp_path):
    cluster.psql("CREATE TABLE IF NOT EXISTS churn (v int); INSERT INTO churn SELECT generate_series(1, 1000); "
                 "SELECT pg_switch_wal();")
    collector = PostgresCollector(resolve_target(cluster.dsn()), policy=WatchPolicy(backup_dir=str(tmp_path)))
    try:
        return await collector.snapshot()
    finally:
        await collector.close()


async def test_a_failing_archive_command_shows_as_failing(start_cluster, tmp_path):
    cluster = start_cluster(settings={"archive_mode": "on", "archive_command": "'/bin/false'",
                                      "wal_level": "replica"})
    cluster.psql("CREATE TABLE churn (v int); INSERT INTO churn SELECT generate_series(1, 1000); SELECT pg_switch_wal();")
    await wait_until(lambda: cluster.psql("SELECT failed_count FROM pg_stat_archiver") not in ("", "0"), timeout=30)
    snap = await archiving_snapshot(cluster, tmp_path)
    archiving = snap.postgres.archiving
    assert archiving.enabled and archiving.failing and archiving.failed_count >= 1
    assert archiving.last_failed_wal and archiving.last_archived_wal is None
    rules = {f.rule: f for f in evaluate(snap)[0]}
    assert rules["backup.archiving_failing"].severity.name == "CRITICAL"
    assert "backup.archiving_off" not in rules


async def test_working_archiving_is_not_a_finding(start_cluster, tmp_path):
    # archive_command runs in the data directory, as the server's user, who owns its parent
    cluster = start_cluster(settings={"archive_mode": "on",
                                      "archive_command": "'mkdir -p ../wal_archive && cp %p ../wal_archive/%f'",
                                      "wal_level": "replica"})
    cluster.psql("CREATE TABLE churn (v int); INSERT INTO churn SELECT generate_series(1, 1000); SELECT pg_switch_wal();")
    await wait_until(lambda: cluster.psql("SELECT archived_count FROM pg_stat_archiver") not in ("", "0"), timeout=30)
    snap = await archiving_snapshot(cluster, tmp_path)
    archiving = snap.postgres.archiving
    assert archiving.enabled and not archiving.failing and archiving.archived_count >= 1
    rules = {f.rule for f in evaluate(snap)[0]}
    assert not {"backup.archiving_failing", "backup.archiving_off"} & rules
