"""Performance and observability from pg_stat_statements and the server's counters."""

from __future__ import annotations

import re
from collections.abc import Iterator
from operator import attrgetter

from ...engines.snapshot import Snapshot, Statement
from ..engine import STATEMENTS_ONLY, Thresholds, rule, statements_where
from ..model import Evidence, Finding, Severity
from ..wording import clean

SLOW_LIMIT = 10
TOTAL_TIME = attrgetter("total_time_ms")
# A statement fetching one row by a parameter: the shape an ORM's lazy loading repeats per parent row.
ONE_ROW_LOOKUP = re.compile(r"^\s*select\b.*\bwhere\b.*=\s*\$\d+", re.IGNORECASE | re.DOTALL)


def _run_by_application(s: Statement) -> bool:
    """A statement the application ran itself (not dbtop's, not nested in a function)."""
    return not s.from_dbtop and s.toplevel


def _slow(s: Statement, mean_ms: float, min_calls: float) -> bool:
    return _run_by_application(s) and s.mean_time_ms >= mean_ms and s.calls >= min_calls


def _one_row_lookup_repeated(s: Statement, min_calls: float) -> bool:
    """At least `min_calls` calls of a one-row lookup by a parameter, returning at most a row a call."""
    return (_run_by_application(s) and s.rows is not None and s.calls >= min_calls and s.rows <= s.calls
            and bool(s.query) and ONE_ROW_LOOKUP.search(s.query) is not None)


@rule
def statements_extension_missing(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    part = snapshot.part("statements")
    if part.available or snapshot.statements.extension_version is not None or not part.reason:
        return
    if "pg_stat_statements" not in part.reason:
        return  # failed for another reason (timeout, privilege): not a finding about the server
    yield Finding(
        id="performance.pg_stat_statements_missing", rule="performance.pg_stat_statements_missing",
        area="monitoring", severity=Severity.MEDIUM,
        title="pg_stat_statements is not available: no per-statement performance history",
        evidence=[Evidence(subject="pg_stat_statements", detail=part.reason)],
        impact="Without it nobody can tell which statements use the server's time; slow-query triage is guesswork.",
        fix=part.fix or "add pg_stat_statements to shared_preload_libraries, restart, CREATE EXTENSION pg_stat_statements",
        statement="ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';  -- then restart\n"
                  "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")


def rows_text(rows: int | None) -> str:
    return f"{rows:,} rows" if rows is not None else "rows not counted"


@rule(reads=STATEMENTS_ONLY)
def slow_statements(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    mean_ms = t.get("performance.slow_mean_ms", 20)
    min_calls = t.get("performance.slow_min_calls", 100)
    slow = sorted(statements_where(snapshot.statements, _slow, mean_ms, min_calls), key=lambda s: -s.total_time_ms)
    if not slow:
        return
    total = sum(map(TOTAL_TIME, snapshot.statements.entries)) or 1.0
    for s in slow[:SLOW_LIMIT]:
        share = 100 * s.total_time_ms / total
        yield Finding(
            id=f"performance.slow_statement:{s.query_id}", rule="performance.slow_statement", area="performance",
            severity=Severity.HIGH if share >= 20 or s.mean_time_ms >= 20 * mean_ms else Severity.MEDIUM,
            title=f"Statement averaging {s.mean_time_ms:.0f} ms over {s.calls:,} calls ({share:.0f}% of all time)",
            evidence=[Evidence(subject=f"queryid {s.query_id}",
                               detail=f"{s.user or '?'}@{s.database or '?'}: mean {s.mean_time_ms:.1f} ms, "
                                      f"{s.calls:,} calls, {rows_text(s.rows)}; {clean(s.query, 300)}")],
            impact="Slow statements called often hold connections longer and add up to most of the server's load.",
            fix="EXPLAIN (ANALYZE, BUFFERS) the statement with typical parameters; add the index it needs or "
                "rewrite it; check it is not an N+1 loop.",
            statement=f"EXPLAIN (ANALYZE, BUFFERS) {clean(s.query, 2000)}" if s.query else None)


@rule(reads=STATEMENTS_ONLY)
def n_plus_one(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    min_calls = t.get("performance.n_plus_one_min_calls", 10000)
    for s in statements_where(snapshot.statements, _one_row_lookup_repeated, min_calls):
        yield Finding(
            id=f"performance.n_plus_one:{s.query_id}", rule="performance.n_plus_one", area="performance",
            severity=Severity.MEDIUM,
            title=f"Likely N+1: one-row lookup run {s.calls:,} times ({s.rows / s.calls:.2f} rows per call)",
            evidence=[Evidence(subject=f"queryid {s.query_id}",
                               detail=f"{s.calls:,} calls, {s.rows:,} rows, mean {s.mean_time_ms:.2f} ms; "
                                      f"{clean(s.query, 300)}")],
            impact="Each call is a round trip: a page that lists a hundred items makes a hundred queries, and "
                   "latency grows with the data.",
            fix="Load the related rows in one query (a JOIN, `WHERE id = ANY($1)`, or the ORM's eager loading: "
                "selectinload/joinedload, prefetch_related/select_related).")


@rule
def cache_hit_ratio(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    activity = snapshot.postgres.activity if snapshot.postgres else None
    if activity is None:
        return
    ratio = activity.hit_ratio_since_reset
    if ratio is None or activity.blks_hit + activity.blks_read < t.get("performance.cache_min_blocks", 100000):
        return  # too little traffic to judge
    limit = t.get("performance.cache_hit_ratio", 0.99)
    if ratio >= limit:
        return
    yield Finding(
        id="performance.cache_hit_ratio", rule="performance.cache_hit_ratio", area="performance",
        severity=Severity.HIGH if ratio < limit - 0.09 else Severity.MEDIUM,
        title=f"Cache hit ratio {100 * ratio:.2f}% (below {100 * limit:.0f}%)",
        evidence=[Evidence(subject="pg_stat_database", detail=f"{activity.blks_hit:,} blocks from shared buffers, "
                                                               f"{activity.blks_read:,} read from disk or OS cache")],
        impact="Reads that miss shared buffers go to the OS cache or disk: queries are slower and IO-bound.",
        fix="Check shared_buffers (often 25% of RAM) and the working set; find the statements with the most "
            "shared_blks_read in the Slow queries panel.")


@rule
def slow_query_log_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = snapshot.server.settings if snapshot.server else {}
    if settings.get("log_min_duration_statement") != "-1":
        return
    yield Finding(
        id="monitoring.slow_query_log_off", rule="monitoring.slow_query_log_off", area="monitoring",
        severity=Severity.LOW,
        title="Slow statements are not logged (log_min_duration_statement = -1)",
        evidence=[Evidence(subject="log_min_duration_statement", detail="-1 (disabled)")],
        impact="After an incident the server log cannot say which statements were slow, with their parameters.",
        fix="Log statements slower than a threshold the application should never reach.",
        statement="ALTER SYSTEM SET log_min_duration_statement = '1s';\nSELECT pg_reload_conf();")
