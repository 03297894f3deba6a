"""The blocking graph: from each blocked session's blockers to trees rooted at the root blockers."""

from __future__ import annotations

from collections.abc import Iterable

from .snapshot import Blocking, BlockingNode, Lock, RootBlocker, Session, as_of


def waiting_lock(pid: int, locks_by_pid: dict[int, list[Lock]]) -> Lock | None:
    """The lock `pid` waits for. A row-lock wait is on a transaction id, which names no relation;
    the tuple lock the waiter already holds names the table, so the relation is taken from it."""
    locks = locks_by_pid.get(pid, [])
    waiting = next((lock for lock in locks if not lock.granted), None)
    if waiting is None or waiting.relation is not None:
        return waiting
    tuple_lock = next((lock for lock in locks if lock.granted and lock.locktype == "tuple"), None)
    if tuple_lock is not None:
        return waiting.model_copy(update={"relation": tuple_lock.relation})
    return waiting


def build_blocking(sessions: Iterable[Session], locks: list[Lock], clock_s: float | None = None) -> Blocking:
    """Trees of who blocks whom, with waits as of the server's clock `clock_s` (the snapshot's). A
    session blocked by several others appears under each of them; counts use distinct sessions, so a
    diamond is not counted twice."""
    sessions = list(sessions)
    blocked_by = {s.pid: s.blocked_by for s in sessions if s.blocked_by}
    if not blocked_by:
        return Blocking()
    query_s = {s.pid: as_of(s.read_query_s, s.read_at_s, clock_s) for s in sessions}
    locks_by_pid: dict[int, list[Lock]] = {}
    for lock in locks:
        locks_by_pid.setdefault(lock.pid, []).append(lock)

    waiters: dict[int, list[int]] = {}
    for pid, blockers in blocked_by.items():
        for blocker in blockers:
            waiters.setdefault(blocker, []).append(pid)
    for children in waiters.values():
        children.sort()

    def wait_s(pid: int) -> float | None:
        lock = waiting_lock(pid, locks_by_pid)
        if lock is not None and lock.wait_s is not None:
            return lock.wait_s
        return query_s.get(pid)

    def node(pid: int, path: frozenset[int]) -> BlockingNode:
        children = [node(child, path | {child}) for child in waiters.get(pid, []) if child not in path]
        return BlockingNode(pid=pid, wait_s=wait_s(pid) if pid in blocked_by else None,
                            waiting_for=waiting_lock(pid, locks_by_pid), blocked=children)

    def descendants(pid: int) -> set[int]:
        seen: set[int] = set()
        stack = list(waiters.get(pid, []))
        while stack:
            current = stack.pop()
            if current not in seen and current != pid:
                seen.add(current)
                stack.extend(waiters.get(current, []))
        return seen

    root_pids = [pid for pid in waiters if pid not in blocked_by]
    if not root_pids:
        # Every blocker is itself blocked: a deadlock the server has not broken yet. Show each cycle
        # from its lowest pid rather than nothing.
        root_pids = [min(waiters)]
    roots = []
    for pid in root_pids:
        behind = descendants(pid)
        waits = [w for w in (wait_s(p) for p in behind) if w is not None]
        roots.append(RootBlocker(
            pid=pid,
            blocks_direct=len(waiters.get(pid, [])),
            blocks_total=len(behind),
            longest_wait_s=max(waits) if waits else None,
            holds=[lock for lock in locks_by_pid.get(pid, []) if lock.granted and lock.locktype != "tuple"],
            tree=node(pid, frozenset({pid})),
        ))
    roots.sort(key=lambda r: (-r.blocks_total, -(r.longest_wait_s or 0), r.pid))
    return Blocking(roots=roots, blocked_count=len(blocked_by), locks=locks)
