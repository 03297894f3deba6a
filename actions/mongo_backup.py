"""MongoDB's backup and verify-backup: `mongodump --archive --gzip` of the whole server into the
profile's backup directory, with the same metadata and checksum as PostgreSQL's backups (written
as `NAME.partial`, flushed, checksummed, its metadata written, then renamed), and its verification:
the checksum, then `mongorestore --dryRun` reading the archive.

mongodump and mongorestore come with MongoDB's Database Tools (package `mongodb-database-tools`);
when one is missing the plan says so. The connection string, and the password, reach them only in a
configuration file of mode 0600 in a private directory (`--config`), removed when they finish: never
on the command line, where `ps` shows it. On a replica set member the dump takes `--oplog`, so the
archive is consistent at one point in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engines.backups.inventory import PARTIAL_SUFFIX, BackupMetadata, backup_checksum, metadata_path, read_metadata, write_metadata
from ..engines.errors import ActionFailed
from ..engines.postgres.dump import run_client
from ..profiles.target import Target
from .backup_files import (backup_directory, dbtop_version, described_backup, directory_precondition, name_preconditions,
                           record_verification, seal_backup, sync_directory)
from .plan import Plan, Precondition, Progress, ProgressUpdate, Scalar

TOOLS_PACKAGE = "mongodb-database-tools"
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.archive\.gz")
CONFIG_PLACEHOLDER = "--config=<a temporary file holding the connection string, mode 0600>"
FORMAT = "archive-gzip"
VERIFY_METHOD = "dbtop verify-backup: checksum, mongorestore --dryRun"
VERIFY_STEPS = ("checksum", "mongorestore --dryRun")


@dataclass(frozen=True)
class DatabaseTool:
    """mongodump or mongorestore, and the version it reports ('100.9.4')."""

    path: Path
    version: str


def find_tool(name: str) -> DatabaseTool | None:
    """`name` on PATH and its version; None when it is not installed (or does not run)."""
    found = shutil.which(name)
    if found is None:
        return None
    try:
        out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    version = re.search(r"version:?\s*r?(\d+(?:\.\d+)+)", out.stdout)
    return DatabaseTool(Path(found), version.group(1) if version else "unknown") if out.returncode == 0 else None


def tool_precondition(tool: DatabaseTool | None, name: str) -> Precondition:
    if tool is None:
        return Precondition(name=f"{name}_found", description=f"{name} is installed", passed=False,
                            detail=f"no {name} on PATH: install MongoDB's Database Tools (the {TOOLS_PACKAGE} "
                                   "package, from MongoDB's repository or download page)")
    return Precondition(name=f"{name}_found", description=f"{name} is installed", passed=True,
                        detail=f"{tool.path} ({tool.version})", seen={"path": str(tool.path)})


@contextlib.contextmanager
def tool_config(connection: Target) -> Iterator[str]:
    """The `--config=FILE` argument of a Database Tool: FILE (mode 0600, in a private directory
    removed on leaving) holds the connection string and the password from the keyring."""
    private = tempfile.mkdtemp(prefix="dbtop-mongo-")
    try:
        path = os.path.join(private, "tool.yaml")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            # JSON strings are YAML double-quoted scalars: no value can break out of its line.
            out.write(f"uri: {json.dumps(connection.mongo_uri.get_secret_value() if connection.mongo_uri else '')}\n")
            if connection.password is not None:
                out.write(f"password: {json.dumps(connection.password.get_secret_value())}\n")
        yield f"--config={path}"
    finally:
        shutil.rmtree(private, ignore_errors=True)


def with_config(command: tuple[str, ...], tool: DatabaseTool, config: str) -> list[str]:
    argv = [config if part == CONFIG_PLACEHOLDER else part for part in command]
    argv[0] = str(tool.path)
    return argv


def backup_name(label: str, set_name: str | None, at: datetime) -> str:
    base = set_name or re.sub(r"^mongodb(\+srv)?://", "", label)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-.")[:80] or "mongodb"
    return f"{safe}-{at.strftime('%Y%m%dT%H%M%SZ')}.archive.gz"


async def server_facts(session: Any) -> tuple[str, int | None]:
    """The server's version, and the size its databases take on disk (None when not allowed)."""
    build = await session.command({"buildInfo": 1})
    try:
        listing = await session.command({"listDatabases": 1, "nameOnly": False})
        size = int(listing.get("totalSize") or 0) or None
    except Exception:  # noqa: BLE001 - the size only guides progress; a refusal costs nothing else
        size = None
    return str(build.get("version", "?")), size


class MongoBackup:
    name = "backup"
    engines = frozenset({"mongo"})

    async def plan(self, session: Any, *, name: Scalar = None) -> Plan:
        now = datetime.now(timezone.utc)
        version, size = await server_facts(session)
        set_name = session.hello.get("setName")
        tool = await asyncio.to_thread(find_tool, "mongodump")
        directory = backup_directory(session)
        name = str(name) if name else backup_name(session.target.label, set_name, now)
        bare = bool(SAFE_NAME.fullmatch(name))
        final = directory / (name if bare else "invalid.archive.gz")
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        preconditions = [tool_precondition(tool, "mongodump"), directory_precondition(directory),
                         *name_preconditions(name, final, bare, ".archive.gz", "rs0-20250101.archive.gz")]
        command = (str(tool.path) if tool else "mongodump", f"--archive={partial}", "--gzip",
                   *(("--oplog",) if set_name else ()), CONFIG_PLACEHOLDER)
        where = f"replica set {set_name}" if set_name else "the server"
        return Plan(
            action=self.name, target=session.target, params={"name": name},
            summary=f"back up every database of {where} (MongoDB {version}"
                    + (f", {size / 1e6:.1f} MB on disk" if size else "") + f") to {final}",
            command=command, preconditions=tuple(preconditions), risk="read-only",
            warnings=(
                "changes nothing on the server; writes the archive (compressed) to the backup directory",
                "mongodump reads every collection through the server: its cache and disks carry the load while it runs",
                ("--oplog: the archive also holds the oplog written during the dump, so it restores to one point in "
                 "time (mongorestore --oplogReplay)") if set_name else
                "a standalone server has no oplog: a dump taken while writes go on is not of one point in time",
                "the connection string reaches mongodump only through a temporary file (mode 0600), removed afterwards",
                "needs the backup role (or clusterAdmin) on admin",
            ),
            confirm_text=session.target.profile or session.target.label, planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        report = progress or (lambda update: None)
        version, size = await server_facts(session)
        tool = await asyncio.to_thread(find_tool, "mongodump")
        assert tool is not None  # a precondition, checked just now
        directory = backup_directory(session)
        final = directory / str(plan.params["name"])
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        started = datetime.now(timezone.utc)

        def tick() -> None:
            with contextlib.suppress(OSError):
                report(ProgressUpdate(phase="dumping", done=partial.stat().st_size, total=size, unit="bytes"))

        try:
            with tool_config(session.connection) as config:
                finished, _ = await run_client(with_config(plan.command, tool, config), dict(os.environ), tick=tick)
            if not finished.ok:
                raise ActionFailed(f"no backup was made: {finished.reason('mongodump')}; the incomplete "
                                   f"{partial.name} was removed", finished.reason("mongodump"))
            report(ProgressUpdate(phase="checksumming", done=None, total=None))
            digest, written = await asyncio.to_thread(seal_backup, partial)
            metadata = BackupMetadata(
                file=final.name, database=session.hello.get("setName") or "all databases", target=session.target.label,
                format=FORMAT, started_at=started, finished_at=datetime.now(timezone.utc), server_version=version,
                tool="mongodump", tool_version=tool.version, dbtop_version=dbtop_version(), size_bytes=written,
                sha256=digest, database_size_bytes=size)
            write_metadata(metadata_path(final), metadata)
            os.rename(partial, final)
            sync_directory(directory)
        except BaseException:
            partial.unlink(missing_ok=True)
            if not final.exists():
                metadata_path(final).unlink(missing_ok=True)
            raise
        return (f"backed up to {final} ({written} bytes, sha256 {digest[:12]}…): unverified until "
                f"verify-backup {final.name} passes")


class MongoVerifyBackup:
    name = "verify-backup"
    engines = frozenset({"mongo"})

    async def plan(self, session: Any, *, name: Scalar = None) -> Plan:
        name = str(name or "")
        path = backup_directory(session) / name
        described, meta = described_backup(name, path)
        preconditions = [described]
        if meta is not None and meta.format != FORMAT:
            preconditions.append(Precondition(name="format", description="the backup is a mongodump archive (gzip)",
                                              passed=False, detail=f"it is {meta.format}: not a MongoDB backup"))
        tool = await asyncio.to_thread(find_tool, "mongorestore")
        preconditions.append(tool_precondition(tool, "mongorestore"))
        command = (str(tool.path) if tool else "mongorestore", f"--archive={path}", "--gzip", "--dryRun",
                   CONFIG_PLACEHOLDER)
        return Plan(
            action=self.name, target=session.target, params={"name": name},
            summary=f"verify backup {name}: its checksum, then mongorestore --dryRun reading the archive",
            command=command, preconditions=tuple(preconditions), risk="read-only",
            warnings=("mongorestore --dryRun restores nothing: it proves the archive reads to its end, not that a "
                      "restore would succeed on this server",
                      "writes the result into the backup's metadata file"),
            planned_at=datetime.now(timezone.utc))

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        report = progress or (lambda update: None)
        path = backup_directory(session) / str(plan.params["name"])
        meta = read_metadata(metadata_path(path))
        lines: list[str] = []
        report(ProgressUpdate(phase="1/2 checksum", done=0, total=2, unit="steps"))
        digest = await asyncio.to_thread(backup_checksum, path) if path.is_file() else None
        passed = digest == meta.sha256
        lines.append("1. checksum: " + ("passed: " if passed else "FAILED: ") + (
            f"{path} is gone" if digest is None else f"sha256 {digest[:12]}…" + (
                "" if passed else f" but {meta.sha256[:12]}… when taken: the file changed")))
        if passed:
            report(ProgressUpdate(phase="2/2 mongorestore --dryRun", done=1, total=2, unit="steps"))
            tool = await asyncio.to_thread(find_tool, "mongorestore")
            assert tool is not None  # a precondition, checked just now
            with tool_config(session.connection) as config:
                finished, _ = await run_client(with_config(plan.command, tool, config), dict(os.environ))
            passed = finished.ok
            lines.append("2. mongorestore --dryRun: " + ("passed: the archive reads to its end" if passed else
                                                         f"FAILED: {finished.reason('mongorestore')}"))
        else:
            lines.append("2. mongorestore --dryRun: not run")
        failed_at = next((line for line in lines if "FAILED" in line), None)
        record_verification(metadata_path(path), "failed" if failed_at else "passed", VERIFY_METHOD,
                            "; ".join(line.split(": ", 1)[1] for line in lines))
        if failed_at:
            raise ActionFailed("\n".join([f"{path.name} FAILED verification", *lines]), failed_at)
        report(ProgressUpdate(phase="verified", done=2, total=2, unit="steps"))
        return "\n".join([f"{path.name} verified: 2 of 2 steps passed", *lines])


MONGO_BACKUP = MongoBackup()
MONGO_VERIFY_BACKUP = MongoVerifyBackup()
