"""The catalog-only rules run once per catalog read when the app's RuleCache is used, their findings
are the same as without it, and a rule that declares it reads only the catalog does. No server."""

from __future__ import annotations

import ast
import inspect
import textwrap

from dbtop.findings import engine
from dbtop.findings.engine import RULES, RuleCache, Thresholds, evaluate, reads_catalog_only

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


def stray_snapshot_uses(function) -> list[int]:
    """The lines where a rule touches its `snapshot` argument other than as catalog_sections(snapshot, ...)
    or snapshot.postgres.catalog."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    snapshot_arg = definition.args.args[0].arg
    allowed: set[int] = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "catalog_sections":
            allowed.add(id(node.args[0]))
        if (isinstance(node, ast.Attribute) and node.attr == "catalog" and isinstance(node.value, ast.Attribute)
                and node.value.attr == "postgres"):
            allowed.add(id(node.value.value))
    uses = [node for node in ast.walk(definition) if isinstance(node, ast.Name) and node.id == snapshot_arg]
    return [node.lineno for node in uses if id(node) not in allowed]


def test_a_rule_declaring_catalog_only_reads_nothing_else():
    """The cache is only right for rules that read nothing but the catalog: each one touches its
    `snapshot` argument only as catalog_sections(snapshot, ...) or snapshot.postgres.catalog."""
    from dbtop.findings import rules  # noqa: F401 - registers the rules

    declared = [fn for fn in RULES if reads_catalog_only(fn)]
    assert declared
    for function in declared:
        assert not stray_snapshot_uses(function), \
            f"{function.__name__} declares reads=CATALOG_ONLY but reads its snapshot otherwise"


def test_a_rule_reading_only_the_catalog_declares_it():
    """The converse: a rule that touches its snapshot only through the catalog says reads=CATALOG_ONLY,
    or it runs on every snapshot for nothing (on 5,000 tables a catalog rule costs milliseconds a run)."""
    from dbtop.findings import rules  # noqa: F401 - registers the rules

    undeclared = [f"{fn.__module__}.{fn.__name__}" for fn in RULES
                  if not reads_catalog_only(fn) and "postgres" in fn.engines and not stray_snapshot_uses(fn)]
    assert not undeclared, f"read only the catalog but do not declare reads=CATALOG_ONLY: {undeclared}"


def test_reads_takes_only_the_catalog():
    import pytest

    with pytest.raises(ValueError):
        engine.rule(reads=("sessions",))


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
