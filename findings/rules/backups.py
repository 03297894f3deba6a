"""Backup and recovery: a verified backup within the RPO, WAL archiving, verification."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot
from ..engine import Thresholds, rule
from ..model import Evidence, Finding, Severity
from ..wording import duration


@rule
def no_verified_backup(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    backups = snapshot.backups
    if backups is None:
        return
    where = Evidence(subject="backup inventory",
                     detail=f"{len(backups.entries)} backup(s) in {backups.directory or '?'}"
                            + (f" ({backups.directory_error})" if backups.directory_error else ""))
    if backups.newest_verified_at is None:
        yield Finding(
            id="backup.no_verified_backup", rule="backup.no_verified_backup", area="backup",
            severity=Severity.CRITICAL,
            title="No verified backup",
            evidence=[where, Evidence(subject="RPO", detail=duration(backups.rpo_s))],
            impact="Nothing proves this database can be restored: after a disk loss, a bad migration or a "
                   "deleted table, the data may be gone.",
            fix="Take a backup and verify it by restoring it (pg_restore --list at least; a restore into a scratch "
                "database is the real proof); schedule both.",
            statement="pg_dump --format=custom --file=<backup_dir>/<db>-<timestamp>.dump <db>",
            addressed_by="action:backup")
        return
    age = (snapshot.taken_at - backups.newest_verified_at).total_seconds()
    if age <= backups.rpo_s:
        return
    yield Finding(
        id="backup.rpo_exceeded", rule="backup.rpo_exceeded", area="backup", severity=Severity.HIGH,
        title=f"Newest verified backup is {duration(age)} old, beyond the RPO of {duration(backups.rpo_s)}",
        evidence=[where, Evidence(subject="newest verified backup",
                                  detail=f"finished {backups.newest_verified_at:%Y-%m-%d %H:%M %Z}")],
        impact=f"A restore today would lose up to {duration(age)} of changes (more than the agreed objective).",
        fix="Take and verify a backup now; find out why the scheduled one stopped.",
        addressed_by="action:backup")


@rule
def archiving(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    archive = snapshot.postgres.archiving if snapshot.postgres else None
    if archive is None or (snapshot.server and snapshot.server.is_standby):
        return
    if not archive.enabled:
        yield Finding(
            id="backup.archiving_off", rule="backup.archiving_off", area="backup", severity=Severity.HIGH,
            title="WAL archiving is off: no point-in-time recovery",
            evidence=[Evidence(subject="archive_mode", detail=archive.archive_mode or "off")],
            impact="A restore can only go back to the moment of a backup: everything since is lost, and a mistake "
                   "(DROP, bad UPDATE) cannot be undone to the minute before.",
            fix="Set archive_mode = on and an archive_command (or a tool such as pgBackRest/WAL-G) that copies WAL "
                "off this machine; restart for archive_mode.",
            statement="ALTER SYSTEM SET archive_mode = on;  -- restart needed\n"
                      "ALTER SYSTEM SET archive_command = 'pgbackrest --stanza=main archive-push %p';",
            addressed_by="runbook:enable-archiving")
        return
    if archive.failing or not archive.archive_command_set:
        detail = (f"{archive.failed_count} failure(s), last {archive.last_failed_wal or '?'} at "
                  f"{archive.last_failed_at:%Y-%m-%d %H:%M:%S %Z}" if archive.last_failed_at else "archive_command empty")
        yield Finding(
            id="backup.archiving_failing", rule="backup.archiving_failing", area="backup", severity=Severity.CRITICAL,
            title="WAL archiving is failing",
            evidence=[Evidence(subject="pg_stat_archiver", detail=detail),
                      Evidence(subject="last success", detail=str(archive.last_archived_wal or "never"))],
            impact="WAL segments pile up in pg_wal until the disk fills and the server stops; the point-in-time "
                   "recovery chain has a gap from the first failure on.",
            fix="Read the server log for the archive_command's error, fix it (permissions, destination full, "
                "network), and watch failed_count stop growing.",
            addressed_by="runbook:archiving-failure")


@rule
def backups_never_verified(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    backups = snapshot.backups
    if backups is None:
        return
    unverified = [e for e in backups.entries if e.status == "unverified"]
    failed = [e for e in backups.entries if e.status in ("verification_failed", "partial", "missing_file",
                                                         "corrupt_metadata")]
    if unverified:
        never_verified = dict(
            id="backup.never_verified", rule="backup.never_verified", area="backup", severity=Severity.MEDIUM,
            title=f"{len(unverified)} backup(s) never verified",
            evidence=[Evidence(subject=e.name, detail=f"{e.origin}, {e.format or e.backup_type or '?'}")
                      for e in unverified[:10]],
            impact="A backup nobody restored is a hope: truncated files, wrong databases and missing roles are "
                   "found during the incident.",
            fix="Verify each backup after it is taken (dbtop's verify action restores the table of contents and "
                "checks the checksum).")
        # dbtop verifies the backups it took (they carry its metadata): the newest of them first
        ours = [e for e in unverified if e.origin == "dbtop"]
        if ours:
            newest = max(ours, key=lambda e: (e.taken_at is not None, e.taken_at or 0, e.name))
            yield Finding(**never_verified, addressed_by="action:verify-backup", action_params={"name": newest.name})
        else:
            yield Finding(**never_verified)
    if failed:
        yield Finding(
            id="backup.bad_files", rule="backup.bad_files", area="backup", severity=Severity.HIGH,
            title=f"{len(failed)} backup file(s) failed, incomplete or unreadable",
            evidence=[Evidence(subject=e.name, detail=f"{e.status}: {e.problem or ''}") for e in failed[:10]],
            impact="These cannot be restored; if the schedule counts them as backups, the real recovery point is "
                   "older than it looks.",
            fix="Find why they failed (interrupted dump, disk full, failed verification), take a new backup, and "
                "remove the broken files.",
            addressed_by="action:backup")
