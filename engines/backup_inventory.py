"""The backup inventory: the backups in a profile's backup directory (dbtop's own, described by a
metadata file beside each, and foreign files without one) and pgBackRest's, with the retention
policy applied and the recovery point computed. Never raises: what cannot be read is said.

A dbtop backup `X` has its metadata in `X.dbtop.json` (`BackupMetadata`); the backup action writes
both, the verify action updates `verification`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .snapshot import BackupEntry, Backups, PgBackRestStatus, WalArchiving

METADATA_SUFFIX = ".dbtop.json"
FOREIGN_SUFFIXES = (".dump", ".sql", ".sql.gz", ".tar", ".backup")
PARTIAL_SUFFIX = ".partial"
ENTRY_CAP = 2000
PARTIAL_PRUNE_AFTER_S = 24 * 3600.0
GOOD = ("verified", "unverified")


class Verification(BaseModel):
    at: datetime
    result: Literal["passed", "failed"]
    method: str = Field(description="e.g. 'pg_restore --list' or 'restore into a scratch database'")
    detail: str | None = None


class BackupMetadata(BaseModel):
    """The metadata file of a backup dbtop took. Unknown fields are ignored (a newer dbtop may add
    some); the known ones are validated."""

    model_config = ConfigDict(extra="ignore")

    format_version: int = 1
    file: str = Field(description="the backup's file or directory name, beside this file")
    database: str
    target: str = Field(description="where it was taken from, without any password")
    format: Literal["custom", "directory", "tar", "plain", "plain-gzip"]
    started_at: datetime
    finished_at: datetime
    server_version: str
    tool: str = "pg_dump"
    tool_version: str
    dbtop_version: str
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    verification: Verification | None = None


def metadata_path(backup: Path) -> Path:
    return backup.with_name(backup.name + METADATA_SUFFIX)


def write_metadata(path: Path, metadata: BackupMetadata) -> None:
    """Write atomically: a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(metadata.model_dump_json(indent=2))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: Path) -> BackupMetadata:
    """The metadata in `path`; raises ValueError with a one-line reason."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    try:
        return BackupMetadata.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise ValueError(f"invalid metadata: {where}: {first['msg']}") from None


def default_backup_dir(profile: str | None, target_label: str) -> Path:
    """`$XDG_DATA_HOME/dbtop/backups/<profile>/`; for a target given without a profile, a directory
    named after it (`adhoc-<user@host:port/db>` made safe for a file name)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    name = profile or "adhoc-" + re.sub(r"[^A-Za-z0-9._-]+", "-", target_label).strip("-")
    return base / "dbtop" / "backups" / name


def _mtime(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime, timezone.utc)


def _tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def _dbtop_entry(meta_path: Path) -> BackupEntry:
    name = meta_path.name[: -len(METADATA_SUFFIX)]
    try:
        meta = read_metadata(meta_path)
    except ValueError as exc:
        return BackupEntry(origin="dbtop", name=name, path=str(meta_path), status="corrupt_metadata",
                           problem=f"{meta_path.name}: {exc}",
                           file_time=_mtime(meta_path.stat()) if meta_path.exists() else None)
    backup = meta_path.parent / meta.file
    values = dict(origin="dbtop", name=meta.file, path=str(backup), format=meta.format, database=meta.database,
                  server_version=meta.server_version, tool_version=f"{meta.tool} {meta.tool_version}",
                  started_at=meta.started_at, finished_at=meta.finished_at, size_bytes=meta.size_bytes,
                  sha256=meta.sha256)
    if meta.verification is not None:
        values.update(verified_at=meta.verification.at,
                      verification_detail=f"{meta.verification.method}: {meta.verification.detail or meta.verification.result}")
    try:
        stat = backup.stat()
    except FileNotFoundError:
        return BackupEntry(**values, status="missing_file", problem=f"{meta.file} is gone; only its metadata is left")
    except OSError as exc:
        return BackupEntry(**values, status="missing_file", problem=f"{meta.file} cannot be read: {exc.strerror}")
    values["file_time"] = _mtime(stat)
    on_disk = _tree_size(backup) if backup.is_dir() else stat.st_size
    if on_disk != meta.size_bytes:
        # The file changed after it was written: whatever a verification proved, it proved of other bytes.
        return BackupEntry(**values, status="verification_failed",
                           problem=f"{on_disk} bytes on disk, {meta.size_bytes} when it was taken: the file changed")
    if meta.verification is None:
        return BackupEntry(**values, status="unverified")
    return BackupEntry(**values, status="verified" if meta.verification.result == "passed" else "verification_failed",
                       problem=None if meta.verification.result == "passed" else meta.verification.detail)


def scan_backup_directory(directory: Path, *, now: datetime | None = None) -> tuple[list[BackupEntry], str | None]:
    """Every backup in `directory`, newest first, and a one-line error when it cannot be read."""
    try:
        children = list(directory.iterdir())
    except FileNotFoundError:
        return [], f"no backup directory at {directory} (dbtop creates it when it takes the first backup)"
    except NotADirectoryError:
        return [], f"{directory} is not a directory: set the profile's backup_dir to a directory"
    except PermissionError:
        return [], f"{directory} cannot be read by this user: fix its permissions, or run dbtop as its owner"
    except OSError as exc:
        return [], f"{directory} cannot be read: {exc.strerror}"
    described = set()
    entries: list[BackupEntry] = []
    for meta in (c for c in children if c.name.endswith(METADATA_SUFFIX)):
        entry = _dbtop_entry(meta)
        described.add(meta.name[: -len(METADATA_SUFFIX)])
        entries.append(entry)
    for child in children:
        name = child.name
        if name in described or name.endswith(METADATA_SUFFIX) or name.startswith("."):
            continue
        try:
            stat = child.stat()
        except OSError:
            continue
        if name.endswith(PARTIAL_SUFFIX):
            entries.append(BackupEntry(
                origin="dbtop", name=name, path=str(child), status="partial", file_time=_mtime(stat),
                size_bytes=_tree_size(child) if child.is_dir() else stat.st_size,
                problem="incomplete: a backup that was interrupted (or is still being written); it can never be restored"))
        elif child.is_dir() and (child / "toc.dat").exists():
            entries.append(BackupEntry(origin="foreign", name=name, path=str(child), status="unverified",
                                       format="directory", file_time=_mtime(stat), size_bytes=_tree_size(child)))
        elif child.is_file() and name.endswith(FOREIGN_SUFFIXES):
            kind = next(s for s in FOREIGN_SUFFIXES if name.endswith(s)).lstrip(".")
            entries.append(BackupEntry(origin="foreign", name=name, path=str(child), status="unverified", format=kind,
                                       file_time=_mtime(stat), size_bytes=stat.st_size))
    entries.sort(key=_newest_first)
    return entries[:ENTRY_CAP], None


def _newest_first(entry: BackupEntry) -> tuple:
    taken = entry.taken_at
    return (taken is None, -(taken.timestamp() if taken else 0), entry.name)


def apply_retention(entries: list[BackupEntry], *, retention_s: float, keep: int, now: datetime) -> list[BackupEntry]:
    """Mark what pruning would delete: dbtop's backups older than `retention_s` beyond the newest
    `keep` good ones (verified or unverified), failed ones older than `retention_s`, and partial files
    older than a day. Foreign files, pgBackRest's backups and unreadable metadata are never dbtop's
    to delete."""
    good = sorted((e for e in entries if e.origin == "dbtop" and e.status in GOOD), key=_newest_first)
    protected = {id(e) for e in good[:keep]}
    marked = []
    for entry in entries:
        taken = entry.taken_at
        age = (now - taken).total_seconds() if taken is not None else None
        prune = False
        if entry.origin == "dbtop" and age is not None:
            if entry.status == "partial":
                prune = age > PARTIAL_PRUNE_AFTER_S
            elif entry.status in GOOD or entry.status == "verification_failed":
                prune = age > retention_s and id(entry) not in protected
        marked.append(entry.model_copy(update={"prune": prune}) if prune != entry.prune else entry)
    return marked


def recovery_point(entries: list[BackupEntry], now: datetime) -> tuple[datetime | None, float | None]:
    """The newest verified backup's time and its age in seconds."""
    times = [e.taken_at for e in entries if e.status == "verified" and e.taken_at is not None]
    if not times:
        return None, None
    newest = max(times)
    return newest, (now - newest).total_seconds()


# -- pgBackRest -----------------------------------------------------------------------------------

def _epoch(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if isinstance(value, (int, float)) else None


def parse_pgbackrest_info(text: str) -> tuple[list[str], list[BackupEntry], str | None]:
    """Stanzas, backups and an error line from `pgbackrest info --output=json`. A backup's size is
    its repository size (what it occupies in the repository, after compression and deltas);
    pgBackRest's own `error` flag (page checksum errors found) marks it failed."""
    try:
        stanzas = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [], f"pgbackrest info printed something that is not JSON: {exc}"
    if not isinstance(stanzas, list):
        return [], [], "pgbackrest info printed an unexpected document (not a list of stanzas)"
    names, entries, errors = [], [], []
    for stanza in stanzas:
        name = str(stanza.get("name", "?"))
        names.append(name)
        status = stanza.get("status") or {}
        if status.get("code", 0) != 0:
            errors.append(f"stanza {name}: {status.get('message', 'error')}")
        versions = {db.get("id"): db.get("version") for db in stanza.get("db", []) if isinstance(db, dict)}
        for backup in stanza.get("backup", []) or []:
            timestamp = backup.get("timestamp") or {}
            info = backup.get("info") or {}
            repository = info.get("repository") or {}
            failed = bool(backup.get("error"))
            entries.append(BackupEntry(
                origin="pgbackrest", name=f"{name}/{backup.get('label', '?')}",
                status="verification_failed" if failed else "unverified",
                problem="page checksum errors reported by pgBackRest" if failed else None,
                backup_type=backup.get("type"), database=name,
                server_version=versions.get((backup.get("database") or {}).get("id")),
                tool_version=f"pgBackRest {(backup.get('backrest') or {}).get('version', '?')}",
                started_at=_epoch(timestamp.get("start")), finished_at=_epoch(timestamp.get("stop")),
                size_bytes=repository.get("size", info.get("size"))))
    return names, entries, "; ".join(errors) or None


async def read_pgbackrest(*, timeout_s: float = 10.0, command: str = "pgbackrest") -> tuple[PgBackRestStatus, list[BackupEntry]]:
    """pgBackRest's inventory, when the command exists here; never waits longer than `timeout_s`."""
    executable = shutil.which(command)
    if executable is None:
        return PgBackRestStatus(available=False), []
    try:
        process = await asyncio.create_subprocess_exec(
            executable, "--output=json", "info", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return PgBackRestStatus(available=True, error=f"pgbackrest could not be started: {exc.strerror}"), []
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except asyncio.TimeoutError:
        # Its children too: one left holding the output pipe would keep the wait going.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return PgBackRestStatus(available=True, error=f"pgbackrest info did not answer within {timeout_s:g} s"), []
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or [f"exit status {process.returncode}"]
        return PgBackRestStatus(available=True, error=f"pgbackrest info failed: {lines[-1][:300]}"), []
    stanzas, entries, error = parse_pgbackrest_info(out.decode(errors="replace"))
    return PgBackRestStatus(available=True, stanzas=stanzas, error=error), entries


async def collect_backup_inventory(directory: Path, *, rpo_s: float, retention_s: float, keep: int,
                                   archiving: WalArchiving | None, pgbackrest_timeout_s: float = 10.0,
                                   now: datetime | None = None) -> Backups:
    """The whole inventory; the directory is scanned on a thread so a slow disk never stalls the loop."""
    (entries, error), (rest, rest_entries) = await asyncio.gather(
        asyncio.to_thread(scan_backup_directory, directory),
        read_pgbackrest(timeout_s=pgbackrest_timeout_s))
    now = now or datetime.now(timezone.utc)
    every = apply_retention(sorted(entries + rest_entries, key=_newest_first), retention_s=retention_s, keep=keep,
                            now=now)
    newest, age = recovery_point(every, now)
    return Backups(read_at=now, directory=str(directory), directory_error=error, entries=every, archiving=archiving,
                   pgbackrest=rest, rpo_s=rpo_s, retention_s=retention_s, retention_keep=keep,
                   newest_verified_at=newest, recovery_point_age_s=age)
