"""The backup inventory: the backups in a profile's backup directory (dbtop's own, described by a
metadata file beside each, and foreign files without one) and pgBackRest's, with the retention
policy applied and the recovery point computed. Nothing here raises on what it reads: what cannot be
read is said, in one line.

A dbtop backup `X` (a file, or a directory for pg_dump's directory format) has its metadata in
`X.dbtop.json` beside it (`BackupMetadata`). While it is being written a backup is named
`X.partial`; the backup action writes the metadata once the file is complete and checksummed, then
renames it to `X` (so no moment shows a complete-looking `X` without its checksum), and the verify
action rewrites the metadata with its `verification`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from stat import S_ISDIR
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..parts import PartFailed
from ..policy import WatchPolicy
from ..snapshot import BackupEntry, Backups, PgBackRestArchive, PgBackRestStatus
from .pgbackrest import JournalVerifications, PgBackRestCommand, mark_verified

METADATA_SUFFIX = ".dbtop.json"
FOREIGN_SUFFIXES = (".dump", ".sql.gz", ".sql", ".tar", ".backup", ".archive", ".archive.gz")  # .archive*: mongodump
PARTIAL_SUFFIX = ".partial"
ENTRY_CAP = 2000
METADATA_MAX_BYTES = 1 << 20
PARTIAL_PRUNE_AFTER_S = 24 * 3600.0
STILL_WRITING_S = 600.0
GOOD = ("verified", "unverified")
SCAN_TIMEOUT_S = 5.0


# -- the metadata format --------------------------------------------------------------------------

class Verification(BaseModel):
    """What the verify action proved of a backup, and how."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    at: AwareDatetime
    result: Literal["passed", "failed"]
    method: str = Field(description="e.g. 'pg_restore --list' or 'restore into scratch database'")
    detail: str | None = None


class TableRecord(BaseModel):
    """A table a backup holds, as recorded when it was taken: `rows` counted in the dump's own
    snapshot (None for a partitioned table, whose rows are its partitions')."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True, defer_build=True)

    schema_name: str = Field(alias="schema")  # `schema` is a BaseModel method's name
    name: str
    rows: int | None = Field(default=None, ge=0)


class BackupMetadata(BaseModel):
    """The metadata file of a backup dbtop took (`X.dbtop.json` beside backup `X`).

    Known fields are validated; unknown ones are accepted and kept (`extra="allow"`), so a file
    written by a newer dbtop still reads here, and is written back whole when this version updates
    its verification."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    format_version: int = 1
    file: str = Field(description="the backup's file or directory name, in the same directory")
    database: str
    target: str = Field(description="where it was taken from (a label, never a password)")
    format: Literal["custom", "directory", "tar", "plain", "plain-gzip", "archive-gzip"]  # archive-gzip: mongodump
    started_at: AwareDatetime
    finished_at: AwareDatetime
    server_version: str
    tool: str = Field(default="pg_dump", description="e.g. pg_dump")
    tool_version: str
    dbtop_version: str
    size_bytes: int = Field(ge=0, description="a file's size; a directory's: the sum of its files'")
    sha256: str = Field(description="`backup_checksum` of the backup, 64 hex digits")
    verification: Verification | None = None
    database_size_bytes: int | None = Field(default=None, ge=0,
                                            description="pg_database_size() when taken, to judge the size by")
    tables: list[TableRecord] | None = Field(default=None, description="the tables dumped, with their rows")

    @field_validator("file")
    @classmethod
    def _bare_name(cls, value: str) -> str:
        # A name, never a path: metadata must not point the scan (or a later delete) outside its directory.
        if not value or value in (".", "..") or any(c in value for c in "/\\\0"):
            raise ValueError(f"{value!r} is not a bare file name")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise ValueError("must be 64 hexadecimal digits")
        return value.lower()

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class InvalidMetadata(ValueError):
    """A metadata file that cannot be read or does not describe a backup; the message is one line."""


def metadata_path(backup: Path) -> Path:
    """Where the metadata of `backup` lives: `X` -> `X.dbtop.json`."""
    return backup.with_name(backup.name + METADATA_SUFFIX)


def backup_checksum(backup: Path) -> str:
    """The `sha256` a metadata file records: of a file's bytes; of a directory-format backup, of its
    manifest (one `<sha256>  <name>\\n` line per file, sorted by name, as sha256sum prints)."""

    def of_file(path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    if not backup.is_dir():
        return of_file(backup)
    files = sorted(p for p in backup.iterdir() if p.is_file())
    manifest = "".join(f"{of_file(p)}  {p.name}\n" for p in files)
    return hashlib.sha256(manifest.encode()).hexdigest()


def write_metadata(path: Path, metadata: BackupMetadata) -> None:
    """Write `metadata` to `path` atomically (a temporary file beside it, flushed, then renamed):
    a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(metadata.model_dump_json(indent=2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: Path) -> BackupMetadata:
    """The metadata in `path`; raises `InvalidMetadata` saying in one line what is wrong."""
    try:
        with path.open("rb") as data:
            raw = data.read(METADATA_MAX_BYTES + 1)
    except OSError as exc:
        raise InvalidMetadata(f"{path.name}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > METADATA_MAX_BYTES:
        raise InvalidMetadata(f"{path.name}: larger than {METADATA_MAX_BYTES} bytes, not a metadata file")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidMetadata(f"{path.name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidMetadata(f"{path.name}: not valid JSON ({exc.msg} at {where})") from None
    try:
        return BackupMetadata.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        message = first["msg"].removeprefix("Value error, ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidMetadata(f"{path.name}: invalid metadata: {where}: {message}{more}") from None


def default_backup_dir(profile: str | None, target_label: str) -> Path:
    """Where a target's backups go unless its profile sets `backup_dir`:
    `$XDG_DATA_HOME/dbtop/backups/<profile>/` (`XDG_DATA_HOME` defaults to `~/.local/share`, and a
    relative value is ignored, as the XDG spec says). A target given without a profile gets
    `adhoc-<its label made safe for a file name>`, e.g. `ops@db1:5432/app` -> `adhoc-ops-db1-5432-app`."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    if profile:
        name = profile
    else:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", target_label).strip("-.")[:100]
        name = f"adhoc-{safe}" if safe else "adhoc"
    return base / "dbtop" / "backups" / name


# -- scanning the directory -----------------------------------------------------------------------

def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _directory_size(path: Path) -> int:
    """The files directly in a directory-format backup (pg_dump writes no subdirectories)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(path) as children:
        for child in children:
            with contextlib.suppress(OSError):
                if child.is_file():
                    total += child.stat().st_size
    return total


def _size_on_disk(path: Path, stat: os.stat_result) -> int:
    """A backup file's size, or the sum of a directory-format backup's files."""
    return _directory_size(path) if S_ISDIR(stat.st_mode) else stat.st_size


def _age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def _dbtop_entry(meta_path: Path) -> BackupEntry:
    name = meta_path.name[: -len(METADATA_SUFFIX)]
    backup = meta_path.with_name(name)
    try:
        meta = read_metadata(meta_path)
        if meta.file != name:
            raise InvalidMetadata(f"{meta_path.name}: describes {meta.file!r}, not {name!r} beside it")
    except InvalidMetadata as exc:
        found: dict[str, Any] = {}
        with contextlib.suppress(OSError):
            stat = backup.stat()
            found = dict(file_time=_utc(stat.st_mtime),
                         size_bytes=_size_on_disk(backup, stat))
        return BackupEntry(origin="dbtop", name=name, path=str(backup), status="corrupt_metadata",
                           problem=str(exc), **found)
    values: dict[str, Any] = dict(
        origin="dbtop", name=name, path=str(backup), format=meta.format, database=meta.database,
        server_version=meta.server_version, tool_version=f"{meta.tool} {meta.tool_version}",
        started_at=meta.started_at, finished_at=meta.finished_at, size_bytes=meta.size_bytes, sha256=meta.sha256)
    check = meta.verification
    if check is not None:
        values.update(verified_at=check.at, verification_detail=f"{check.method}: {check.detail or check.result}")
    try:
        stat = backup.stat()
    except FileNotFoundError:
        return BackupEntry(**values, status="missing_file", problem=f"{name} is gone: only its metadata is left")
    except OSError as exc:
        return BackupEntry(**values, status="missing_file", problem=f"{name} cannot be read: {exc.strerror or exc}")
    values["file_time"] = _utc(stat.st_mtime)
    on_disk = _size_on_disk(backup, stat)
    if on_disk != meta.size_bytes:
        # Not the bytes that were taken (truncated, overwritten): a cheap check, and it failed.
        return BackupEntry(**values, status="verification_failed",
                           problem=f"{on_disk} bytes on disk but {meta.size_bytes} when taken: the file changed "
                                   "after the backup; it is not the backup that was taken")
    if check is None:
        return BackupEntry(**values, status="unverified")
    if check.result == "failed":
        return BackupEntry(**values, status="verification_failed",
                           problem=f"verification failed ({check.method}): {check.detail or 'no detail recorded'}")
    return BackupEntry(**values, status="verified")


def _partial_entry(path: Path, stat: os.stat_result, now: datetime) -> BackupEntry:
    age = (now - _utc(stat.st_mtime)).total_seconds()
    when = (f"probably still being written (last written {_age_text(age)} ago)" if age < STILL_WRITING_S
            else f"interrupted (last written {_age_text(age)} ago)")
    return BackupEntry(origin="dbtop", name=path.name, path=str(path), status="partial", file_time=_utc(stat.st_mtime),
                       size_bytes=_size_on_disk(path, stat),
                       problem=f"incomplete: {when}; this file can never be restored")


def scan_backup_directory(directory: Path, *, now: datetime | None = None) -> tuple[list[BackupEntry], str | None]:
    """Every backup in `directory`, newest first (at most `ENTRY_CAP`), and a one-line error or
    note; never raises, and reads no backup's content (sizes and times come from stat).

    - `X.dbtop.json` -> a dbtop backup: `verified` / `verification_failed` / `unverified` after its
      verification; `missing_file` when `X` is gone; `verification_failed` when `X`'s size differs
      from the recorded one (the bytes are not those taken, whatever was verified);
      `corrupt_metadata` when the metadata cannot be read or validated, or describes another file.
    - `*.dump`, `*.sql`, `*.sql.gz`, `*.tar`, `*.backup` without metadata, and subdirectories holding
      a `toc.dat` (pg_dump's directory format) -> `foreign`, `unverified`, with size and mtime.
    - `<one of those>.partial` (file or directory) -> `partial`. Other `.partial` files (such as
      pg_receivewal's WAL segments) and everything else are ignored, as are names starting with '.'.

    Symlinks are stat'ed (their target's size and time), never walked beyond one directory listing,
    and metadata can only name a file beside itself. `now` (default: the current time) tells a
    partial file still being written from an interrupted one."""
    now = now or datetime.now(timezone.utc)
    try:
        with os.scandir(directory) as listing:
            children = list(listing)
    except FileNotFoundError:
        return [], (f"no backup directory at {directory}: set the profile's backup_dir to where this "
                    "server's backups are")
    except NotADirectoryError:
        return [], f"{directory} is not a directory: point the profile's backup_dir at a directory"
    except PermissionError:
        return [], (f"{directory} cannot be read by this user (permission denied): "
                    "fix its permissions or run dbtop as a user who can read it")
    except OSError as exc:
        return [], f"{directory} cannot be read: {exc.strerror or exc}"

    described = {c.name[: -len(METADATA_SUFFIX)] for c in children if c.name.endswith(METADATA_SUFFIX)}
    # (mtime, kind, path, stat, is_dir); content (metadata) is read only for the newest ENTRY_CAP.
    candidates: list[tuple[float, str, Path, os.stat_result | None, bool]] = []
    for child in children:
        name = child.name
        path = Path(child.path)
        if name.startswith(".") or name in described:
            continue
        try:
            stat = child.stat()
            is_dir = child.is_dir()
        except OSError:
            if name.endswith(METADATA_SUFFIX):  # a dangling link: say so rather than hide its backup
                candidates.append((0.0, "dbtop", path, None, False))
            continue
        if name.endswith(METADATA_SUFFIX):
            kind = "dbtop"
        elif name.endswith(PARTIAL_SUFFIX):
            stem = name[: -len(PARTIAL_SUFFIX)]
            if not (is_dir or stem.endswith(FOREIGN_SUFFIXES)):
                continue
            kind = "partial"
        elif is_dir:
            if not (path / "toc.dat").is_file():
                continue
            kind = "directory"
        elif child.is_file() and name.endswith(FOREIGN_SUFFIXES):
            kind = "file"
        else:
            continue
        candidates.append((stat.st_mtime, kind, path, stat, is_dir))

    candidates.sort(key=lambda c: c[0], reverse=True)
    entries: list[BackupEntry] = []
    for _, kind, path, stat, is_dir in candidates[:ENTRY_CAP]:
        if kind == "dbtop" or stat is None:
            entries.append(_dbtop_entry(path))
        elif kind == "partial":
            entries.append(_partial_entry(path, stat, now))
        elif kind == "directory":
            entries.append(BackupEntry(origin="foreign", name=path.name, path=str(path), status="unverified",
                                       format="directory", file_time=_utc(stat.st_mtime),
                                       size_bytes=_directory_size(path)))
        else:
            suffix = next(s for s in FOREIGN_SUFFIXES if path.name.endswith(s))
            entries.append(BackupEntry(origin="foreign", name=path.name, path=str(path), status="unverified",
                                       format=suffix.lstrip("."), file_time=_utc(stat.st_mtime),
                                       size_bytes=stat.st_size))
    entries.sort(key=newest_first)
    note = None
    if len(candidates) > ENTRY_CAP:
        note = f"showing the newest {ENTRY_CAP} of {len(candidates)} backups in {directory}"
    return entries, note


def newest_first(entry: BackupEntry) -> tuple[bool, float, str]:
    """Sort key: newest `taken_at` first, entries without a time last."""
    taken = entry.taken_at
    return (taken is None, -taken.timestamp() if taken else 0.0, entry.name)


# -- retention and the recovery point -------------------------------------------------------------

def apply_retention(entries: list[BackupEntry], *, retention_s: float, keep: int, now: datetime) -> list[BackupEntry]:
    """Copies of `entries` (same order) with `prune` set where the retention policy would delete.

    Policy: keep every backup younger than `retention_s`, and at least the newest `keep` good
    (verified or unverified) backups of each database, whatever their age. Only dbtop's own backups
    are candidates:
    - a good or `verification_failed` dbtop backup older than `retention_s` is pruned unless it is
      among the newest `keep` good ones of its database, or is its database's newest verified
      backup (the recovery point is never pruned away);
    - a `partial` file is pruned once older than a day, whatever the retention;
    - `missing_file` entries are kept (only their metadata is left, and it is the evidence that a
      backup vanished); foreign files, pgBackRest's backups and entries with corrupt metadata are
      never pruned: dbtop does not own them;
    - an entry without a time is never pruned.
    Keeping per database means a directory holding dumps of several databases never loses the last
    backups of the one dumped less often."""
    now_ts = now.timestamp()
    protected: set[int] = set()
    by_database: dict[str | None, list[BackupEntry]] = {}
    for entry in entries:
        if entry.origin == "dbtop" and entry.status in GOOD and entry.taken_at is not None:
            by_database.setdefault(entry.database, []).append(entry)
    for group in by_database.values():
        group.sort(key=newest_first)
        protected.update(id(e) for e in group[:max(keep, 0)])
        newest_verified = next((e for e in group if e.status == "verified"), None)
        if newest_verified is not None:
            protected.add(id(newest_verified))
    marked = []
    for entry in entries:
        taken = entry.taken_at
        prune = False
        if entry.origin == "dbtop" and taken is not None:
            age = now_ts - taken.timestamp()
            if entry.status == "partial":
                prune = age > PARTIAL_PRUNE_AFTER_S
            elif entry.status in GOOD or entry.status == "verification_failed":
                prune = age > retention_s and id(entry) not in protected
        marked.append(entry.model_copy(update={"prune": prune}))
    return marked


def recovery_point(entries: list[BackupEntry], now: datetime) -> tuple[datetime | None, float | None]:
    """The newest verified backup's time (when it finished) and its age in seconds at `now`;
    (None, None) without one. Unverified, failed and partial backups never count."""
    times = [e.taken_at for e in entries if e.status == "verified" and e.taken_at is not None]
    if not times:
        return None, None
    newest = max(times)
    return newest, (now - newest).total_seconds()


# -- pgBackRest -----------------------------------------------------------------------------------

def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return _utc(value)


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _pgbackrest_entry(stanza: str, backup: dict[str, Any], versions: dict[tuple, str]) -> BackupEntry:
    timestamp = _dict(backup.get("timestamp"))
    repository = _dict(_dict(backup.get("info")).get("repository"))
    database = _dict(backup.get("database"))
    failed = backup.get("error") is True
    problem = None
    if failed:
        files = _list(backup.get("error-list"))
        problem = "page checksum errors reported by pgBackRest" + (f" ({len(files)} file(s))" if files else "")
    version = _dict(backup.get("backrest")).get("version")
    return BackupEntry(
        origin="pgbackrest", name=f"{stanza}/{backup.get('label', '?')}",
        status="verification_failed" if failed else "unverified", problem=problem,
        backup_type=str(backup["type"]) if backup.get("type") else None,
        server_version=versions.get((database.get("id"), database.get("repo-key"))),
        tool_version=f"pgBackRest {version}" if version else "pgBackRest",
        started_at=_epoch(timestamp.get("start")), finished_at=_epoch(timestamp.get("stop")),
        size_bytes=_count(repository.get("delta", repository.get("size"))))


def parse_pgbackrest_info(text: str) -> tuple[PgBackRestStatus, list[BackupEntry]]:
    """What `pgbackrest --output=json info` says (the status, with `available` set) and its backups;
    never raises.

    A backup is named `<stanza>/<label>` (labels are timestamps: two stanzas can share one). Its
    `size_bytes` is `info.repository.delta`: what this backup itself occupies in the repository,
    after compression, which pgBackRest's text output calls "backup size" (for a diff or incr backup
    it excludes the prior backups it needs; `info.size` is the database's size, not the backup's).
    Every backup is `unverified` (pgbackrest info proves no restore), or `verification_failed` when
    pgBackRest flags page checksum errors (`error: true`). A stanza whose status code is not 0 is
    named in the error with pgBackRest's message (code 2, "no valid backups", is said too). The
    status also carries each stanza's WAL archive range (`archive[].min/max`), whether a backup is
    running (its lock held), and the system identifier of the cluster it backs up now (the last
    `db` entry: a stanza upgraded by stanza-upgrade lists the older ones first)."""
    status = PgBackRestStatus(available=True)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return status.model_copy(update={"error": f"pgbackrest info printed something that is not JSON "
                                                  f"({exc.msg} at line {exc.lineno})"}), []
    if not isinstance(document, list):
        return status.model_copy(update={"error": "pgbackrest info printed an unexpected document "
                                                  "(not a list of stanzas)"}), []
    names: list[str] = []
    entries: list[BackupEntry] = []
    errors: list[str] = []
    archives: list[PgBackRestArchive] = []
    running: list[str] = []
    system_ids: dict[str, str] = {}
    for stanza in document:
        if not isinstance(stanza, dict):
            errors.append("pgbackrest info listed something that is not a stanza")
            continue
        name = str(stanza.get("name", "?"))
        names.append(name)
        state = _dict(stanza.get("status"))
        if state.get("code", 0) != 0:
            message = str(state.get("message") or f"status code {state.get('code')}")
            repos = [f"repo{r.get('key', '?')}: {_dict(r.get('status')).get('message', '?')}"
                     for r in _list(stanza.get("repo"))
                     if isinstance(r, dict) and _dict(r.get("status")).get("code", 0) != 0]
            errors.append(f"stanza {name}: {message}" + (f" ({', '.join(repos)})" if repos else ""))
        if _dict(_dict(state.get("lock")).get("backup")).get("held") is True:
            running.append(name)
        databases = [db for db in _list(stanza.get("db")) if isinstance(db, dict)]
        versions = {(db.get("id"), db.get("repo-key")): str(db.get("version")) for db in databases}
        if databases and _count(databases[-1].get("system-id")) is not None:
            system_ids[name] = str(databases[-1]["system-id"])
        for archive in _list(stanza.get("archive")):
            if isinstance(archive, dict) and archive.get("id"):
                archives.append(PgBackRestArchive(
                    stanza=name, id=str(archive["id"]),
                    min=str(archive["min"]) if archive.get("min") else None,
                    max=str(archive["max"]) if archive.get("max") else None))
        for backup in _list(stanza.get("backup")):
            if not isinstance(backup, dict):
                continue
            try:
                entries.append(_pgbackrest_entry(name, backup, versions))
            except (ValidationError, TypeError, ValueError, OverflowError, OSError) as exc:
                errors.append(f"stanza {name}: backup {backup.get('label', '?')} not understood: "
                              f"{str(exc).splitlines()[0]}")
    error = "; ".join(errors)
    return status.model_copy(update={"stanzas": names, "error": error[:500] if error else None,
                                     "archives": archives, "backup_running": running,
                                     "system_ids": system_ids}), entries


async def read_pgbackrest(command: PgBackRestCommand | None = None, *,
                          timeout_s: float = 10.0) -> tuple[PgBackRestStatus, list[BackupEntry]]:
    """pgBackRest's backups, when it is installed (otherwise `available=False`). Runs
    `pgbackrest [--config=…] [--stanza=…] --output=json info` as `command` says (the profile's stanza,
    configuration and OS user; by default every stanza of the default configuration) and never waits
    longer than `timeout_s`: past it the command and anything it started are killed. Never raises
    (but is cancellable, and then kills it too)."""
    command = command or PgBackRestCommand()
    named = PgBackRestStatus(available=True, profile_stanza=command.stanza)
    executable = command.found()
    if executable is None:
        return PgBackRestStatus(available=False, profile_stanza=command.stanza), []
    try:
        process = await asyncio.create_subprocess_exec(
            *command.argv("--output=json", "info", executable=executable), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return named.model_copy(update={"error": f"pgbackrest could not be started: {exc.strerror or exc}"}), []

    def kill() -> None:
        # The whole session: a child left holding the output pipe would keep communicate() waiting.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except asyncio.TimeoutError:
        kill()
        await process.wait()
        return named.model_copy(update={"error": f"pgbackrest info did not answer within {timeout_s:g} s"}), []
    except BaseException:
        kill()
        raise
    if process.returncode != 0:
        lines = [line.strip() for line in err.decode(errors="replace").splitlines() if line.strip()]
        last = lines[-1][:300] if lines else f"exit status {process.returncode}"
        return named.model_copy(update={"error": f"pgbackrest info failed: {last}"}), []
    status, entries = parse_pgbackrest_info(out.decode(errors="replace"))
    return status.model_copy(update={"profile_stanza": command.stanza}), entries


# -- the whole inventory --------------------------------------------------------------------------

def build_backups(*, directory: Path | None, directory_error: str | None, entries: list[BackupEntry],
                  rpo_s: float, retention_s: float, keep: int, now: datetime) -> Backups:
    """The `Backups` part of a snapshot: entries newest first, retention marked, recovery point set."""
    marked = apply_retention(sorted(entries, key=newest_first), retention_s=retention_s, keep=keep, now=now)
    newest, age = recovery_point(marked, now)
    return Backups(read_at=now, directory=str(directory) if directory is not None else None,
                   directory_error=directory_error, entries=marked, rpo_s=rpo_s, retention_s=retention_s, retention_keep=keep,
                   newest_verified_at=newest, recovery_point_age_s=age)


async def collect_backup_inventory(directory: Path, *, rpo_s: float, retention_s: float, keep: int,
                                   pgbackrest_timeout_s: float = 10.0, pgbackrest: PgBackRestCommand | None = None,
                                   verifications: JournalVerifications | None = None,
                                   now: datetime | None = None) -> tuple[Backups, PgBackRestStatus]:
    """The whole inventory, and what pgBackRest said: the directory scanned on a thread (a slow disk
    never stalls the event loop) while pgBackRest is asked (as `pgbackrest` says: the profile's
    stanza, configuration and OS user). pgBackRest's backups that a journaled `pgbackrest verify`
    found valid are `verified` (`verifications`: dbtop's journal by default). Never raises: a
    failure is said in `directory_error` or the status's `error`."""
    now = now or datetime.now(timezone.utc)

    async def scan() -> tuple[list[BackupEntry], str | None]:
        try:
            return await asyncio.to_thread(scan_backup_directory, directory, now=now)
        except Exception as exc:  # noqa: BLE001 - a bug or an odd file system must not cost the snapshot
            return [], f"scanning {directory} failed: {type(exc).__name__}: {exc}"

    async def read_rest() -> tuple[PgBackRestStatus, list[BackupEntry]]:
        try:
            status, found = await read_pgbackrest(pgbackrest, timeout_s=pgbackrest_timeout_s)
            if found:
                found = mark_verified(found, await asyncio.to_thread((verifications or JournalVerifications()).read),
                                      status.system_ids)
            return status, found
        except Exception as exc:  # noqa: BLE001
            return PgBackRestStatus(available=True, error=f"reading pgbackrest info failed: {exc}"), []

    (entries, error), (rest, rest_entries) = await asyncio.gather(scan(), read_rest())
    backups = build_backups(directory=directory, directory_error=error, entries=entries + rest_entries,
                            rpo_s=rpo_s, retention_s=retention_s, keep=keep, now=now)
    return backups, rest


class BackupInventory:
    """A target's backup inventory as a collector reads it: the directory and the policy to apply
    are fixed when it is built; the engine adds only what it reads from the server (WAL archiving,
    in its own section of the snapshot).
    The whole reading is bounded in time, so a hung mount costs a part, not the snapshot."""

    def __init__(self, directory: Path, *, rpo_s: float, retention_s: float, keep: int,
                 pgbackrest_timeout_s: float = 10.0, scan_timeout_s: float = SCAN_TIMEOUT_S,
                 pgbackrest: PgBackRestCommand | None = None, verifications: JournalVerifications | None = None):
        self.directory = directory
        self.pgbackrest = pgbackrest or PgBackRestCommand()
        self.verifications = verifications or JournalVerifications()
        self.rpo_s = rpo_s
        self.retention_s = retention_s
        self.keep = keep
        self.pgbackrest_timeout_s = pgbackrest_timeout_s
        self.scan_timeout_s = scan_timeout_s

    @classmethod
    def from_policy(cls, policy: WatchPolicy, target_label: str) -> BackupInventory:
        """The inventory a watch policy describes: its `backup_dir`, else the profile's default directory."""
        directory = Path(policy.backup_dir).expanduser() if policy.backup_dir else default_backup_dir(
            policy.profile, target_label)
        return cls(directory, rpo_s=policy.rpo_s, retention_s=policy.retention_s, keep=policy.retention_keep,
                   pgbackrest_timeout_s=policy.pgbackrest_timeout_s, pgbackrest=PgBackRestCommand.from_policy(policy))

    async def read(self) -> tuple[Backups, PgBackRestStatus]:
        """The inventory now, and what pgBackRest said; raises PartFailed when the file system does not
        answer in time."""
        try:
            return await asyncio.wait_for(
                collect_backup_inventory(self.directory, rpo_s=self.rpo_s, retention_s=self.retention_s,
                                         keep=self.keep, pgbackrest_timeout_s=self.pgbackrest_timeout_s,
                                         pgbackrest=self.pgbackrest, verifications=self.verifications),
                self.scan_timeout_s + self.pgbackrest_timeout_s)
        except asyncio.TimeoutError:
            raise PartFailed(f"reading the backup directory {self.directory} did not finish in time",
                             "check that the file system holding it answers (a hung network mount?)") from None
