"""The workload as a whole: one statement taking a third of the server's time, statements spilling
to temporary files, a high share of rolled-back transactions, deadlocks."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot, Statement
from ..engine import STATEMENTS_ONLY, Thresholds, catalog_sections, rule, statements_where, total_time_ms
from ..model import Evidence, Finding, Severity
from ..wording import clean, duration, size

BLOCK = 8192


def _not_dbtops_own(s: Statement) -> bool:
    return not s.from_dbtop


@rule(reads=STATEMENTS_ONLY)
def dominant_statement(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    application = statements_where(snapshot.statements, _not_dbtops_own)
    total = total_time_ms(application)
    if total < t.get("performance.dominant_min_total_ms", 600_000):
        return  # too little work to judge
    share = t.get("performance.dominant_share", 0.33)
    for s in application:
        if s.total_time_ms < share * total:
            continue
        yield Finding(
            id=f"performance.dominant_statement:{s.query_id}", rule="performance.dominant_statement",
            area="performance", severity=Severity.MEDIUM,
            title=f"One statement takes {100 * s.total_time_ms / total:.0f}% of all execution time",
            evidence=[Evidence(subject=f"queryid {s.query_id}",
                               detail=f"{duration(s.total_time_ms / 1000)} of {duration(total / 1000)}; {s.calls:,} "
                                      f"calls, mean {s.mean_time_ms:.1f} ms; {clean(s.query, 300)}")],
            impact="The server's capacity is mostly this statement's: making it faster (or calling it less) is "
                   "the largest single gain, and a regression in it is an outage.",
            fix="EXPLAIN (ANALYZE, BUFFERS) it with typical parameters; index it, cache its result, or call it less "
                "often (is it polled? run per row?).",
            statement=f"EXPLAIN (ANALYZE, BUFFERS) {clean(s.query, 2000)}" if s.query else None)


@rule(reads=("catalog", "statements"))
def temp_spills(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "statement_spills")
    spills = (catalog.statement_spills or []) if catalog else []
    min_bytes = t.get("performance.spill_min_bytes", 1024 ** 3)
    heavy = [s for s in spills if s.temp_blks_written * BLOCK >= min_bytes]
    if not heavy:
        return
    texts = {s.query_id: s.query for s in snapshot.statements.entries}
    work_mem = catalog.settings.get("work_mem")
    current = work_mem.bytes if work_mem is not None else None
    yield Finding(
        id="performance.temp_spills", rule="performance.temp_spills", area="performance", severity=Severity.MEDIUM,
        title=f"{len(heavy)} statement(s) wrote over {size(min_bytes)} each to temporary files"
              + (f" (work_mem {size(current)})" if current else ""),
        evidence=[Evidence(subject=f"queryid {s.query_id}",
                           detail=f"{size(s.temp_blks_written * BLOCK)} written over {s.calls:,} calls, "
                                  f"{size(s.temp_blks_written * BLOCK / max(s.calls, 1))} per call: work_mem would "
                                  f"need about that for one sort or hash; {clean(texts.get(s.query_id), 200)}")
                  for s in heavy[:10]],
        impact="A sort or hash larger than work_mem spills to disk and runs many times slower; temp files also "
               "compete with the WAL and data for IO.",
        fix="First make the statement need less (an index that returns rows in order, fewer rows before the sort); "
            "then raise work_mem for that role or transaction only, not server-wide.",
        statement="SET LOCAL work_mem = '<per-call figure above, rounded up>';  -- in the transaction that runs it")


@rule
def rollback_ratio(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    activity = snapshot.postgres.activity if snapshot.postgres else None
    if activity is None:
        return
    total = activity.xact_commit + activity.xact_rollback
    if total < t.get("performance.rollback_min_transactions", 10_000):
        return
    share = activity.xact_rollback / total
    if share < t.get("performance.rollback_share", 0.1):
        return
    now = ""
    if activity.commits_per_s is not None and activity.rollbacks_per_s is not None:
        now = f"; last interval {activity.rollbacks_per_s:.1f} rollbacks/s against {activity.commits_per_s:.1f} commits/s"
    yield Finding(
        id="performance.rollback_ratio", rule="performance.rollback_ratio", area="performance",
        severity=Severity.HIGH if share >= 0.5 else Severity.MEDIUM,
        title=f"{100 * share:.0f}% of transactions roll back",
        evidence=[Evidence(subject="pg_stat_database", detail=f"{activity.xact_rollback:,} rollbacks, "
                                                               f"{activity.xact_commit:,} commits since reset{now}")],
        impact="Each rollback is work thrown away and often an error the application swallows (constraint "
               "violations, serialization failures, timeouts); it also leaves dead rows for vacuum.",
        fix="Find the failing statements in the server log (log_min_error_statement = error) and the "
            "application's error handling; a driver or pool that rolls back every read (autocommit off) shows "
            "as this too.")


@rule
def deadlocks(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    activity = snapshot.postgres.activity if snapshot.postgres else None
    catalog = catalog_sections(snapshot, "tables")
    if activity is None or activity.deadlocks == 0:
        return
    reset = catalog.stats_reset if catalog else None
    days = max((snapshot.taken_at - reset).total_seconds() / 86400, 1.0) if reset else None
    per_day = activity.deadlocks / days if days else float(activity.deadlocks)
    # The rate since the reset decides: deadlocks are rare, and one in a 2 s interval would make the
    # finding blink on and off; the interval's count says whether they are happening now.
    if per_day < t.get("performance.deadlocks_per_day", 1):
        return
    now = activity.deadlocks_in_interval
    since = f"since {reset:%Y-%m-%d}" if reset else "since statistics began"
    last = f"; {now:,} in the last {duration(activity.interval_s)}" if now and activity.interval_s else ""
    yield Finding(
        id="performance.deadlocks", rule="performance.deadlocks", area="performance",
        severity=Severity.HIGH if per_day >= 100 else Severity.MEDIUM,
        title=f"{activity.deadlocks:,} deadlocks {since} (about {per_day:,.0f} a day){last}",
        evidence=[Evidence(subject="pg_stat_database", detail=f"deadlocks = {activity.deadlocks:,} {since}{last}"),
                  *_deadlock_statements(snapshot)],
        impact="Each deadlock aborts one of the transactions after deadlock_timeout: an error the application "
               "must retry, and seconds of blocked sessions before it.",
        fix="The server log has each deadlock with the statements involved (log_lock_waits = on adds the waits "
            "leading to them): make the transactions lock rows in the same order (ORDER BY the key in "
            "SELECT … FOR UPDATE, sorted batch updates).",
        statement="ALTER SYSTEM SET log_lock_waits = on;\nSELECT pg_reload_conf();")


DEADLOCK_EVIDENCE_LINES = 12


def _deadlock_statements(snapshot: Snapshot) -> list[Evidence]:
    """The statements of the newest deadlocks in the server log's tail, one line each; or why none is shown."""
    catalog = snapshot.postgres.catalog if snapshot.postgres else None
    if catalog is None:
        return [Evidence(subject="server log", detail="the statements involved are not shown yet: the server log is "
                                                      "read with the catalog, not read yet")]
    log = catalog.deadlock_log
    if log is None:
        why = catalog.gaps.get("deadlock_log", "the server log was not read")
        return [Evidence(subject="server log", detail=f"the statements involved are not shown: {clean(why)}")]
    if not log.reports:
        return [Evidence(subject="server log",
                         detail=f"no deadlock report in the last {size(log.bytes_read)} of {clean(log.file, 120)}: "
                                "the statements involved are in older log files")]
    lines = []
    for report in reversed(log.reports):  # the newest first
        when = f"deadlock at {clean(report.logged_at, 40)}" if report.logged_at else "deadlock"
        for process in report.processes:
            aborted = " (aborted)" if report.statement and process.statement == report.statement else ""
            lines.append(Evidence(subject=f"{when}, process {process.pid}{aborted}",
                                  detail=clean(process.statement, 200) or "(statement not in the log)"))
        if not report.processes and report.statement:
            lines.append(Evidence(subject=f"{when} (aborted)", detail=clean(report.statement, 200)))
    return lines[:DEADLOCK_EVIDENCE_LINES]
