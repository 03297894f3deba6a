"""pg_stat_statements, read without texts and turned into per-interval deltas.

The counters are read with `showtext => false`; a statement's text is fetched once, when its query
id is first seen, and cached. Between two readings most entries do not move: the collector sends the
server the signature (key and counters, hashed by the server) of every entry it holds, and the server
sends back only the entries that are new or moved, and the signatures it no longer has. The entries
that did not move keep the `Statement` built for them, so a poll over thousands of entries decodes
and builds only the few that changed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import asyncpg

from ..parts import PartFailed
from ..redact import redact
from ..snapshot import Statement, StatementDelta, Statements
from .queries import MARKER, sql, statements_sql
from .signatures import HeldSignatures

TEXT_CACHE_LIMIT = 20000

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]


class StatementsReader:
    """Reads pg_stat_statements for one collector, remembering the last reading for the deltas.
    `clock` (monotonic seconds) is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        # key -> (the row's key and counters, its Statement, its signature), as last read
        self._last: dict[tuple, tuple[tuple, Statement, int]] = {}
        self._signed: HeldSignatures[tuple] = HeldSignatures()  # signature -> key, of the entries in _last
        self._entries: list[Statement] = []  # the Statements of _last, in its order
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
            rows = await fetch(statements_sql(version), self._signed.array_literal())
        except asyncpg.ObjectNotInPrerequisiteStateError:
            raise PartFailed(
                "the pg_stat_statements extension exists but its library is not loaded "
                "(not in shared_preload_libraries)",
                "add pg_stat_statements to shared_preload_libraries in postgresql.conf and restart the server",
                back_off=False) from None
        now = self.clock()
        previous = self._last
        signed = self._signed
        # Columns: user_id, database_id, query_id, toplevel (the key), the counters, signature, gone.
        moved = [tuple(r) for r in rows if r[10] is None]
        gone_signatures = [r[10] for r in rows if r[10] is not None]
        gone = {signed[signature] for signature in gone_signatures}
        texts = self._texts
        new_ids = {raw[2] for raw in moved if raw[2] not in texts}
        if new_ids:
            if len(texts) + len(new_ids) > TEXT_CACHE_LIMIT:
                texts.clear()
                new_ids = {raw[2] for raw in moved} | {key[2] for key in previous if key not in gone}
            fetched = await fetch(sql("statement_texts", 12), list(new_ids))
            texts.update((r["query_id"], redact(r["query"])) for r in fetched)

        previous_at = self._last_at
        interval = now - previous_at if previous_at is not None and now > previous_at else None
        # The entries that did not move are carried over (their objects too, unless the names were
        # read again), in the order of the last reading; moved entries take their place, new ones
        # come last, and the entries gone from the server (evicted, reset) are dropped.
        same_names = self._last_names is names
        if same_names and not moved and not gone:
            self._last_at = now
            return Statements(extension_version=version, entries=self._entries, interval_s=interval, deltas={})
        if same_names:
            current = dict(previous)
        else:
            current = {key: (raw, self._statement(raw, names, statement.query), signature)
                       for key, (raw, statement, signature) in previous.items()}
        deltas: dict[str, StatementDelta] = {}
        zero = (0, 0.0, 0, 0, 0)
        for row in moved:
            key, raw, signature = row[:4], row[:9], row[9]
            before = previous.get(key)
            statement = self._statement(raw, names, before[1].query if before is not None else None)
            current[key] = (raw, statement, signature)
            gone.discard(key)
            if interval is not None:
                # An entry missing from the last reading, or whose counters went down (a reset),
                # has counted only since then: all of it happened in this interval.
                counters = raw[4:]
                calls = counters[0]
                base = before[0][4:] if before is not None and calls >= before[0][4] else zero
                dc, dt, dr, dh, dd = (v - p for v, p in zip(counters, base))
                if dc or dt:
                    deltas[statement.key] = StatementDelta(
                        interval_s=interval, calls=dc, total_time_ms=dt, rows=dr, shared_blks_hit=dh,
                        shared_blks_read=dd, calls_per_s=dc / interval, time_ms_per_s=dt / interval,
                        rows_per_s=dr / interval, shared_blks_hit_per_s=dh / interval,
                        shared_blks_read_per_s=dd / interval)
        for key in gone:
            del current[key]
        for signature in gone_signatures:
            del signed[signature]
        signed.update((row[9], row[:4]) for row in moved)
        self._last = current
        self._entries = [entry[1] for entry in current.values()]
        self._last_names = names
        self._last_at = now
        return Statements(extension_version=version, entries=self._entries, interval_s=interval, deltas=deltas)

    def _statement(self, raw: tuple, names: dict[tuple[str, int], str], known_text: str | None) -> Statement:
        """`known_text`: the text the entry had when last built, kept should the cache have lost it."""
        user_id, database_id, query_id, toplevel, calls, total, n_rows, hit, read = raw
        text = self._texts.get(query_id, known_text)
        return Statement.from_trusted({
            "key": f"{query_id}:{user_id}:{database_id}:{'t' if toplevel else 'f'}", "query_id": query_id,
            "user_id": user_id, "database_id": database_id, "user": names.get(("role", user_id)),
            "database": names.get(("database", database_id)), "toplevel": toplevel,
            "from_dbtop": text is not None and text.startswith(MARKER), "query": text,
            "calls": calls, "total_time_ms": total, "mean_time_ms": total / calls if calls else 0.0,
            "rows": n_rows, "shared_blks_hit": hit, "shared_blks_read": read,
            "plan_summary": None})
