"""Connections and sessions: saturation, idle transactions, long queries and transactions, blockers."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import RootBlocker, Session, Snapshot
from ..engine import Thresholds, clients, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean, duration

EVIDENCE_LIMIT = 10


def _session_evidence(session: Session, figure: str) -> Evidence:
    who = f"{session.user or '?'}@{session.database or '?'}"
    app = f" ({clean(session.application, 40)})" if session.application else ""
    return Evidence(subject=f"pid {session.pid}", detail=f"{who}{app}: {figure}; {clean(session.query, 120)}")


def waiting_on_lock(session: Session) -> bool:
    """Waiting for a lock another session holds: its time is the blocker's doing, not its own work."""
    return session.wait_event_type == "Lock" or bool(session.blocked_by)


def _behind(root: RootBlocker) -> set[int]:
    """The pids waiting behind a root blocker, directly or further down its tree."""
    pids: set[int] = set()
    stack = [root.tree]
    while stack:
        node = stack.pop()
        for child in node.blocked:
            if child.pid not in pids:
                pids.add(child.pid)
                stack.append(child)
    return pids


@rule
def connection_saturation(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    server = snapshot.server
    if server is None or not server.max_connections or snapshot.connections_used is None:
        return
    used, limit = snapshot.connections_used, server.max_connections
    share = 100.0 * used / limit
    high, critical = t.get("connections.high_pct", 80), t.get("connections.critical_pct", 90)
    if share < high:
        return
    yield Finding(
        id="connections.saturation", rule="connections.saturation", area="capacity",
        severity=Severity.CRITICAL if share >= critical else Severity.HIGH,
        title=f"Connections at {share:.0f}% of max_connections ({used} of {limit})",
        evidence=[Evidence(subject="client connections", detail=f"{used} used of max_connections {limit}, "
                                                                 f"{server.reserved_connections} reserved for superusers")],
        impact="New connections are refused once the limit is reached: the application fails, and an operator "
               "who is not a superuser cannot log in to fix it.",
        fix="Find what holds the connections (Connections panel, group by application); end idle ones; put a "
            "connection pooler (PgBouncer) in front, or lower the applications' pool sizes.",
        addressed_by="runbook:connection-saturation")


@rule
def idle_in_transaction(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    limit = t.get("connections.idle_in_transaction_s", 60)
    state_s = snapshot.state_s
    idle = [s for s in clients(snapshot).not_idle
            if (s.state or "").startswith("idle in transaction") and (state_s(s) or 0) >= limit]
    if not idle:
        return
    idle.sort(key=lambda s: -(state_s(s) or 0))
    longest = state_s(idle[0]) or 0
    yield Finding(
        id="connections.idle_in_transaction", rule="connections.idle_in_transaction", area="performance",
        severity=Severity.HIGH if longest >= 10 * limit else Severity.MEDIUM,
        title=f"{len(idle)} session(s) idle in transaction for over {duration(limit)} (longest {duration(longest)})",
        evidence=[_session_evidence(s, f"idle in transaction for {duration(state_s(s))}") for s in idle[:EVIDENCE_LIMIT]],
        impact="An open transaction holds its locks and keeps VACUUM from removing dead rows everywhere, "
               "while doing nothing: tables bloat and other sessions queue behind its locks.",
        fix="Terminate the sessions if their application is gone; fix the application to commit or roll back; set "
            "idle_in_transaction_session_timeout.",
        statement="\n".join(f"SELECT pg_terminate_backend({s.pid});" for s in idle[:EVIDENCE_LIMIT]),
        addressed_by="action:terminate-session", action_params={"pids": tuple(s.pid for s in idle[:EVIDENCE_LIMIT])})


@rule
def long_running_queries(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    limit = t.get("connections.long_query_s", 60)
    # A session waiting on a lock is not a query to cancel: it is counted under its root blocker.
    query_s = snapshot.query_s
    running = [s for s in clients(snapshot).not_idle
               if s.state == "active" and (query_s(s) or 0) >= limit and not waiting_on_lock(s)]
    if not running:
        return
    running.sort(key=lambda s: -(query_s(s) or 0))
    longest = query_s(running[0]) or 0
    yield Finding(
        id="connections.long_query", rule="connections.long_query", area="performance",
        severity=Severity.HIGH if longest >= 10 * limit else Severity.MEDIUM,
        title=f"{len(running)} {'query' if len(running) == 1 else 'queries'} running for over {duration(limit)} "
              f"(longest {duration(longest)})",
        evidence=[_session_evidence(s, f"running for {duration(query_s(s))}") for s in running[:EVIDENCE_LIMIT]],
        impact="Long queries hold locks and snapshots, use a connection and CPU/IO for their whole run, "
               "and are often a missing index or a runaway report.",
        fix="Cancel the query if it is not expected (pg_cancel_backend), then EXPLAIN it; set a statement_timeout "
            "for the application's role.",
        statement="\n".join(f"SELECT pg_cancel_backend({s.pid});" for s in running[:EVIDENCE_LIMIT]),
        addressed_by="action:cancel-query", action_params={"pids": tuple(s.pid for s in running[:EVIDENCE_LIMIT])})


@rule
def long_transactions(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    limit = t.get("connections.long_transaction_s", 600)
    # only a session with a transaction open (xact_s) can be over a positive limit
    sessions = clients(snapshot).in_transaction if limit > 0 else clients(snapshot).all
    xact_s = snapshot.xact_s
    open_long = [s for s in sessions if (xact_s(s) or 0) >= limit]
    if not open_long:
        return
    open_long.sort(key=lambda s: -(xact_s(s) or 0))
    yield Finding(
        id="connections.long_transaction", rule="connections.long_transaction", area="performance",
        severity=Severity.HIGH,
        title=f"{len(open_long)} transaction(s) open for over {duration(limit)} "
              f"(longest {duration(xact_s(open_long[0]))})",
        evidence=[_session_evidence(s, f"transaction open {duration(xact_s(s))}, {s.state or '?'}")
                  for s in open_long[:EVIDENCE_LIMIT]],
        impact="VACUUM cannot remove rows deleted or updated after the oldest open transaction began: every "
               "table bloats for as long as it stays open, and its locks stay held.",
        fix="Find out what the transaction is doing; end it if it is stuck; keep batch jobs' transactions short.",
        statement="\n".join(f"SELECT pg_terminate_backend({s.pid});" for s in open_long[:EVIDENCE_LIMIT]),
        addressed_by="action:terminate-session",
        action_params={"pids": tuple(s.pid for s in open_long[:EVIDENCE_LIMIT])})


@rule
def root_blockers(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    limit = t.get("connections.blocking_s", 30)
    long_query = t.get("connections.long_query_s", 60)
    roots = snapshot.blocking.roots
    if not roots:
        return
    sessions = clients(snapshot).by_pid
    query_s = snapshot.query_s
    for root in roots:
        # the queries behind it that the long-query rule leaves to this one
        long_waiters = sorted((sessions[pid] for pid in _behind(root)
                               if pid in sessions and (query_s(sessions[pid]) or 0) >= long_query),
                              key=lambda s: -(query_s(s) or 0))
        if (root.longest_wait_s or 0) < limit and not long_waiters:
            continue
        holder = sessions.get(root.pid)
        detail = f"blocks {root.blocks_total} session(s), longest waiting {duration(root.longest_wait_s)}"
        evidence = [_session_evidence(holder, detail) if holder else Evidence(subject=f"pid {root.pid}", detail=detail)]
        evidence += [_session_evidence(s, f"waiting behind pid {root.pid}, in its query for {duration(query_s(s))}")
                     for s in long_waiters[:5]]
        evidence += [Evidence(subject=f"lock {lock.mode}", detail=f"{lock.locktype} {lock.relation or ''}".strip())
                     for lock in root.holds[:5]]
        yield Finding(
            id=f"connections.root_blocker:{root.pid}", rule="connections.root_blocker", area="performance",
            severity=Severity.CRITICAL if root.blocks_total >= 5 or (root.longest_wait_s or 0) >= 300 else Severity.HIGH,
            title=f"Session {root.pid} has blocked {root.blocks_total} session(s) for {duration(root.longest_wait_s)}",
            evidence=evidence,
            impact="Every session behind it waits; connections pile up until the pool or max_connections is exhausted.",
            fix="Look at what the blocker is doing (Locks panel); if it is idle in transaction or runaway, cancel or "
                "terminate it — it is the root, the others resume once it is gone.",
            statement=f"SELECT pg_terminate_backend({root.pid});",
            addressed_by="runbook:lock-pileup")


@rule
def no_idle_transaction_timeout(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = snapshot.server.settings if snapshot.server else {}
    if settings.get("idle_in_transaction_session_timeout") != "0":
        return
    yield Finding(
        id="connections.no_idle_transaction_timeout", rule="connections.no_idle_transaction_timeout",
        area="performance", severity=Severity.LOW,
        title="idle_in_transaction_session_timeout is off",
        evidence=[Evidence(subject="idle_in_transaction_session_timeout", detail="0 (disabled)")],
        impact="A client that opens a transaction and goes away keeps its locks and holds back VACUUM until "
               "someone notices.",
        fix="Set a server-wide or per-role limit well above the longest legitimate pause.",
        statement="ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min';\nSELECT pg_reload_conf();")
