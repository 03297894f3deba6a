"""The index actions the findings point at: drop-index (DROP INDEX CONCURRENTLY, never an index that
backs a constraint), reindex (REINDEX INDEX CONCURRENTLY, for an INVALID one) and create-index
(CREATE INDEX CONCURRENTLY on a foreign key's columns; when the build fails or is cancelled, the
INVALID index it leaves is dropped and the outcome says so). Builds report progress from
pg_stat_progress_create_index. CONCURRENTLY cannot run inside a transaction block: each statement
is sent on its own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from ..engines.errors import ActionFailed
from ..engines.quoting import qualified, quote_ident
from .pg_common import (Facts, lock_holders_text, may_maintain, one_line, progress_reader, quoted, read_relation,
                        same_relation, shown, split_name, utc_now)
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress, Scalar
from ..engines.postgres.errors import CONNECTION_LOST

BUILD_TIMEOUT_MS = 3_600_000
DROP_TIMEOUT_MS = 600_000
# CONCURRENTLY waits for the transactions that use the table: never for long, never in a queue.
LOCK_TIMEOUT_MS = 2000
CLEANUP_LOCK_TIMEOUT_MS = 30_000
NAME_BYTES = 63  # NAMEDATALEN - 1


def _size(facts: Facts) -> str:
    size = facts.get("size_bytes") or 0
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"


def drop_index_plan(index: str, facts: Facts | None, *, target: PlanTarget, holders: str | None = None,
                    planned_at: datetime | None = None) -> Plan:
    found = same_relation(facts, index, "iI", "index")
    facts = facts if found.passed else None
    preconditions = [found]
    if facts is not None:
        constraint = facts["index_constraint"]
        preconditions.append(Precondition(
            name="no_constraint", description="it backs no constraint", passed=constraint is None,
            detail=f"{shown(facts)} backs constraint {constraint}: drop the constraint instead (ALTER TABLE … DROP "
                   "CONSTRAINT), not from dbtop" if constraint else "no constraint uses it"))
        if facts["relkind"] == "I":
            preconditions.append(Precondition(
                name="not_partitioned", description="it is not a partitioned index", passed=False,
                detail="DROP INDEX CONCURRENTLY cannot drop a partitioned index: drop it in a maintenance window"))
    preconditions.append(may_maintain(facts, "DROP", maintain=False))
    name = shown(facts) if facts else index
    return Plan(action="drop-index", target=target, summary=f"drop index {name}" + (
                    f" ({_size(facts)}) on {facts['index_table']}" if facts else ""),
                params={"index": index},
                statements=(PlannedStatement(text=f"DROP INDEX CONCURRENTLY {quoted(facts) if facts else index}"),),
                preconditions=tuple(preconditions), risk="destructive",
                warnings=("the queries that used it will use another plan: check it is unused, on standbys too",
                          "getting it back means building it again (CREATE INDEX CONCURRENTLY)",
                          *((f"{holders} hold(s) a lock on its table now: the drop waits up to "
                             f"{LOCK_TIMEOUT_MS / 1000:g} s for their transactions, then stops and leaves the index "
                             "INVALID (unused by queries)",) if holders else ())),
                confirm_text=name, statement_timeout_ms=DROP_TIMEOUT_MS, lock_timeout_ms=LOCK_TIMEOUT_MS,
                planned_at=planned_at or utc_now())


def reindex_plan(index: str, facts: Facts | None, *, target: PlanTarget, planned_at: datetime | None = None) -> Plan:
    found = same_relation(facts, index, "i", "index")
    facts = facts if found.passed else None
    warnings = ["it builds a new copy beside the old one (disk for one more copy) and swaps them"]
    if facts is not None and facts["index_valid"]:
        warnings.append(f"{shown(facts)} is valid: REINDEX only helps if it is bloated or corrupt")
    if facts is not None and facts["index_unique"] and not facts["index_valid"]:
        warnings.append("it is a unique index: while duplicate keys remain the rebuild fails again (and leaves "
                        "an INVALID copy named …_ccnew to drop)")
    name = shown(facts) if facts else index
    return Plan(action="reindex", target=target, summary=f"rebuild index {name}" + (
                    f" on {facts['index_table']}" + ("" if facts["index_valid"] else " (INVALID)") if facts else ""),
                params={"index": index},
                statements=(PlannedStatement(text=f"REINDEX INDEX CONCURRENTLY {quoted(facts) if facts else index}"),),
                preconditions=(found, may_maintain(facts, "REINDEX")), risk="reversible", warnings=tuple(warnings),
                statement_timeout_ms=BUILD_TIMEOUT_MS, lock_timeout_ms=LOCK_TIMEOUT_MS,
                planned_at=planned_at or utc_now())


def columns_of(columns: Scalar | Sequence[str]) -> tuple[str, ...]:
    """("a", "b") from "a,b" (or a sequence of names)."""
    names = columns.split(",") if isinstance(columns, str) else list(columns or ())  # type: ignore[arg-type]
    found = tuple(str(c).strip() for c in names if str(c).strip())
    if not found:
        raise ValueError("columns: name the column(s) to index, e.g. 'customer_id' or 'a,b'")
    return found


def index_name(table: str, columns: Sequence[str]) -> str:
    """PostgreSQL's own choice of name (table_col1_col2_idx), cut to 63 bytes."""
    base = f"{table}_{'_'.join(columns)}"
    while len((base + "_idx").encode()) > NAME_BYTES:
        base = base[:-1]
    return base + "_idx"


def create_index_plan(table: str, columns: Sequence[str], facts: Facts | None, index_facts: Facts | None, *,
                      target: PlanTarget, planned_at: datetime | None = None) -> Plan:
    """`index_facts`: sql/action_index_columns for the columns and the chosen name."""
    found = same_relation(facts, table, "r", "table")
    facts = facts if found.passed else None
    preconditions = [found]
    name = index_name(facts["name"] if facts else table, columns)
    if facts is not None and index_facts is not None:
        missing = [c for c in columns if c not in index_facts["existing"]]
        preconditions.append(Precondition(
            name="columns", description=f"{shown(facts)} has column(s) {', '.join(columns)}", passed=not missing,
            detail=f"no column {', '.join(missing)}" if missing else None, seen={"columns": ",".join(columns)}))
        covered = list(index_facts["covered_by"])
        preconditions.append(Precondition(
            name="not_indexed", description="no valid index starts with these columns", passed=not covered,
            detail=f"{covered[0]} already starts with them" if covered else None))
        preconditions.append(Precondition(
            name="name_free", description=f"the name {name} is free in schema {facts['schema_name']}",
            passed=index_facts["name_free"], seen={"name": name},
            detail=None if index_facts["name_free"] else f"a relation named {name} exists already"))
    preconditions.append(may_maintain(facts, "CREATE INDEX on", maintain=False))
    shown_table = shown(facts) if facts else table
    text = (f"CREATE INDEX CONCURRENTLY {quote_ident(name)} ON {quoted(facts) if facts else table} "
            f"({', '.join(quote_ident(c) for c in columns)})")
    return Plan(action="create-index", target=target, summary=f"create index {name} on {shown_table} "
                                                             f"({', '.join(columns)})",
                params={"table": table, "columns": ",".join(columns)},
                statements=(PlannedStatement(text=text),), preconditions=tuple(preconditions), risk="reversible",
                warnings=("it reads the whole table and waits for the transactions using it; writes go on",
                          "if the build fails or is cancelled, the INVALID index it leaves is dropped"),
                statement_timeout_ms=BUILD_TIMEOUT_MS, lock_timeout_ms=LOCK_TIMEOUT_MS,
                planned_at=planned_at or utc_now())


class DropIndex:
    name = "drop-index"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, index: str) -> Plan:
        holders = lock_holders_text(await session.conn.fetch(session.sql("action_lock_holders"), *split_name(index)))
        return drop_index_plan(index, await read_relation(session, index), target=session.target, holders=holders)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        try:
            await session.conn.execute(plan.statements[0].text)
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            raise ActionFailed(f"the drop stopped ({one_line(exc)}); {await self._left(session, plan)}",
                               one_line(exc)) from exc
        return f"dropped index {plan.confirm_text}"

    @staticmethod
    async def _left(session: Any, plan: Plan) -> str:
        """What a stopped DROP INDEX CONCURRENTLY left: its first step marks the index INVALID (queries
        stop using it, writes still maintain it) before it waits for the table's transactions."""
        oid = next(p.seen["oid"] for p in plan.preconditions if p.name == "same_index")
        name = plan.confirm_text
        try:
            valid = await session.conn.fetchval(session.sql("action_index_valid"), oid)
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            return f"whether index {name} is still valid could not be read ({one_line(exc)}): look at it before going on"
        if valid is None:
            return f"index {name} is gone"
        if valid:
            return f"index {name} is unchanged and still used"
        return (f"index {name} is left INVALID: queries no longer use it, writes still maintain it; run the drop "
                "again when the table's transactions have ended (it finishes the drop), or REINDEX INDEX "
                "CONCURRENTLY to use it again")


class Reindex:
    name = "reindex"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, index: str) -> Plan:
        return reindex_plan(index, await read_relation(session, index), target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        started = utc_now()
        await session.execute_watched(plan.statements[0], progress,
                                      progress_reader(session.sql("action_progress_create_index")))
        return f"rebuilt index {plan.params['index']} in {(utc_now() - started).total_seconds():.1f} s"


class CreateIndex:
    name = "create-index"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any, *, table: str, columns: Scalar) -> Plan:
        wanted = columns_of(columns)
        facts = await read_relation(session, table)
        index_facts = None
        if facts is not None and facts["relkind"] == "r":
            row = await session.conn.fetchrow(session.sql("action_index_columns"), facts["oid"], list(wanted),
                                              index_name(facts["name"], wanted))
            index_facts = dict(row)
        return create_index_plan(table, wanted, facts, index_facts, target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        started = utc_now()
        try:
            await session.execute_watched(plan.statements[0], progress,
                                          progress_reader(session.sql("action_progress_create_index")))
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            cleaned = await self._drop_invalid(session, session.conn, plan)
            raise ActionFailed(f"the build failed ({one_line(exc)}); {cleaned}", one_line(exc)) from exc
        return f"created index {self._name(plan)} in {(utc_now() - started).total_seconds():.1f} s"

    async def after_cancel(self, session: Any, side: Any, plan: Plan) -> str | None:
        """Called by the runner with a side connection once the cancelled build's backend is gone."""
        return await self._drop_invalid(session, side, plan)

    @staticmethod
    def _name(plan: Plan) -> str:
        return next(p.seen["name"] for p in plan.preconditions if p.name == "name_free")

    async def _drop_invalid(self, session: Any, conn: Any, plan: Plan) -> str:
        """Drop the INVALID index the failed build left (on `conn`); one line saying what was done.
        The drop waits (up to CLEANUP_LOCK_TIMEOUT_MS) for the transactions the build waited for:
        DROP INDEX CONCURRENTLY blocks neither reads nor writes meanwhile."""
        name = self._name(plan)
        oid = next(p.seen["oid"] for p in plan.preconditions if p.name == "same_table")
        try:
            left = await conn.fetchrow(session.sql("action_invalid_index"), oid, name)
            if left is None:
                return "it left no index behind"
            await conn.execute(f"SET statement_timeout = {DROP_TIMEOUT_MS}; SET lock_timeout = {CLEANUP_LOCK_TIMEOUT_MS}")
            await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {left['quoted']}")
            return f"the INVALID index {name} it left was dropped"
        except (asyncpg.PostgresError, *CONNECTION_LOST) as exc:
            table = qualified(*next(p.seen["table"] for p in plan.preconditions
                                    if p.name == "same_table").split(".", 1))
            return (f"the INVALID index {name} it left could not be dropped ({one_line(exc)}): run DROP INDEX "
                    f"CONCURRENTLY on it (in the schema of {table})")


DROP_INDEX = DropIndex()
REINDEX = Reindex()
CREATE_INDEX = CreateIndex()
