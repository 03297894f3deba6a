"""Materialized views and how fresh they are.

PostgreSQL records no refresh times, so each view's last refresh comes from the best source there
is: a refresh dbtop's own refresh-view action ran (from the action journal) or dbtop's refresh log
(an event trigger), whichever is the latest, else the modification time of the view's file (a
lower bound), else it is unknown. The optional data age (`max(column)` of a timestamp column) runs at a
low rate, one view at a time, under the statement timeout.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
import asyncpg

from ...actions.journal import Journal, JournalEntry
from ..policy import WatchPolicy
from ..quoting import quote_ident
from ..redact import redact
from ..snapshot import MaterializedView, ViewRefresh, Views
from .queries import MARKER, sql

Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]

VIEWS_CAP = 1000
DATA_AGE_EVERY_S = 600.0
DATA_AGE_RETRY_AFTER_ERROR_S = 3600.0
DATA_AGE_PER_ROUND = 5
# A journaled refresh and a logged one this close are the same refresh (the journal's time is the
# client's, written just after the refresh ended; the log's is the server's).
SAME_REFRESH_S = 5.0


def journal_refreshes(entries: Iterable[JournalEntry], system_identifier: str | None,
                      database: str | None) -> dict[int, ViewRefresh]:
    """The latest refresh-view action done on each view (by oid) of this server and database, as the
    journal recorded it: its `same_view` precondition's seen oid, the role, and whether it ran
    concurrently."""
    found: dict[int, ViewRefresh] = {}
    for entry in entries:
        if (entry.action != "refresh-view" or entry.outcome != "done"
                or entry.detail.get("system_identifier") != system_identifier
                or entry.detail.get("database") != database):
            continue
        seen = {p.name: p.seen for p in entry.preconditions}
        oid = seen.get("same_view", {}).get("oid")
        if not isinstance(oid, int):
            continue
        refresh = ViewRefresh(source="dbtop_action", at=entry.time, duration_s=entry.duration_s,
                              role=seen.get("privilege", {}).get("role"),
                              concurrently=seen.get("refresh_mode", {}).get("concurrently"))
        if oid not in found or found[oid].at <= refresh.at:
            found[oid] = refresh
    return found


def latest_refresh(journaled: ViewRefresh | None, logged: ViewRefresh | None) -> ViewRefresh | None:
    """The later of a journaled and a logged refresh; for the same refresh, the journal's (dbtop ran
    it) with the log's exact duration."""
    if journaled is None or logged is None:
        return journaled or logged
    if journaled.at >= logged.at - timedelta(seconds=SAME_REFRESH_S):
        if abs((journaled.at - logged.at).total_seconds()) <= SAME_REFRESH_S:
            return journaled.model_copy(update={"duration_s": logged.duration_s})
        return journaled
    return logged


@dataclass
class DataAge:
    column: str
    read_at: float
    newest_at: datetime | None
    error: str | None


class ViewsReader:
    """Reads the views part; keeps the data ages between rounds (they are read far less often)."""

    def __init__(self, policy: WatchPolicy, journal: Journal | None = None):
        self.policy = policy
        self.journal = journal
        self._data_ages: dict[int, DataAge] = {}
        self.refresh_log_note: str | None = None
        self._journaled: tuple[tuple, dict[int, ViewRefresh]] | None = None

    def journaled(self, system_identifier: str | None, database: str | None) -> dict[int, ViewRefresh]:
        """The refreshes dbtop's actions ran, from the journal (read again only when it changed)."""
        journal = self.journal or Journal()
        try:
            stat = journal.path.stat()
        except OSError:
            return {}
        key = (str(journal.path), stat.st_mtime_ns, stat.st_size, system_identifier, database)
        if self._journaled is None or self._journaled[0] != key:
            try:
                self._journaled = (key, journal_refreshes(journal.entries(), system_identifier, database))
            except OSError:
                return {}
        return self._journaled[1]

    async def read(self, fetch: Fetch) -> Views:
        rows = await fetch(sql("views", 12))
        now = datetime.now(timezone.utc)
        truncated = len(rows) > VIEWS_CAP
        rows = rows[:VIEWS_CAP]
        log_installed = bool(rows and rows[0]["refresh_log_installed"])
        refreshes: dict[int, asyncpg.Record] = {}
        self.refresh_log_note = None
        if log_installed:
            try:
                refreshes = {r["view_oid"]: r for r in await fetch(sql("refresh_log", 12))}
            except asyncpg.InsufficientPrivilegeError:
                self.refresh_log_note = ("dbtop's refresh log is installed but this role may not read it: "
                                         "GRANT pg_monitor TO this role (or SELECT on dbtop.refresh_log)")
        file_times: dict[int, datetime | None] = {}
        if rows and rows[0]["file_times_readable"]:
            file_times = {r["oid"]: r["file_modified_at"] for r in await fetch(sql("view_file_times", 12))}
        await self._read_data_ages(fetch, rows)
        journaled = self.journaled(rows[0]["system_identifier"], rows[0]["database"]) if rows else {}
        views = [self._view(r, refreshes.get(r["oid"]), journaled.get(r["oid"]), file_times.get(r["oid"]), now)
                 for r in rows]
        return Views(read_at=now, refresh_log_installed=log_installed,
                     file_times_readable=bool(rows and rows[0]["file_times_readable"]),
                     views=views, truncated=truncated)

    def _view(self, row: asyncpg.Record, logged: asyncpg.Record | None, journaled: ViewRefresh | None,
              file_time: datetime | None, now: datetime) -> MaterializedView:
        threshold = self.policy.freshness_for(row["schema_name"], row["name"])
        if logged is not None:
            logged = ViewRefresh(source="refresh_log", at=logged["finished_at"],
                                 duration_s=(logged["finished_at"] - logged["started_at"]).total_seconds(),
                                 role=logged["role"])
        known = latest_refresh(journaled, logged)
        if known is not None:
            refresh = known
        elif file_time is not None and row["populated"]:
            refresh = ViewRefresh(source="file_time", at=file_time)
        else:
            refresh = ViewRefresh()
        age = (now - refresh.at).total_seconds() if refresh.at is not None else None
        if not row["populated"]:
            stale: bool | None = True
        elif age is None:
            stale = None
        elif refresh.source == "file_time":
            # The file time bounds the refresh from below: within the threshold means fresh, beyond it
            # only "perhaps stale".
            stale = False if age <= threshold else None
        else:
            stale = age > threshold
        data_age = self._data_ages.get(row["oid"])
        newest = data_age.newest_at if data_age else None
        return MaterializedView(
            schema_name=row["schema_name"], name=row["name"], owner=row["owner"], size_bytes=row["size_bytes"],
            rows_estimate=row["rows_estimate"], populated=row["populated"], unique_index=row["unique_index"],
            locked_by=list(row["locked_by"]), last_refresh=refresh, threshold_s=threshold, age_s=age, stale=stale,
            data_age_column=data_age.column if data_age else None, data_newest_at=newest,
            data_age_s=(now - newest).total_seconds() if newest is not None else None,
            data_age_error=data_age.error if data_age else None)

    def _data_age_column(self, row: asyncpg.Record) -> str | None:
        named = self.policy.data_age_column_for(row["schema_name"], row["name"])
        if named is not None:
            return named
        columns = list(row["time_columns"])
        return columns[0] if len(columns) == 1 else None

    async def _read_data_ages(self, fetch: Fetch, rows: list[asyncpg.Record]) -> None:
        now = time.monotonic()
        due = []
        for row in rows:
            column = self._data_age_column(row)
            if column is None or not row["populated"] or row["locked_by"]:
                continue
            known = self._data_ages.get(row["oid"])
            wait = DATA_AGE_RETRY_AFTER_ERROR_S if known and known.error else DATA_AGE_EVERY_S
            if known is None or known.column != column or now - known.read_at >= wait:
                due.append((row, column))
        for row, column in due[:DATA_AGE_PER_ROUND]:
            query = (f"{MARKER} SELECT max({quote_ident(column)})::timestamptz AS newest "
                     f"FROM {quote_ident(row['schema_name'])}.{quote_ident(row['name'])}")
            try:
                result = await fetch(query)
                self._data_ages[row["oid"]] = DataAge(column, time.monotonic(), result[0]["newest"], None)
            except asyncpg.QueryCanceledError:
                self._data_ages[row["oid"]] = DataAge(
                    column, time.monotonic(), None,
                    f"max({column}) took longer than the statement timeout; name an indexed column in the "
                    "profile's data_age_columns, or none")
            except (asyncpg.UndefinedColumnError, asyncpg.InsufficientPrivilegeError,
                    asyncpg.LockNotAvailableError, asyncpg.DataError) as exc:
                self._data_ages[row["oid"]] = DataAge(column, time.monotonic(), None,
                                                      redact(" ".join(str(exc).split())))

