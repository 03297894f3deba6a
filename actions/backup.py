"""The backup action: `pg_dump -Fc` of the target's database into the profile's backup directory.

The dump is written as `NAME.partial`; once pg_dump has finished, the file is flushed to disk and
checksummed (SHA-256), its metadata (`NAME.dbtop.json`, engines.backups.inventory) is written,
and only then is it renamed to `NAME`. A dump that fails or is killed leaves no file the inventory
calls good: the action removes its `.partial` and says so; if dbtop itself dies mid-way the
`.partial` stays, the inventory shows it as incomplete and the retention policy removes it after a
day.

The dump runs in a snapshot exported by the action's own connection (`--snapshot`), in which the
action counts each table's rows while pg_dump reads them: the counts describe exactly what the
archive holds, and the verify action compares a test restore against them.

Risk: read-only. It changes nothing on the server (no data, no setting, no role); what it costs is
said in the plan's warnings: the locks pg_dump holds (ACCESS SHARE on every table, so DDL on them
waits), the snapshot held for its duration (VACUUM cannot remove rows deleted meanwhile), the load of
reading every table twice (dump and count), and the disk space in the backup directory. The
operator types the database's name to confirm, since the dump is of that whole database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..engines.backups.inventory import PARTIAL_SUFFIX, BackupMetadata, TableRecord, metadata_path, write_metadata
from ..engines.errors import ActionFailed
from ..engines.postgres.cluster import ClientTool, find_client_tool
from ..engines.postgres.dump import client_environment, conninfo, run_client
from ..engines.quoting import qualified
from .backup_files import (backup_directory, dbtop_version, directory_precondition, name_preconditions, seal_backup,
                           sync_directory)
from .plan import Plan, Precondition, Progress, ProgressUpdate, Scalar

LOCK_WAIT_MS = 10_000  # pg_dump gives up rather than queue behind DDL (and everything queued behind it)
LONG_MS = 6 * 3600 * 1000  # counting rows in a large database is a long statement
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.dump")
SNAPSHOT_PLACEHOLDER = "--snapshot=<exported when it starts>"
CLIENT_PACKAGE_HINT = "install PostgreSQL's client programs (Debian: apt-get install postgresql-client-{major})"


def backup_name(database: str, at: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", database).strip("-.")[:80] or "database"
    return f"{safe}-{at.strftime('%Y%m%dT%H%M%SZ')}.dump"


async def client_tool(name: str) -> ClientTool | None:
    return await asyncio.to_thread(find_client_tool, name)


def tool_preconditions(tool: ClientTool | None, name: str, server_major: int, what: str) -> list[Precondition]:
    """That `name` is installed and not older than `server_major` (it refuses, or misreads, newer)."""
    if tool is None:
        return [Precondition(name=f"{name}_found", description=f"{name} is installed", passed=False,
                             detail=f"no {name} found: " + CLIENT_PACKAGE_HINT.format(major=server_major))]
    found = Precondition(name=f"{name}_found", description=f"{name} is installed", passed=True,
                         detail=f"{tool.path} ({tool.version})", seen={"path": str(tool.path)})
    recent = tool.major >= server_major
    detail = (f"{name} {tool.version}; {what} is {server_major}" if recent else
              f"{name} {tool.version} is older than {what} ({server_major}): it cannot be used; "
              + CLIENT_PACKAGE_HINT.format(major=server_major) + " or newer")
    return [found, Precondition(name=f"{name}_version", description=f"{name} is not older than {what}",
                                passed=recent, detail=detail, seen={"major": tool.major})]


async def dumped_tables(session: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The tables a dump holds (schema, name, whether it has rows of its own) and the names of the
    tables and sequences this role may not read."""
    rows = await session.conn.fetch(session.sql("backup_tables"))
    tables = [{"schema": r["schema"], "name": r["name"], "has_rows": r["kind"] == "r"}
              for r in rows if r["kind"] != "S"]
    unreadable = [qualified(r["schema"], r["name"]) for r in rows if not r["readable"]]
    return tables, unreadable


class Backup:
    name = "backup"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, name: Scalar = None) -> Plan:
        now = datetime.now(timezone.utc)
        server = await session.conn.fetchrow(session.sql("backup_server"))
        database = session.target.database
        tables, unreadable = await dumped_tables(session)
        tool = await client_tool("pg_dump")
        directory = backup_directory(session)
        name = str(name) if name else backup_name(database, now)
        bare = bool(SAFE_NAME.fullmatch(name))
        final = directory / (name if bare else "invalid.dump")
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        preconditions = [
            *tool_preconditions(tool, "pg_dump", session.major, "the server"),
            Precondition(name="readable", description="the role can read every table and sequence it dumps",
                         passed=not unreadable,
                         detail=(f"{len(tables)} tables" if not unreadable else
                                 f"{session.connection.user if session.connection else 'this role'} may not read "
                                 f"{', '.join(unreadable[:5])}{' …' if len(unreadable) > 5 else ''}: "
                                 "GRANT SELECT on them, or back up as a role that may")),
            directory_precondition(directory),
            *name_preconditions(name, final, bare, ".dump", "app-20250101.dump"),
        ]
        command = (str(tool.path) if tool else "pg_dump", "--format=custom", f"--file={partial}",
                   f"--lock-wait-timeout={LOCK_WAIT_MS}", "--no-password", SNAPSHOT_PLACEHOLDER,
                   f"--dbname={conninfo(session.connection)}" if session.connection else f"--dbname={database}")
        size = server["database_size"]
        return Plan(
            action=self.name, target=session.target, params={"name": name},
            summary=f"back up database {database} ({size / 1e6:.1f} MB) to {final}",
            command=command, preconditions=tuple(preconditions), risk="read-only",
            warnings=(
                "changes nothing on the server; writes the dump (up to the database's size) to the backup directory",
                f"pg_dump holds ACCESS SHARE locks on all {len(tables)} tables until it finishes: DDL on them waits; "
                f"it gives up if a lock is not granted within {LOCK_WAIT_MS // 1000} s",
                "holds one snapshot for the whole dump (VACUUM cannot remove rows deleted meanwhile) and reads every "
                "table twice: pg_dump, and a row count per table for the verification",
                "the password reaches pg_dump only through a temporary password file (mode 0600), removed afterwards",
            ),
            confirm_text=session.target.profile or session.target.label, statement_timeout_ms=LONG_MS, lock_timeout_ms=LOCK_WAIT_MS, planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        report = progress or (lambda update: None)
        server = await session.conn.fetchrow(session.sql("backup_server"))
        tables, _ = await dumped_tables(session)
        tool = await client_tool("pg_dump")
        assert tool is not None and session.connection is not None  # preconditions passed just now
        directory = backup_directory(session)
        final = directory / str(plan.params["name"])
        partial = final.with_name(final.name + PARTIAL_SUFFIX)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        total = float(server["database_size"])
        started = datetime.now(timezone.utc)

        def tick() -> None:
            with contextlib.suppress(OSError):
                report(ProgressUpdate(phase="dumping", done=partial.stat().st_size, total=total, unit="bytes"))

        try:
            async with session.conn.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await session.conn.fetchval("SELECT pg_export_snapshot()")
                argv = [f"--snapshot={snapshot}" if part == SNAPSHOT_PLACEHOLDER else part for part in plan.command]
                argv[0] = str(tool.path)
                report(ProgressUpdate(phase="dumping", done=0, total=total, unit="bytes"))
                with client_environment(session.connection) as env:
                    records = await _dump_and_count(session, tables, run_client(argv, env, tick=tick), partial)
            report(ProgressUpdate(phase="checksumming", done=partial.stat().st_size, total=total, unit="bytes"))
            digest, size = await asyncio.to_thread(seal_backup, partial)
            metadata = BackupMetadata(
                file=final.name, database=session.target.database, target=session.target.label, format="custom",
                started_at=started, finished_at=datetime.now(timezone.utc), server_version=server["server_version"],
                tool="pg_dump", tool_version=tool.version, dbtop_version=dbtop_version(), size_bytes=size,
                sha256=digest, database_size_bytes=server["database_size"], tables=records)
            write_metadata(metadata_path(final), metadata)
            os.rename(partial, final)
            sync_directory(directory)
        except BaseException:
            partial.unlink(missing_ok=True)
            if not final.exists():  # metadata written, rename failed: it must not describe a missing file
                metadata_path(final).unlink(missing_ok=True)
            raise
        return (f"backed up {session.target.database} to {final} ({size} bytes, sha256 {digest[:12]}…, "
                f"{len(records)} tables): unverified until verify-backup {final.name} passes")


async def _dump_and_count(session: Any, tables: list[dict[str, Any]], dumping: Any,
                          partial: Path) -> list[TableRecord]:
    """Run the dump and, meanwhile, count each table's rows in the same snapshot. The first of the two
    to fail stops the other (pg_dump killed, the count cancelled)."""

    async def dump() -> None:
        finished, _ = await dumping
        if not finished.ok:
            raise ActionFailed(f"no backup was made: {finished.reason('pg_dump')}; "
                               f"the incomplete {partial.name} was removed", finished.reason("pg_dump"))

    async def count() -> list[TableRecord]:
        records = []
        for table in tables:
            rows = None
            if table["has_rows"]:
                rows = await session.conn.fetchval(
                    f"SELECT count(*) FROM ONLY {qualified(table['schema'], table['name'])}")
            records.append(TableRecord(schema=table["schema"], name=table["name"], rows=rows))
        return records

    tasks = [asyncio.ensure_future(dump()), asyncio.ensure_future(count())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()
        return tasks[1].result()
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


BACKUP = Backup()
