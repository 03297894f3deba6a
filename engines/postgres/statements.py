"""pg_stat_statements, read without texts and turned into per-interval deltas.

The counters are read with `showtext => false`; a statement's text is fetched once, when its query
id is first seen, and cached. Between two readings most entries do not move: for those the decoded
row is compared with the last one and the `Statement` built then is kept, so a poll over thousands
of entries builds only the few that changed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import asyncpg

from ..parts import PartFailed
from ..redact import redact
from ..snapshot import Statement, StatementDelta, Statements
from .queries import MARKER, sql, statements_sql

TEXT_CACHE_LIMIT = 20000

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]


class StatementsReader:
    """Reads pg_stat_statements for one collector, remembering the last reading for the deltas.
    `clock` (monotonic seconds) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._last: dict[tuple, tuple[tuple, Statement]] = {}
        self._last_at: float | None = None
        self._last_names: dict[tuple[str, int], str] | None = None
        self._texts: dict[int, str] = {}

    async def read(self, fetch: Fetch, *, version: str | None, database: str,
                   preload_libraries: str | None, names: dict[tuple[str, int], str]) -> Statements:
        """The statements now, with the deltas since the last call. `version` is the extension's (None:
        not created); `names` maps ('role'|'database', oid) to a name, and a new `names` object (the
        names read again) rebuilds every entry. Raises PartFailed when the extension is missing or
        its library not loaded."""
        preloaded = None if preload_libraries is None else (
            "pg_stat_statements" in [p.strip() for p in preload_libraries.split(",")])
        if version is None:
            if preloaded is False:
                raise PartFailed(
                    "pg_stat_statements is not in shared_preload_libraries",
                    "add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart the server, "
                    f"then run CREATE EXTENSION pg_stat_statements; in database {database}", back_off=False)
            raise PartFailed(
                f"the pg_stat_statements extension is not created in database {database}",
                f"CREATE EXTENSION pg_stat_statements;  (in database {database}; the library must also be in "
                "shared_preload_libraries)", back_off=False)
        try:
            rows = await fetch(statements_sql(version))
        except asyncpg.ObjectNotInPrerequisiteStateError:
            raise PartFailed(
                "the pg_stat_statements extension exists but its library is not loaded "
                "(not in shared_preload_libraries)",
                "add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server",
                back_off=False) from None
        now = self.clock()
        new_ids = [r["query_id"] for r in rows if r["query_id"] not in self._texts]
        if new_ids:
            if len(self._texts) + len(new_ids) > TEXT_CACHE_LIMIT:
                self._texts.clear()
                new_ids = [r["query_id"] for r in rows]
            texts = await fetch(sql("statement_texts", 12), list(set(new_ids)))
            self._texts.update((r["query_id"], redact(r["query"])) for r in texts)

        # Columns: user_id, database_id, query_id, toplevel (the key), then the counters.
        previous = self._last
        reuse = self._last_names is names  # rebuilt when the names were read again
        previous_at = self._last_at
        current: dict[tuple, tuple[tuple, Statement]] = {}
        entries = []
        deltas: dict[str, StatementDelta] = {}
        texts = self._texts
        interval = now - previous_at if previous_at is not None and now > previous_at else None
        zero = (0, 0.0, 0, 0, 0)
        for r in rows:
            raw = tuple(r)
            key = raw[:4]
            before = previous.get(key)
            if reuse and before is not None and before[0] == raw:
                current[key] = before
                entries.append(before[1])
                continue
            user_id, database_id, query_id, toplevel, calls, total, n_rows, hit, read = raw
            text = texts.get(query_id)
            statement = Statement.from_trusted({
                "key": f"{query_id}:{user_id}:{database_id}:{'t' if toplevel else 'f'}", "query_id": query_id,
                "user_id": user_id, "database_id": database_id, "user": names.get(("role", user_id)),
                "database": names.get(("database", database_id)), "toplevel": toplevel,
                "from_dbtop": text is not None and text.startswith(MARKER), "query": text,
                "calls": calls, "total_time_ms": total, "mean_time_ms": total / calls if calls else 0.0,
                "rows": n_rows, "shared_blks_hit": hit, "shared_blks_read": read,
                "plan_summary": None})
            current[key] = (raw, statement)
            entries.append(statement)
            if interval is not None:
                # An entry missing from the last reading, or whose counters went down (a reset),
                # has counted only since then: all of it happened in this interval.
                counters = raw[4:]
                base = before[0][4:] if before is not None and calls >= before[0][4] else zero
                dc, dt, dr, dh, dd = (v - p for v, p in zip(counters, base))
                if dc or dt:
                    deltas[statement.key] = StatementDelta(
                        interval_s=interval, calls=dc, total_time_ms=dt, rows=dr, shared_blks_hit=dh,
                        shared_blks_read=dd, calls_per_s=dc / interval, time_ms_per_s=dt / interval,
                        rows_per_s=dr / interval, shared_blks_hit_per_s=dh / interval,
                        shared_blks_read_per_s=dd / interval)
        self._last = current
        self._last_names = names
        self._last_at = now
        return Statements(extension_version=version, entries=entries, interval_s=interval, deltas=deltas)
