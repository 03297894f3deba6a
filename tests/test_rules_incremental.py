"""The rules over the statements and the sessions do work in proportion to what changed, not to the
thousands of entries a snapshot holds, and find exactly what a fresh evaluation finds: the same
findings in the same order for every snapshot of a sequence whose statements and sessions change.

Between two readings of pg_stat_statements the collector carries the entries that did not move over
as the same objects; `statements_where` asks its test only of the entries that are not the object
seen at their place last time. Sessions are rebuilt every poll: nothing of them is kept."""

from __future__ import annotations

import asyncio

import pytest

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.findings import engine
from dbtop.findings.engine import RuleCache, Thresholds, client_sessions, evaluate, statements_where

from . import fakes as f


@pytest.fixture(autouse=True)
def fresh_answers():
    engine.forget_kept_answers()
    yield
    engine.forget_kept_answers()


def evaluated_in_sequence(snapshots, thresholds=None) -> list:
    """The findings of each snapshot evaluated one after the other as the app does (a RuleCache, and
    what the rules keep from the snapshot before), checked against a fresh evaluation of each
    (nothing kept): the same findings in the same order."""
    fresh = []
    for snapshot in snapshots:
        engine.forget_kept_answers()
        fresh.append(evaluate(snapshot, thresholds))
    engine.forget_kept_answers()
    cache = RuleCache()
    found = [evaluate(snapshot, thresholds, cache) for snapshot in snapshots]
    for number, (kept, reference) in enumerate(zip(found, fresh), start=1):
        assert kept == reference, f"snapshot {number} of the sequence"
    return found


def ids(result) -> list[str]:
    return [finding.id for finding in result[0]]


def counting(asked: list):
    def calls_at_least(statement, least):
        asked.append(statement.query_id)
        return statement.calls >= least
    return calls_at_least


def test_a_statement_test_is_asked_only_of_entries_not_seen_at_their_place():
    asked: list[int] = []
    test = counting(asked)
    entries = [f.statement(i, calls=100 * i) for i in range(1, 7)]
    first = f.statements(*entries)
    assert [s.query_id for s in statements_where(first, test, 300)] == [3, 4, 5, 6]
    assert sorted(asked) == [1, 2, 3, 4, 5, 6]

    # the next reading: the same objects but for entry 2, which ran (now 900 calls), and a new one last
    asked.clear()
    ran = entries[1].model_copy(update={"calls": 900})
    added = f.statement(7, calls=50)
    second = f.statements(entries[0], ran, *entries[2:], added)
    assert [s.query_id for s in statements_where(second, test, 300)] == [2, 3, 4, 5, 6]
    assert asked == [2, 7]
    # another test, or the same with other arguments, is answered on its own
    assert [s.query_id for s in statements_where(second, test, 600)] == [2, 6]
    assert statements_where(second, test, 300) is statements_where(second, test, 300)

    # an entry dropped (evicted, reset) shifts the places: every entry is asked again
    asked.clear()
    third = f.statements(entries[0], ran, *entries[3:], added)
    assert [s.query_id for s in statements_where(third, test, 300)] == [2, 4, 5, 6]
    assert sorted(asked) == [1, 2, 4, 5, 6, 7]
    assert [s.query_id for s in statements_where(third, test, 600)] == [2, 6]


def test_a_test_that_raises_fails_the_rule_that_asks_it_not_another():
    def raises_on_seven(statement):
        if statement.query_id == 7:
            raise ValueError("no seven")
        return True

    def any_statement(statement):
        return True

    entries = [f.statement(i) for i in range(1, 4)]
    statements_where(f.statements(*entries), raises_on_seven)
    later = f.statements(*entries, f.statement(7))
    assert len(statements_where(later, any_statement)) == 4  # moving raises_on_seven's answers on raised
    with pytest.raises(ValueError):
        statements_where(later, raises_on_seven)


def not_dbtops_own(statement):
    return not statement.from_dbtop


def test_kept_entries_are_handed_on_as_the_same_tuple_while_none_of_them_moved():
    """A rule summing the kept entries (dominant_statement) sums again only when they change."""
    own = [f.statement(100 + i, "/* dbtop */ SELECT 1", from_dbtop=True) for i in range(3)]
    app = [f.statement(i, calls=10 * i) for i in range(1, 4)]
    first = f.statements(*app, *own)
    kept = statements_where(first, not_dbtops_own)
    # dbtop's own statements moved, the application's did not
    second = f.statements(*app, *[s.model_copy(update={"calls": s.calls + 1}) for s in own])
    assert statements_where(second, not_dbtops_own) is kept
    third = f.statements(app[0], app[1].model_copy(update={"calls": 5}), app[2], *own)
    changed = statements_where(third, not_dbtops_own)
    assert changed is not kept and changed[1].calls == 5


def statement_readings():
    """Readings of pg_stat_statements one poll apart, as the collector hands them on: carried entries
    are the same objects; each reading changes what the statement rules should find."""
    orders = f.statement(8101, "SELECT * FROM orders_incr WHERE id = $1", calls=20000, mean_time_ms=0.2, rows=20000)
    report = f.statement(8102, "SELECT region, sum(total) FROM orders_incr GROUP BY 1", calls=50, mean_time_ms=40)
    fill = [f.statement(8200 + i, f"INSERT INTO fill_incr_{i} VALUES ($1)", calls=10, mean_time_ms=0.1)
            for i in range(40)]
    own = f.statement(8300, "/* dbtop */ SELECT 1", calls=10, mean_time_ms=1.0, from_dbtop=True)

    def own_ran(times):
        return own.model_copy(update={"calls": own.calls + times})

    readings = [[orders, report, *fill, own]]
    # dbtop's own statement ran: nothing else moved
    readings.append([orders, report, *fill, own_ran(1)])
    # the report ran 200 more times, slowly: it becomes a slow statement and takes most of the time
    slow_report = report.model_copy(update={"calls": 250, "mean_time_ms": 900.0, "total_time_ms": 225_000.0})
    readings.append([orders, slow_report, *fill, own_ran(2)])
    # the lookup stops looking like N+1 (it now returns many rows per call); a new slow statement appears
    many_rows = orders.model_copy(update={"rows": 90_000})
    batch = f.statement(8103, "DELETE FROM orders_incr WHERE at < $1", calls=300, mean_time_ms=2500.0)
    readings.append([many_rows, slow_report, *fill, own_ran(3), batch])
    # the report is reset on the server (gone: the places shift) and the batch got faster
    fast_batch = batch.model_copy(update={"mean_time_ms": 1.0, "total_time_ms": 300.0})
    readings.append([many_rows, *fill, own_ran(4), fast_batch])
    # names read again: every entry rebuilt, equal but not the same objects
    readings.append([s.model_copy() for s in readings[-1]])
    return [f.statements(*entries) for entries in readings]


LOW_STATEMENT_THRESHOLDS = Thresholds({"performance.slow_min_calls": 100, "performance.dominant_min_total_ms": 100_000})


def test_statement_findings_follow_each_reading():
    base = f.healthy()
    snapshots = [base.model_copy(update={"sequence": number, "statements": statements})
                 for number, statements in enumerate(statement_readings(), start=1)]
    seen = [{i for i in ids(found) if i.startswith("performance.")}
            for found in evaluated_in_sequence(snapshots, LOW_STATEMENT_THRESHOLDS)]
    assert seen[0] == seen[1] == {"performance.n_plus_one:8101"}
    assert seen[2] == {"performance.n_plus_one:8101", "performance.slow_statement:8102",
                       "performance.dominant_statement:8102"}
    assert seen[3] == {"performance.slow_statement:8102", "performance.slow_statement:8103",
                       "performance.dominant_statement:8103"}
    assert seen[4] == seen[5] == set()


def session_scenes():
    """Snapshots one poll apart with sessions rebuilt each time (their durations move on)."""
    crowd = [f.idle(9000 + i, for_s=5.0 + i) for i in range(300)]
    hidden = f.session(9400, None, backend_type=None, state_s=None, xact_s=None, query_s=None, query=None)
    scenes = [crowd + [hidden, f.background(9401)]]
    scenes.append([f.idle(9000 + i, for_s=7.0 + i) for i in range(300)] + [hidden, f.background(9401),
                                                                             f.idle_in_transaction(9500, 90)])
    scenes.append(scenes[-1][:-1] + [f.idle_in_transaction(9500, 92), f.running(9501, 3600),
                                     f.session(9502, "idle in transaction (aborted)", for_s=4000)])
    scenes.append(scenes[-1][:-3] + [f.running(9501, 3602, wait_event_type="Lock"),
                                     *f.lock_chain(9600, 9601, 9602, wait_s=120)])
    # an idle session that still counts a transaction (not what PostgreSQL shows, but a typed value)
    scenes.append(scenes[0] + [f.idle(9700, for_s=5.0, xact_s=4000.0)])
    scenes.append(scenes[0])
    return [f.snapshot(sessions=sessions, sequence=n) for n, sessions in enumerate(scenes, start=1)]


def test_client_sessions_are_the_client_backends_and_hidden_sessions_with_a_user_and_database():
    hidden_client = f.session(9400, None, backend_type=None)
    hidden_process = f.session(9401, None, backend_type=None, database=None)
    sessions = [f.idle(9000), hidden_client, hidden_process, f.background(9402), f.running(9403, 1.0),
                f.session(9404, "active", backend_type="walsender")]
    assert [s.pid for s in client_sessions(f.snapshot(sessions=sessions))] == [9000, 9400, 9403]
    known = [s for s in sessions if s.backend_type is not None]
    assert [s.pid for s in client_sessions(f.snapshot(sessions=known))] == [9000, 9403]


def test_session_findings_follow_each_snapshot():
    found = evaluated_in_sequence(session_scenes())
    seen = [[i for i in ids(x) if i.startswith("connections.")] for x in found]
    assert "connections.idle_in_transaction" not in seen[0]
    assert "connections.idle_in_transaction" in seen[1]
    assert "connections.long_query" in seen[2] and "connections.long_transaction" in seen[2]
    # waiting on a lock: counted under its root blocker, not as a long query
    assert "connections.long_query" not in seen[3] and "connections.root_blocker:9600" in seen[3]
    [long] = [x for x in found[4][0] if x.id == "connections.long_transaction"]
    assert [e.subject for e in long.evidence] == ["pid 9700"]
    assert not {"connections.idle_in_transaction", "connections.long_query", "connections.long_transaction",
                "connections.root_blocker:9600"} & set(seen[5])


def test_session_findings_with_limits_of_zero_follow_each_snapshot():
    """A limit of 0 makes every client session's transaction long, open or not (a profile's choice)."""
    zero = Thresholds({"connections.long_transaction_s": 0, "connections.idle_in_transaction_s": 0,
                       "connections.long_query_s": 0})
    found = evaluated_in_sequence(session_scenes(), zero)
    [long] = [x for x in found[0][0] if x.id == "connections.long_transaction"]
    assert long.title.startswith("301 transaction(s)")


async def test_findings_over_real_readings_equal_a_fresh_evaluation(pg_target, sessions):
    """Real collector output, polled while statements run between polls: every snapshot's findings,
    evaluated in sequence with what is kept, equal a fresh evaluation's, and they change."""
    conn = await sessions()
    await conn.execute("DROP TABLE IF EXISTS incr_probe; CREATE TABLE incr_probe (id int, v int);"
                       "INSERT INTO incr_probe SELECT g, g FROM generate_series(1, 200) g")
    thresholds = Thresholds({"performance.slow_min_calls": 5, "performance.slow_mean_ms": 0,
                             "performance.n_plus_one_min_calls": 30, "performance.dominant_min_total_ms": 0,
                             "performance.dominant_share": 0.2})
    collector = PostgresCollector(pg_target)
    await collector.connect()
    snapshots = []
    try:
        for poll in range(6):
            for i in range(10 * poll):
                await conn.fetch(f"SELECT v FROM incr_probe WHERE id = $1 /* incr probe {poll % 3} */", i)
            if poll == 3:
                await conn.execute("SELECT pg_sleep(0.05) /* incr probe sleep */")
            snapshots.append(await collector.snapshot())
            await asyncio.sleep(0.05)
    finally:
        await collector.close()
        await conn.execute("DROP TABLE IF EXISTS incr_probe")
    found = evaluated_in_sequence(snapshots, thresholds)
    assert len({tuple(ids(x)) for x in found}) > 1, "the sequence should change the findings"
