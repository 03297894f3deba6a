"""The verify-backup action: proves a dbtop backup restorable, in five reported steps, and writes the
result into its metadata file so the Backups panel shows it at the next scan (a passed verification
makes the backup count for the recovery point).

1. checksum: the file exists and its SHA-256 is the one recorded when it was taken;
2. `pg_restore --list` reads the archive's table of contents;
3. the tables recorded at backup time (else the database's tables now) are all in it;
4. its size is plausible against the database's;
5. a test restore into a scratch database (created from template0 and dropped by the action, on the
   same server or on the server of the profile's `verify_target`) succeeds, and each restored table
   has the rows counted in the dump's snapshot.

The steps run in order and stop at the first that fails; each is a progress phase and a line of the
outcome. Risk: reversible (a database is created and dropped; a restore loads the server it runs on).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone
from typing import Any

from ..engines.backups.inventory import TableRecord, backup_checksum, metadata_path, read_metadata
from ..engines.errors import ActionFailed, ConnectError
from ..engines.postgres.connect import close_connection, open_connection
from ..engines.postgres.dump import client_environment, conninfo, run_client
from ..engines.postgres.refresh_log import LOG_TABLE
from ..engines.quoting import qualified, quote_ident
from ..profiles.target import Target
from .backup import LONG_MS, client_tool, dumped_tables, tool_preconditions
from .backup_files import backup_directory, described_backup, record_verification
from .plan import Plan, PlannedStatement, Precondition, Progress, ProgressUpdate, Scalar

STEPS = ("checksum", "pg_restore --list", "tables", "size", "test restore")
METHOD = "dbtop verify-backup: checksum, pg_restore --list, tables, size, test restore"
# An archive larger than this many times the database (plus slack) is not a dump of it; one smaller
# than this fraction of a database with data in it has lost most of it.
SIZE_AT_MOST = 2.0
SIZE_AT_LEAST = 1 / 1000
SIZE_SLACK = 16 << 20


def scratch_name(backup: str) -> str:
    """The scratch database for `backup`: the same at planning and at running, unlike any user's."""
    return "dbtop_verify_" + hashlib.sha256(backup.encode()).hexdigest()[:12]


def size_plausible(size: int, database_size: int | None) -> tuple[bool, str]:
    if size <= 0:
        return False, "the archive is empty"
    if not database_size:
        return True, f"{size} bytes (the database's size is unknown)"
    ratio = size / database_size
    said = f"{size} bytes for a {database_size}-byte database ({ratio:.1%})"
    if size > SIZE_AT_MOST * database_size + SIZE_SLACK:
        return False, f"{said}: larger than the database could dump to"
    if database_size > SIZE_SLACK and ratio < SIZE_AT_LEAST:
        return False, f"{said}: too small to hold its data"
    return True, said


def missing_tables(listing: str, tables: list[TableRecord]) -> list[str]:
    """The tables (and table data) `pg_restore --list` does not show. Its lines read
    `id; tableoid oid TABLE schema name owner` and `… TABLE DATA schema name owner`."""
    entries = {line.split(";", 1)[1] for line in listing.splitlines() if ";" in line and not line.startswith(";")}
    missing = []
    for table in tables:
        wanted = [f" TABLE {table.schema_name} {table.name} "]
        if table.rows is not None:
            wanted.append(f" TABLE DATA {table.schema_name} {table.name} ")
        for fragment in wanted:
            if not any(fragment in entry for entry in entries):
                missing.append(f"{qualified(table.schema_name, table.name)}"
                               + (" (its data)" if "DATA" in fragment else ""))
    return missing


def _verify_target(policy: Any) -> Target | None:
    """The Target of the profile's `verify_target`, its password from the keyring (never prompted)."""
    if not policy.verify_target:
        return None
    from ..profiles.config import load_config  # only when a verify_target is set
    from ..profiles.resolve import resolve_profile
    from ..profiles.secret_store import SecretStore

    profile = load_config().get(policy.verify_target)
    return resolve_profile(profile, SecretStore(interactive=False)).target


class VerifyBackup:
    name = "verify-backup"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, name: Scalar = None) -> Plan:
        now = datetime.now(timezone.utc)
        name = str(name or "")
        path = backup_directory(session) / name
        described, meta = described_backup(name, path)
        preconditions: list[Precondition] = [described]
        if meta is not None and meta.format != "custom":
            preconditions.append(Precondition(name="format", description="the backup is a custom-format archive",
                                              passed=False, detail=f"it is {meta.format}: not verified by dbtop"))
        tool = await client_tool("pg_restore")
        dumped_by = int(meta.tool_version.split(".")[0]) if meta and meta.tool_version[:1].isdigit() else session.major
        preconditions += tool_preconditions(tool, "pg_restore", dumped_by, "the pg_dump that wrote it")
        try:
            elsewhere = _verify_target(session.policy)
        except Exception as exc:  # noqa: BLE001 - a missing profile or keyring: said, not raised
            elsewhere = None
            preconditions.append(Precondition(name="verify_target", description="the verify_target profile resolves",
                                              passed=False, detail=str(exc).splitlines()[0]))
        where = "the same server" if elsewhere is None else f"{elsewhere.label} (verify_target)"
        scratch = scratch_name(name)
        if elsewhere is None:
            row = await session.conn.fetchrow(
                "SELECT (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_create, "
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS taken", scratch)
            preconditions.append(Precondition(
                name="create_database", description="the role may create the scratch database (CREATEDB)",
                passed=bool(row["can_create"]),
                detail=None if row["can_create"] else "ALTER ROLE … CREATEDB, or set the profile's verify_target"))
            preconditions.append(Precondition(
                name="scratch_free", description=f"no database named {scratch} exists", passed=not row["taken"],
                detail=(f"{scratch} exists (left by an interrupted verify?): DROP DATABASE {scratch} and plan again"
                        if row["taken"] else None)))
        restore_on = elsewhere or session.connection
        drop = f"DROP DATABASE IF EXISTS {quote_ident(scratch)}" + (" WITH (FORCE)" if session.major >= 13 else "")
        command = (str(tool.path) if tool else "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                   f"--dbname={conninfo(restore_on, database=scratch)}" if restore_on else f"--dbname={scratch}",
                   str(path))
        return Plan(
            action=self.name, target=session.target, params={"name": name},
            summary=f"verify backup {name} in five steps, test-restoring it on {where}",
            statements=(PlannedStatement(text=f"CREATE DATABASE {quote_ident(scratch)} TEMPLATE template0"),
                        PlannedStatement(text=drop)),
            command=command, preconditions=tuple(preconditions), risk="reversible",
            warnings=(f"restores the whole backup into a scratch database {scratch} on {where}, then drops it: "
                      "the load of a restore, and its size in disk space meanwhile",
                      "writes the result into the backup's metadata file"),
            statement_timeout_ms=LONG_MS, planned_at=now)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        report = progress or (lambda update: None)
        path = backup_directory(session) / str(plan.params["name"])
        meta_file = metadata_path(path)
        meta = read_metadata(meta_file)
        lines: list[str] = []

        def step(number: int, passed: bool, detail: str) -> None:
            lines.append(f"{number}. {STEPS[number - 1]}: {'passed' if passed else 'FAILED'}: {detail}")
            if not passed:
                raise _StepFailed(number)

        def phase(number: int) -> None:
            report(ProgressUpdate(phase=f"{number}/5 {STEPS[number - 1]}", done=number - 1, total=5, unit="steps"))

        try:
            phase(1)
            if not path.is_file():
                step(1, False, f"{path} is gone")
            digest = await asyncio.to_thread(backup_checksum, path)
            step(1, digest == meta.sha256, f"sha256 {digest[:12]}…" + (
                "" if digest == meta.sha256 else f" but {meta.sha256[:12]}… when taken: the file changed"))

            phase(2)
            tool = await client_tool("pg_restore")
            assert tool is not None  # a precondition, checked just now
            listed, listing = await run_client([str(tool.path), "--list", str(path)], {}, capture_stdout=True)
            entries = sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
            step(2, listed.ok, f"{entries} entries" if listed.ok else listed.reason("pg_restore --list"))

            phase(3)
            tables = meta.tables
            source = "recorded at backup time"
            if tables is None:
                current, _ = await dumped_tables(session)
                tables = [TableRecord(schema=t["schema"], name=t["name"]) for t in current]
                source = "in the database now (none were recorded at backup time)"
            missing = missing_tables(listing, tables)
            step(3, not missing, f"all {len(tables)} tables {source}" if not missing else
                 f"missing {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")

            phase(4)
            database_size = meta.database_size_bytes
            if database_size is None:
                database_size = (await session.conn.fetchrow(session.sql("backup_server")))["database_size"]
            step(4, *size_plausible(path.stat().st_size, database_size))

            phase(5)
            step(5, *await self._test_restore(session, plan, tables))
        except _StepFailed as failed:
            skipped = [f"{n}. {STEPS[n - 1]}: not run" for n in range(failed.number + 1, 6)]
            summary = f"{path.name} FAILED verification at step {failed.number} ({STEPS[failed.number - 1]})"
            record_verification(meta_file, "failed", METHOD, summary + ": " + lines[-1].split(": ", 2)[-1])
            raise ActionFailed("\n".join([summary, *lines, *skipped]), lines[-1]) from None
        report(ProgressUpdate(phase="verified", done=5, total=5, unit="steps"))
        record_verification(meta_file, "passed", METHOD, "; ".join(line.split(": ", 2)[-1] for line in lines))
        return "\n".join([f"{path.name} verified: 5 of 5 steps passed", *lines])

    async def _test_restore(self, session: Any, plan: Plan, tables: list[TableRecord]) -> tuple[bool, str]:
        """Create the scratch database, restore into it, compare row counts, drop it (whatever happened)."""
        create, drop = (s.text for s in plan.statements)
        elsewhere = _verify_target(session.policy)
        restore_on: Target = elsewhere or session.connection
        scratch = scratch_name(str(plan.params["name"]))
        admin = session.conn
        if elsewhere is not None:
            try:
                admin = await open_connection(elsewhere, statement_timeout_ms=LONG_MS, lock_timeout_ms=5000,
                                              read_only=False, application_name="dbtop action")
            except ConnectError as exc:
                return False, f"the verify_target could not be reached: {exc}"
        try:
            await admin.execute(create)
            try:
                with client_environment(restore_on) as env:
                    restored, _ = await run_client(list(plan.command), env)
                if not restored.ok:
                    return False, restored.reason("pg_restore")
                return await self._compare_rows(restore_on, scratch, tables)
            finally:
                await admin.execute(drop)
        finally:
            if admin is not session.conn:
                await close_connection(admin)

    async def _compare_rows(self, server: Target, scratch: str, tables: list[TableRecord]) -> tuple[bool, str]:
        counted = [t for t in tables if t.rows is not None]
        if not counted:
            return True, f"restored into {scratch} (no row counts were recorded at backup time to compare)"
        conn = await open_connection(server.model_copy(update={"database": scratch}),
                                     statement_timeout_ms=LONG_MS, lock_timeout_ms=5000)
        try:
            wrong, grown = [], []
            for table in counted:
                rows = await conn.fetchval(f"SELECT count(*) FROM ONLY {qualified(table.schema_name, table.name)}")
                if (table.schema_name, table.name) == LOG_TABLE and rows >= table.rows:
                    # pg_restore creates the event trigger before it refreshes the views, so the
                    # restore's own refreshes are recorded in the scratch copy of dbtop's refresh log
                    if rows > table.rows:
                        grown.append(f"{qualified(*LOG_TABLE)} has {rows - table.rows} more row(s): the "
                                     "restore's own view refreshes")
                elif rows != table.rows:
                    wrong.append(f"{qualified(table.schema_name, table.name)} has {rows} rows, {table.rows} dumped")
        finally:
            await close_connection(conn)
        if wrong:
            return False, "; ".join(wrong[:5]) + (" …" if len(wrong) > 5 else "")
        total = sum(t.rows or 0 for t in counted)
        return True, (f"restored into {scratch}: {len(counted)} tables, {total} rows, every count as dumped"
                      + "".join(f" ({note})" for note in grown))



class _StepFailed(Exception):
    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


VERIFY_BACKUP = VerifyBackup()
