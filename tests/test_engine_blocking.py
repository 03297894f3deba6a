"""The blocking graph from a real lock chain three deep."""

import asyncio

from .conftest import open_lock_chain, wait_until


async def test_three_deep_lock_chain_reads_as_a_tree(pg, collector, sessions):
    chain = await open_lock_chain(sessions, "accounts")
    holder, middle, tail = chain.holder, chain.middle, chain.tail
    other = await sessions(app="other")
    other_wait = asyncio.ensure_future(other.execute("UPDATE accounts SET v = 4 WHERE id = 1"))
    try:
        snap = await wait_until(lambda: _blocked(collector, 3), timeout=10)
        roots = snap.blocking.roots
        assert [r.pid for r in roots] == [holder.get_server_pid()]
        root = roots[0]
        assert root.blocks_total == 3
        # A second waiter for row 1 queues behind the first waiter's tuple lock, so PostgreSQL
        # reports it blocked by `middle`, not by the holder: holder -> middle -> {tail, other}.
        assert root.blocks_direct == 1
        assert root.longest_wait_s is not None and root.longest_wait_s >= 0
        [child] = root.tree.blocked
        assert child.pid == middle.get_server_pid()
        assert {n.pid for n in child.blocked} == {tail.get_server_pid(), other.get_server_pid()}
        waiting = child.waiting_for
        assert waiting is not None and not waiting.granted
        assert waiting.relation == "accounts"
        assert any(lock.relation == "accounts" and lock.mode == "RowExclusiveLock" for lock in root.holds)
        blocked = {s.pid: s.blocked_by for s in snap.sessions if s.blocked_by}
        assert blocked[tail.get_server_pid()] == [middle.get_server_pid()]
    finally:
        other.terminate()
        await chain.release()
        await asyncio.gather(other_wait, return_exceptions=True)


async def _blocked(collector, count):
    snap = await collector.snapshot()
    return snap if snap.blocking.blocked_count >= count else None


async def test_no_blocking_means_no_lock_query(collector):
    snap = await collector.snapshot()
    assert snap.blocking.roots == []
    assert "locks" not in snap.parts
