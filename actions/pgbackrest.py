"""The pgBackRest actions, for a profile that names a stanza (`pgbackrest_stanza`): pgbackrest-backup
runs `pgbackrest backup --type=full|diff|incr`, pgbackrest-verify runs `pgbackrest verify`. Both run
pgBackRest as the profile's `pgbackrest_user` with its `pgbackrest_config`
(engines.backups.pgbackrest), and plan on what `pgbackrest info` says of the stanza now: that it
backs up this very server (the same system identifier), and which backups it holds.

pgbackrest-backup. Risk: disruptive. The server's data is not changed, but the backup starts with a
checkpoint (immediate when the configuration says start-fast=y) and reads the whole cluster, and
pgBackRest then expires backups and WAL beyond the stanza's retention: older backups may be deleted.
The operator types the profile's name. An incr or diff backup asked for while the stanza has no full
backup is taken as a full one (pgBackRest's own rule), and the plan says so. Progress: pgBackRest
2.45's `info` says only that a backup is running (its lock held), not how far it is, so the progress
is the bytes written so far into the new backup's directory in the repository (when the repository
is on a file system dbtop can read), and the time it has run.

pgbackrest-verify. Risk: read-only (it reads the repository). pgBackRest 2.45's `verify` exits 0 even
when it finds an invalid backup, so its text output (`--output=text --verbose`) decides: the run is
done only when the stanza's status is ok and every backup the plan saw is reported valid. The
journal keeps which backups those were (the `backups` precondition's seen labels), or, for a failed
run, the invalid ones in its error: the inventory reads that back to mark pgBackRest's backups
verified (engines.backups.pgbackrest.journal_verifications).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engines.backups.inventory import read_pgbackrest
from ..engines.backups.pgbackrest import (BACKUP_ACTION, VERIFY_ACTION, PgBackRestCommand, as_user,
                                          invalid_backups_error, parse_verify_output, repository_path, tree_bytes)
from ..engines.errors import ActionFailed
from ..engines.postgres.dump import run_client
from ..engines.snapshot import BackupEntry, PgBackRestStatus
from ..findings.wording import duration, size
from .plan import Plan, Precondition, Progress, ProgressUpdate, Scalar

TYPES = ("full", "diff", "incr")
PACKAGE_HINT = "install pgBackRest (Debian: apt-get install pgbackrest)"
NO_VALID_BACKUP = "no valid backups"  # status code 2: a stanza that is ready but holds no backup yet
PROGRESS_EVERY_S = 1.0


def pgbackrest_command(session: Any) -> PgBackRestCommand:
    return PgBackRestCommand.from_policy(session.policy)


def stanza_labels(entries: list[BackupEntry], stanza: str) -> list[str]:
    """The stanza's backups, oldest first (info lists them so)."""
    return [e.name.partition("/")[2] for e in entries if e.name.partition("/")[0] == stanza]


async def stanza_state(session: Any) -> tuple[PgBackRestCommand, str | None, PgBackRestStatus, list[BackupEntry],
                                              list[Precondition]]:
    """What both actions rest on: pgBackRest is installed and can run as the profile's user, the
    profile names a stanza, the stanza answers, and it backs up this server."""
    command = pgbackrest_command(session)
    stanza = command.stanza
    preconditions: list[Precondition] = [Precondition(
        name="stanza_named", description="the profile names a pgBackRest stanza", passed=bool(stanza),
        detail=stanza or "set pgbackrest_stanza in the profile (and pgbackrest_config, pgbackrest_user if needed)",
        seen={"stanza": stanza, "config": command.config, "user": command.user})]
    executable = await asyncio.to_thread(command.found)
    preconditions.append(Precondition(
        name="pgbackrest_found", description="pgbackrest is installed", passed=executable is not None,
        detail=executable or f"no pgbackrest on PATH: {PACKAGE_HINT}"))
    preconditions.append(user_precondition(command.user))
    status, entries = PgBackRestStatus(available=executable is not None), []
    if stanza and executable and preconditions[-1].passed:
        status, entries = await read_pgbackrest(command, timeout_s=session.policy.pgbackrest_timeout_s)
        usable = stanza in status.stanzas and (status.error is None or NO_VALID_BACKUP in status.error)
        preconditions.append(Precondition(
            name="stanza_ready", description=f"pgbackrest info answers for stanza {stanza}", passed=usable,
            detail=(status.error or "ok") if usable or status.error else f"pgBackRest lists no stanza {stanza}"))
        system_id = status.system_ids.get(stanza)
        same = system_id is not None and system_id == session.target.system_identifier
        preconditions.append(Precondition(
            name="same_cluster", description=f"stanza {stanza} backs up this server", passed=same,
            detail=(f"system identifier {system_id}" if same else
                    f"the stanza's cluster is {system_id or 'unknown'}, this server is "
                    f"{session.target.system_identifier}: the profile names another server's stanza"),
            seen={"system_id": system_id}))
    return command, executable, status, entries, preconditions


def user_precondition(user: str | None) -> Precondition:
    """pgBackRest can run as `user`: it exists, and the program that switches to it is installed."""
    description = f"pgbackrest can run as {user or 'this user'}"
    if user is None:
        return Precondition(name="pgbackrest_user", description=description, passed=True,
                            detail="no pgbackrest_user: runs as dbtop's own OS user")
    try:
        pwd.getpwnam(user)
    except KeyError:
        return Precondition(name="pgbackrest_user", description=description, passed=False,
                            detail=f"no OS user {user} on this host: set pgbackrest_user to the repository's owner")
    prefix = as_user(user)
    if prefix and shutil.which(prefix[0]) is None:
        return Precondition(name="pgbackrest_user", description=description, passed=False,
                            detail=f"{prefix[0]} is not installed: dbtop cannot run pgbackrest as {user}")
    how = f"through {' '.join(prefix[:-1])}" if prefix else "dbtop already runs as that user"
    return Precondition(name="pgbackrest_user", description=description, passed=True, detail=how,
                        seen={"user": user})


def pgbackrest_environment() -> dict[str, str]:
    return dict(os.environ)


class PgBackRestBackup:
    name = BACKUP_ACTION
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, type: Scalar = "incr") -> Plan:  # noqa: A002 - pgBackRest's own word
        now = datetime.now(timezone.utc)
        kind = str(type or "incr")
        command, executable, status, entries, preconditions = await stanza_state(session)
        stanza = command.stanza or "?"
        preconditions.insert(0, Precondition(
            name="backup_type", description="the backup type is full, diff or incr", passed=kind in TYPES,
            detail=kind if kind in TYPES else f"{kind!r} is not one of: {', '.join(TYPES)}"))
        server = await session.conn.fetchrow(session.sql("pgbackrest_server"))
        archiving = server["archive_mode"] in ("on", "always")
        preconditions.append(Precondition(
            name="archiving", description="WAL archiving is on (a backup's WAL must reach the repository)",
            passed=archiving and not server["in_recovery"],
            detail=(f"archive_mode = {server['archive_mode']}" if not server["in_recovery"] else
                    "this server is a standby: back up the primary (or configure backup-standby)")
            + ("" if archiving else ": set archive_mode = on and an archive_command running pgbackrest archive-push")))
        labels = stanza_labels(entries, stanza)
        fulls = [e for e in entries if e.name.startswith(f"{stanza}/") and e.backup_type == "full"]
        if kind != "full" and not fulls:
            prior = f"no full backup yet: pgBackRest takes a full backup instead of the {kind} asked for"
        elif labels:
            prior = f"{len(labels)} backup(s), {len(fulls)} full; the newest is {labels[-1]}"
        else:
            prior = "no backup yet"
        preconditions.append(Precondition(
            name="prior_backups", description="the backups it builds on", passed=True, detail=prior,
            seen={"newest": labels[-1] if labels else None}))
        running = stanza in status.backup_running
        preconditions.append(Precondition(
            name="no_backup_running", description=f"no backup of stanza {stanza} is running", passed=not running,
            detail="pgBackRest's backup lock is held: wait for that backup to finish" if running else None))
        argv = tuple(command.argv(f"--type={kind}", "backup", executable=executable))
        return Plan(
            action=self.name, target=session.target, params={"type": kind},
            summary=f"take a pgBackRest {kind} backup of stanza {stanza}"
                    + (" (a full one: the stanza has no full backup yet)" if kind != "full" and not fulls else ""),
            command=argv, preconditions=tuple(preconditions), risk="disruptive",
            warnings=(
                "changes no data; starts with a checkpoint (immediate when the configuration says start-fast=y, else "
                "it waits for the next one) and reads the whole cluster",
                "afterwards pgBackRest expires backups and WAL beyond the stanza's retention (repo1-retention-full …): "
                "older backups may be deleted from the repository",
                "the new backup is unverified until pgbackrest-verify passes",
            ),
            confirm_text=session.target.profile or session.target.label, planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        report = progress or (lambda update: None)
        command = pgbackrest_command(session)
        stanza = command.stanza or "?"
        kind = str(plan.params["type"])
        watched = await asyncio.to_thread(backup_root, command)
        before = set(_children(watched)) if watched else set()
        started = time.monotonic()
        last = [0.0]

        def tick() -> None:
            if time.monotonic() - last[0] < PROGRESS_EVERY_S:
                return
            last[0] = time.monotonic()
            written = None
            if watched is not None:
                new = [p for p in _children(watched) if p not in before]
                written = sum(tree_bytes(p) or 0 for p in new) if new else 0
            elapsed = duration(time.monotonic() - started)
            # In the phase, not as done/total: there is no total to show a fraction of (2.45 says none).
            report(ProgressUpdate(phase=f"pgbackrest backup --type={kind}, {elapsed}"
                                        + ("" if written is None else f", {size(written)} written to the repository")))

        report(ProgressUpdate(phase=f"pgbackrest backup --type={kind} starting"))
        finished, _ = await run_client(list(plan.command), pgbackrest_environment(), tick=tick)
        if not finished.ok:
            reason = finished.reason("pgbackrest backup")
            raise ActionFailed(f"no backup was made: {reason}", reason)
        _, entries = await read_pgbackrest(command, timeout_s=session.policy.pgbackrest_timeout_s)
        ours = [e for e in entries if e.name.startswith(f"{stanza}/")]
        newest = ours[-1] if ours else None
        took = duration(time.monotonic() - started)
        if newest is None:
            return f"pgbackrest backup finished in {took}, but pgbackrest info lists no backup of {stanza}"
        return (f"took {newest.backup_type or kind} backup {newest.name} ({size(newest.size_bytes)} in the repository, "
                f"{took}): unverified until pgbackrest-verify passes")


def backup_root(command: PgBackRestCommand) -> Path | None:
    """The stanza's backup directory in the repository, when dbtop can read it (for the progress)."""
    config = command.config_path()
    try:
        text = config.read_text(errors="replace") if config else ""
    except OSError:
        return None
    repo = repository_path(text, command.stanza)
    root = repo / "backup" / (command.stanza or "") if repo else None
    return root if root is not None and root.is_dir() and os.access(root, os.R_OK | os.X_OK) else None


def _children(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


class PgBackRestVerify:
    name = VERIFY_ACTION
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, **params: Scalar) -> Plan:
        now = datetime.now(timezone.utc)
        command, executable, _, entries, preconditions = await stanza_state(session)
        stanza = command.stanza or "?"
        labels = stanza_labels(entries, stanza)
        preconditions.append(Precondition(
            name="backups", description=f"stanza {stanza} holds backups to verify", passed=bool(labels),
            detail=(f"{len(labels)} backup(s): {', '.join(labels[-3:])}{' …' if len(labels) > 3 else ''}" if labels
                    else "no backup yet: take one first (dbtop backup take)"),
            seen={"stanza": stanza, "labels": " ".join(labels)}))
        return Plan(
            action=self.name, target=session.target,
            summary=f"verify the {len(labels)} backup(s) of stanza {stanza} and its WAL archive in the repository",
            command=tuple(command.argv("--output=text", "--verbose", "verify", executable=executable)),
            preconditions=tuple(preconditions), risk="read-only",
            warnings=("reads every file of every backup and the WAL archive in the repository: I/O on the repository "
                      "host, nothing on the server",
                      "checks each file's checksum and size against the backup's manifest; it is not a test restore"),
            planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        seen = {p.name: p.seen for p in plan.preconditions}["backups"]
        labels = str(seen["labels"]).split()
        if progress:
            progress(ProgressUpdate(phase=f"pgbackrest verify: {len(labels)} backup(s) and the WAL archive"))
        finished, output = await run_client(list(plan.command), pgbackrest_environment(), capture_stdout=True)
        if not finished.ok:
            reason = finished.reason("pgbackrest verify")
            raise ActionFailed(f"nothing was verified: {reason}", reason)
        found = parse_verify_output(output)
        invalid = [label for label, state in found.backups.items() if state != "valid"]
        unreported = [label for label in labels if label not in found.backups]
        lines = [f"backup {label}: {found.backups.get(label, 'not reported')}" for label in labels]
        lines.append(f"WAL: {found.wal_valid} of {found.wal_checked} segments valid")
        if invalid:
            raise ActionFailed("\n".join([f"pgbackrest verify of {seen['stanza']} FAILED: "
                                          + "; ".join(found.problems()), *lines]), invalid_backups_error(invalid))
        if not found.passed or unreported:
            problems = found.problems() + [f"backup {label} was not reported" for label in unreported]
            raise ActionFailed("\n".join([f"pgbackrest verify of {seen['stanza']} FAILED: " + "; ".join(problems),
                                          *lines]), "; ".join(problems))
        return "\n".join([f"stanza {seen['stanza']} verified: {len(labels)} backup(s) valid", *lines])


PGBACKREST_BACKUP = PgBackRestBackup()
PGBACKREST_VERIFY = PgBackRestVerify()
