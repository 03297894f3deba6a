"""The rules that declare what they read (the catalog, the statements, the role) run once per reading
of those parts when the app's RuleCache is used, their findings are the same as without it, and a
rule reads only what it declares. No server."""

from __future__ import annotations

import ast
import inspect
import textwrap

from dbtop.findings import engine
from dbtop.findings.engine import PART_INPUTS, RULES, RuleCache, Thresholds, evaluate, parts_read, reads_catalog_only

from . import fakes as f


def counting_rules(monkeypatch) -> dict[str, int]:
    """Wrap every registered rule to count its runs (keeping its declarations)."""
    from dbtop.findings import rules  # noqa: F401 - registers the rules

    calls: dict[str, int] = {}
    wrapped = []
    for function in RULES:
        def counted(snapshot, thresholds, _function=function):
            calls[_function.__name__] = calls.get(_function.__name__, 0) + 1
            return _function(snapshot, thresholds)
        counted.__name__, counted.__qualname__, counted.__module__ = (
            function.__name__, function.__qualname__, function.__module__)
        counted.engines, counted.reads = function.engines, getattr(function, "reads", None)
        wrapped.append(counted)
    monkeypatch.setattr(engine, "RULES", wrapped)
    return calls


def scene():
    return f.healthy()


def test_catalog_rules_run_once_per_catalog_read(monkeypatch):
    calls = counting_rules(monkeypatch)
    first = scene()
    assert first.postgres.catalog is not None
    cache = RuleCache()
    catalog_rules = {fn.__name__ for fn in engine.RULES if reads_catalog_only(fn)}
    assert {"duplicate_indexes", "tables_without_primary_key", "sequence_exhaustion"} <= catalog_rules
    expected = evaluate(first)
    calls.clear()
    assert evaluate(first, Thresholds(), cache) == expected
    # the next snapshots carry the same catalog object, as the collector hands it on between reads
    later = first.model_copy(update={"sequence": first.sequence + 1})
    assert evaluate(later, Thresholds(), cache) == expected
    assert evaluate(later, Thresholds(), cache) == expected
    for name in catalog_rules:
        assert calls[name] == 1, name
    assert calls["connection_saturation"] == 3  # a rule that reads the live snapshot runs every time

    # a new catalog read (a new object, a later read_at) runs them again; so do other thresholds
    reread = first.postgres.catalog.model_copy(update={"read_at": first.postgres.catalog.read_at.replace(year=2031)})
    newer = later.model_copy(update={"postgres": first.postgres.model_copy(update={"catalog": reread})})
    evaluate(newer, Thresholds(), cache)
    evaluate(newer, Thresholds({"indexing.too_many": 1}), cache)
    for name in catalog_rules:
        assert calls[name] == 3, name


def stray_snapshot_uses(function, reads=("catalog",)) -> list[int]:
    """The lines where a rule touches its `snapshot` argument other than through the parts in `reads`:
    catalog_sections(snapshot, ...) or snapshot.postgres.catalog, snapshot.statements, is_standby(snapshot),
    clients(snapshot) or client_sessions(snapshot)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    snapshot_arg = definition.args.args[0].arg
    allowed: set[int] = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Call) and node.args:
            called = getattr(node.func, "id", None)
            if ((called == "catalog_sections" and "catalog" in reads) or (called == "is_standby" and "role" in reads)
                    or (called in ("clients", "client_sessions") and "clients" in reads)):
                allowed.add(id(node.args[0]))
        if (isinstance(node, ast.Attribute) and node.attr == "catalog" and isinstance(node.value, ast.Attribute)
                and node.value.attr == "postgres" and "catalog" in reads):
            allowed.add(id(node.value.value))
        if isinstance(node, ast.Attribute) and node.attr == "statements" and "statements" in reads:
            allowed.add(id(node.value))
    uses = [node for node in ast.walk(definition) if isinstance(node, ast.Name) and node.id == snapshot_arg]
    return [node.lineno for node in uses if id(node) not in allowed]


def test_a_rule_declaring_what_it_reads_reads_nothing_else():
    """The cache is only right for rules that read nothing but what they declare: each one touches
    its `snapshot` argument only through those parts."""
    from dbtop.findings import rules  # noqa: F401 - registers the rules

    declared = [fn for fn in RULES if parts_read(fn) is not None]
    assert {fn.__name__ for fn in declared} >= {"duplicate_indexes", "slow_statements", "n_plus_one",
                                                 "dominant_statement", "temp_spills", "unused_indexes"}
    for function in declared:
        assert not stray_snapshot_uses(function, parts_read(function)), \
            f"{function.__name__} declares reads={parts_read(function)} but reads its snapshot otherwise"


def test_a_rule_reading_only_slow_parts_declares_it():
    """The converse: a rule that touches its snapshot only through the catalog, the statements or the
    role says so, or it runs on every snapshot for nothing (on 5,000 tables a catalog rule costs
    milliseconds a run)."""
    from dbtop.findings import rules  # noqa: F401 - registers the rules

    undeclared = [f"{fn.__module__}.{fn.__name__}" for fn in RULES
                  if parts_read(fn) is None and "postgres" in fn.engines
                  and not stray_snapshot_uses(fn, tuple(PART_INPUTS))]
    assert not undeclared, f"read only the catalog, statements or role but do not declare reads=: {undeclared}"


def test_statement_rules_run_again_only_when_the_statements_are_read_again(monkeypatch):
    """Between two readings of pg_stat_statements the collector hands the same Statements on: the
    rules on statements run once for it; a new reading (a new object) runs them again, and its
    findings replace the old ones."""
    calls = counting_rules(monkeypatch)
    slow = f.statement(7001, "SELECT * FROM orders_cache_test WHERE customer_id = $1", calls=5000, mean_time_ms=80)
    first = f.healthy(statements=f.statements(slow))
    cache = RuleCache()
    expected = evaluate(first)
    assert "performance.slow_statement:7001" in {x.id for x in expected[0]}
    calls.clear()
    later = first.model_copy(update={"sequence": first.sequence + 1})
    assert evaluate(first, Thresholds(), cache) == expected
    assert evaluate(later, Thresholds(), cache) == expected
    assert calls["slow_statements"] == 1 and calls["n_plus_one"] == 1 and calls["dominant_statement"] == 1
    assert calls["temp_spills"] == 1
    assert calls["connection_saturation"] == 2

    # read again: the statement is now fast, another one slow
    fast = slow.model_copy(update={"mean_time_ms": 0.4, "total_time_ms": 2000.0})
    other = f.statement(7002, "SELECT * FROM invoices_cache_test WHERE id = $1", calls=4000, mean_time_ms=90)
    reread = later.model_copy(update={"sequence": later.sequence + 1, "statements": f.statements(fast, other)})
    found = evaluate(reread, Thresholds(), cache)
    assert calls["slow_statements"] == 2 and calls["temp_spills"] == 2
    assert calls["duplicate_indexes"] == 1  # the catalog was not read again
    assert found == evaluate(reread)
    ids = {x.id for x in found[0]}
    assert "performance.slow_statement:7002" in ids and "performance.slow_statement:7001" not in ids


def test_role_rules_run_again_when_the_role_changes(monkeypatch):
    """unused_indexes reads the catalog and the role (a standby's scans are its own): a failover
    that makes the server a standby, with the same catalog, runs it again."""
    calls = counting_rules(monkeypatch)
    unused = f.index("orders_unused_cache_idx", scans=0, size_bytes=64 * 1024 * 1024)
    base = f.healthy()
    catalog = base.postgres.catalog.model_copy(update={"indexes": [*base.postgres.catalog.indexes, unused]})
    primary = base.model_copy(update={"postgres": base.postgres.model_copy(update={"catalog": catalog})})
    cache = RuleCache()
    assert "indexes.unused:public.orders_unused_cache_idx" in {x.id for x in evaluate(primary, Thresholds(), cache)[0]}
    standby = primary.model_copy(update={"sequence": primary.sequence + 1,
                                         "server": primary.server.model_copy(update={"is_standby": True})})
    found = evaluate(standby, Thresholds(), cache)
    assert calls["unused_indexes"] == 2 and calls["duplicate_indexes"] == 1  # the catalog is the same
    assert "indexes.unused:public.orders_unused_cache_idx" not in {x.id for x in found[0]}
    assert found == evaluate(standby)


def test_reads_takes_only_known_parts():
    import pytest

    with pytest.raises(ValueError):
        engine.rule(reads=("sessions",))
    with pytest.raises(ValueError):
        engine.rule(reads=())


def test_cached_findings_merge_in_the_same_order():
    """Catalog findings (from the cache, sorted once) and the live ones come out in the order
    evaluate gives without a cache."""
    tables = [f.table(f"t{i}", has_primary_key=i % 2 == 0) for i in range(40)]
    catalog = f.healthy_catalog().model_copy(update={"tables": tables})
    base = f.healthy(sessions=[*f.healthy_sessions(), f.idle_in_transaction(900, for_s=600),
                               *f.lock_chain(901, 902, wait_s=120)])
    snap = base.model_copy(update={"postgres": base.postgres.model_copy(update={"catalog": catalog})})
    expected = evaluate(snap)
    assert len(expected[0]) > 20 and {x.area for x in expected[0]} >= {"schema"}
    cache = RuleCache()
    assert evaluate(snap, Thresholds(), cache) == expected
    assert evaluate(snap.model_copy(update={"sequence": snap.sequence + 1}), Thresholds(), cache) == expected


def test_a_rule_on_the_client_sessions_runs_again_only_when_a_session_changed(monkeypatch):
    """The collector hands a session that did not change on as the very same object: while a
    snapshot holds the very same sessions, a rule reading only the clients (and the catalog) is not
    run again; a session that changed (a new object) runs it again, and its findings follow."""
    calls = counting_rules(monkeypatch)
    superuser = f.catalog(roles=[f.role("postgres", superuser=True), f.role("app")])
    first = f.healthy(sessions=[f.idle(301, user="postgres", application="billing"), f.idle(302)], catalog=superuser)
    cache = RuleCache()
    expected = evaluate(first)
    assert "security.application_superuser:postgres" in {x.id for x in expected[0]}
    calls.clear()
    later = first.model_copy(update={"sequence": 2, "sessions": list(first.sessions)})  # the same objects
    assert evaluate(first, Thresholds(), cache) == expected
    assert evaluate(later, Thresholds(), cache) == expected
    assert calls["application_role_is_superuser"] == 1
    assert calls["idle_in_transaction"] == 2  # it reads durations: every snapshot

    changed = later.model_copy(update={"sequence": 3, "sessions": [f.idle(301, user="app"), later.sessions[1]]})
    assert "security.application_superuser:postgres" not in {x.id for x in evaluate(changed, Thresholds(), cache)[0]}
    assert calls["application_role_is_superuser"] == 2
