"""pg_stat_statements: per-interval deltas, and what the snapshot says when it is missing."""

import asyncio

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

from .conftest import record_fetches


async def test_statement_deltas_show_what_ran_in_the_interval(pg_target, sessions):
    conn = await sessions()
    await conn.execute("DROP TABLE IF EXISTS orders; CREATE TABLE orders (id int, total int);"
                       "INSERT INTO orders SELECT g, g FROM generate_series(1, 100) g")
    col = PostgresCollector(pg_target)
    await col.connect()
    try:
        first = await col.snapshot()
        assert first.statements.extension_version
        for i in range(40):
            await conn.fetch("SELECT * FROM orders WHERE id = $1 /* deltas probe */", i + 1)
        second = await col.snapshot()
        probe = [s for s in second.statements.entries if s.query and "deltas probe" in s.query]
        assert len(probe) == 1
        entry = probe[0]
        assert entry.calls >= 40
        assert entry.user == "postgres" and entry.database == "postgres"
        assert entry.mean_time_ms == entry.total_time_ms / entry.calls
        # new since the last reading: everything it did happened in this interval
        delta = second.statements.delta(entry)
        assert delta is not None and delta.calls == 40 and delta.rows == 40
        assert first.statements.interval_s is None and first.statements.deltas == {}
        for i in range(25):
            await conn.fetch("SELECT * FROM orders WHERE id = $1 /* deltas probe */", i + 1)
        await asyncio.sleep(0.1)
        third = await col.snapshot()
        [entry3] = [s for s in third.statements.entries if s.query_id == entry.query_id and s.toplevel]
        delta3 = third.statements.delta(entry3)
        assert delta3.calls == 25 and delta3.rows == 25
        assert delta3.calls_per_s > 0
        assert delta3.interval_s >= 0.1
        assert third.statements.interval_s >= 0.1
        assert entry3.calls == entry.calls + 25
        # a statement that did not run keeps its object and has no delta
        fourth = await col.snapshot()
        [entry4] = [s for s in fourth.statements.entries if s.key == entry3.key]
        assert entry4 is entry3
        assert fourth.statements.delta(entry4) is None
        # names read again (once a minute): objects are rebuilt, deltas stay right
        col._names = dict(col._names)
        fifth = await col.snapshot()
        [entry5] = [s for s in fifth.statements.entries if s.key == entry3.key]
        assert entry5 is not entry3 and entry5 == entry3
        assert fifth.statements.delta(entry5) is None
    finally:
        await col.close()


async def test_only_new_or_moved_statements_come_back_from_the_server(collector, sessions):
    """The collector sends the signatures of what it holds; the server returns only the entries that
    are new or moved (and the signatures it no longer has): one that ran shows its new counts and
    delta, one that did not is carried over as it was, and one reset on the server is gone."""
    conn = await sessions()
    await conn.execute("DROP TABLE IF EXISTS moved_probe; CREATE TABLE moved_probe (a int, b int)")
    returned = record_fetches(collector, "pg_stat_statements(false)")
    await conn.fetch("SELECT a FROM moved_probe WHERE a = $1 /* ran again */", 1)
    await conn.fetch("SELECT b FROM moved_probe WHERE b = $1 /* ran once */", 1)
    first = await collector.snapshot()
    [ran] = [s for s in first.statements.entries if s.query and "ran again" in s.query]
    [once] = [s for s in first.statements.entries if s.query and "ran once" in s.query]
    for i in range(3):
        await conn.fetch("SELECT a FROM moved_probe WHERE a = $1 /* ran again */", i)
    second = await collector.snapshot()
    by_key = {s.key: s for s in second.statements.entries}
    assert by_key[ran.key].calls == ran.calls + 3
    assert second.statements.delta(by_key[ran.key]).calls == 3
    assert by_key[once.key] is once and second.statements.delta(once) is None
    moved = {(r["query_id"], r["user_id"], r["database_id"]) for r in returned[-1] if r["gone"] is None}
    assert (ran.query_id, ran.user_id, ran.database_id) in moved
    assert (once.query_id, once.user_id, once.database_id) not in moved
    assert len(returned[-1]) < len(second.statements.entries) / 2  # not every entry again

    await conn.execute("SELECT pg_stat_statements_reset($1, $2, $3)", once.user_id, once.database_id, once.query_id)
    third = await collector.snapshot()
    keys = {s.key for s in third.statements.entries}
    assert once.key not in keys and ran.key in keys
    assert [r["gone"] for r in returned[-1] if r["gone"] is not None]  # told which one went
    # run again after its reset: back, counted from zero, all of it in this interval
    await conn.fetch("SELECT b FROM moved_probe WHERE b = $1 /* ran once */", 2)
    fourth = await collector.snapshot()
    [back] = [s for s in fourth.statements.entries if s.key == once.key]
    assert back.calls == 1 and fourth.statements.delta(back).calls == 1
    await conn.execute("DROP TABLE moved_probe")


async def test_a_full_text_cache_is_refilled_for_every_entry_held(collector, sessions, monkeypatch):
    """When the text cache would grow past its limit it is emptied and refilled with the texts of
    every entry held, the carried-over ones too (they are not sent again by the server)."""
    conn = await sessions()
    await conn.execute("DROP TABLE IF EXISTS text_limit_probe; CREATE TABLE text_limit_probe (a int)")
    await conn.fetch("SELECT a FROM text_limit_probe /* held before */")
    await collector.snapshot()
    reader = collector._statements
    monkeypatch.setattr("dbtop.engines.postgres.statements.TEXT_CACHE_LIMIT", len(reader._texts))
    await conn.fetch("SELECT a, a FROM text_limit_probe /* new after */")
    snap = await collector.snapshot()
    texts = [s.query for s in snap.statements.entries]
    assert any(t and "new after" in t for t in texts) and any(t and "held before" in t for t in texts)
    assert set(reader._texts) == {s.query_id for s in snap.statements.entries}  # refilled, for those held
    # a cache that lost texts (emptied, its refill failed) does not take them from the entries held,
    # even when the names read again rebuild every entry
    reader._texts.clear()
    collector._names = dict(collector._names)
    again = await collector.snapshot()
    assert any(s.query and "held before" in s.query for s in again.statements.entries)
    await conn.execute("DROP TABLE text_limit_probe")


async def test_texts_are_fetched_once_per_new_statement(collector, sessions):
    conn = await sessions()
    # pg_stat_statements ignores constants and column aliases: only a new shape is a new statement
    await conn.execute("DROP TABLE IF EXISTS text_cache_probe; CREATE TABLE text_cache_probe (a int, b int)")
    await collector.snapshot()
    await collector.snapshot()
    settled = await collector.snapshot()
    queries_when_nothing_new = settled.cost.queries
    await conn.fetch("SELECT b, a FROM text_cache_probe WHERE b > a")
    fresh = await collector.snapshot()
    assert fresh.cost.queries == queries_when_nothing_new + 1  # the text fetch
    again = await collector.snapshot()
    assert again.cost.queries == queries_when_nothing_new


async def test_extension_not_created_says_so_and_how_to_fix(pg, sessions):
    pg.psql("DROP DATABASE IF EXISTS no_pgss; CREATE DATABASE no_pgss")
    col = PostgresCollector(resolve_target(pg.dsn(database="no_pgss")))
    await col.connect()
    try:
        snap = await col.snapshot()
        part = snap.parts["statements"]
        assert not part.available
        assert "not created in database no_pgss" in part.reason
        assert "CREATE EXTENSION pg_stat_statements" in part.fix
        assert snap.sessions  # the rest of the snapshot still arrives
        assert snap.postgres.activity is not None
    finally:
        await col.close()


async def test_library_not_preloaded_says_so_and_how_to_fix(start_cluster):
    bare = start_cluster(preload_statements=False)
    col = PostgresCollector(resolve_target(bare.dsn()))
    await col.connect()
    try:
        snap = await col.snapshot()
        part = snap.parts["statements"]
        assert not part.available
        assert part.reason == "pg_stat_statements is not in shared_preload_libraries"
        assert "shared_preload_libraries" in part.fix and "restart" in part.fix
        # created but not preloaded: the call itself fails, and the snapshot says why
        bare.psql("CREATE EXTENSION pg_stat_statements")
        col._facts_at = -1e18  # re-read the slow facts now rather than in a minute
        snap = await col.snapshot()
        part = snap.parts["statements"]
        assert not part.available
        assert "library is not loaded" in part.reason
        assert snap.sessions is not None and snap.server is not None
    finally:
        await col.close()


async def test_statements_read_at_a_low_rate_while_no_panel_shows_them(pg_target, sessions):
    """collector.focus(panels): while the app says the Slow queries panel is not on screen,
    pg_stat_statements is read every STATEMENTS_UNSEEN_EVERY_S (the last reading carried on);
    shown again, it is due at once and read on the next poll."""
    conn = await sessions()
    col = PostgresCollector(pg_target)
    await col.connect()
    try:
        first = await col.snapshot()  # not told yet: read as always
        assert col.focus(frozenset({"connections"})) is False
        # a temporary table: a statement no other test ran (the text kept is the first one seen)
        await conn.execute("CREATE TEMP TABLE focus_probe (x int)")
        await conn.fetch("SELECT x FROM focus_probe /* focus probe */")
        hidden = await col.snapshot()
        assert hidden.statements is first.statements  # not read again: the last reading carried on
        assert hidden.part("statements").available
        assert col.focus(frozenset({"statements"})) is True  # due now: the poller polls at once
        shown = await col.snapshot()
        assert shown.statements is not first.statements
        assert any(s.query and "focus probe" in s.query for s in shown.statements.entries)
        assert col.focus(frozenset({"statements"})) is False
        again = await col.snapshot()
        assert again.statements is not shown.statements  # read on every poll while shown
    finally:
        await col.close()


async def test_the_timeouts_dbtop_sets_count_as_its_own_statements(pg_target):
    """dbtop's SET statement_timeout / SET lock_timeout were counted as the users' statements."""
    # Timeouts no other test uses, so only this collector's SETs are looked at.
    col = PostgresCollector(pg_target, statement_timeout_ms=2345, lock_timeout_ms=567)
    await col.connect()
    try:
        await col.snapshot()
        await col.close()
        await col.connect()  # the timeouts are set again on the new connection
        snap = await col.snapshot()
        sets = [s for s in snap.statements.entries
                if s.query and ("statement_timeout = 2345" in s.query or "lock_timeout = 567" in s.query)]
        assert sets and all(s.from_dbtop for s in sets), [(s.query, s.from_dbtop) for s in sets]
    finally:
        await col.close()
