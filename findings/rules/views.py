"""Materialized views: never populated, stale against their threshold, not refreshable concurrently."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot
from ..engine import Thresholds, rule
from ..model import Evidence, Finding, Severity
from ..wording import duration
from ...engines.quoting import qualified

SOURCES = {"refresh_log": "dbtop's refresh log", "dbtop_action": "a refresh dbtop ran",
           "file_time": "the view's file write time (a lower bound)", "unknown": "unknown"}


@rule
def views_never_populated(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    for view in snapshot.views.views if snapshot.views else []:
        if view.populated:
            continue
        name = qualified(view.schema_name, view.name)
        yield Finding(
            id=f"views.never_populated:{view.qualified_name}", rule="views.never_populated", area="schema",
            severity=Severity.HIGH,
            title=f"Materialized view {view.qualified_name} has never been populated",
            evidence=[Evidence(subject=view.qualified_name, detail="pg_matviews.ispopulated = false")],
            impact="Every query on it fails with 'materialized view … has not been populated': whatever reads it "
                   "(a dashboard, a report) is broken.",
            fix="Refresh it (plain REFRESH: CONCURRENTLY is refused on an unpopulated view), and schedule its refresh.",
            statement=f"REFRESH MATERIALIZED VIEW {name};",
            addressed_by="action:refresh-view", action_params={"view": view.qualified_name})


@rule
def views_stale(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    for view in snapshot.views.views if snapshot.views else []:
        if not view.populated or view.stale is not True:
            continue
        name = qualified(view.schema_name, view.name)
        concurrently = " CONCURRENTLY" if view.unique_index else ""
        yield Finding(
            id=f"views.stale:{view.qualified_name}", rule="views.stale", area="schema",
            severity=Severity.HIGH if (view.age_s or 0) >= 4 * view.threshold_s else Severity.MEDIUM,
            title=f"Materialized view {view.qualified_name} last refreshed {duration(view.age_s)} ago "
                  f"(threshold {duration(view.threshold_s)})",
            evidence=[Evidence(subject=view.qualified_name,
                               detail=f"last refresh {view.last_refresh.at:%Y-%m-%d %H:%M:%S %Z} "
                                      f"known from {SOURCES[view.last_refresh.source]}")],
            impact="Whatever reads the view shows numbers that old, without saying so.",
            fix="Refresh it now, then check the job that should refresh it (cron, pg_cron, the application).",
            statement=f"REFRESH MATERIALIZED VIEW{concurrently} {name};",
            addressed_by="action:refresh-view", action_params={"view": view.qualified_name})


@rule
def views_without_unique_index(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    for view in snapshot.views.views if snapshot.views else []:
        if view.unique_index:
            continue
        name = qualified(view.schema_name, view.name)
        yield Finding(
            id=f"views.no_unique_index:{view.qualified_name}", rule="views.no_unique_index", area="schema",
            severity=Severity.MEDIUM,
            title=f"Materialized view {view.qualified_name} cannot be refreshed concurrently (no unique index)",
            evidence=[Evidence(subject=view.qualified_name,
                               detail="no unique index on plain columns without a WHERE clause")],
            impact="Every refresh takes an ACCESS EXCLUSIVE lock: readers of the view wait for the whole refresh.",
            fix="Create a unique index on the column(s) that identify a row of the view, then refresh with "
                "CONCURRENTLY.",
            statement=f"CREATE UNIQUE INDEX CONCURRENTLY ON {name} (<key columns>);",
            addressed_by="action:refresh-view", action_params={"view": view.qualified_name})
