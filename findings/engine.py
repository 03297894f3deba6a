"""The rules engine: every registered rule runs over a snapshot; a rule that fails is reported, not fatal.

A rule is a pure function `(snapshot, thresholds) -> Iterable[Finding]`, registered with `@rule`.
Thresholds have defaults in the rule (`thresholds.get("connections.high_pct", 80)`) and can be set
per profile (`[profiles.NAME.thresholds]`).

A rule that reads nothing of the snapshot but its catalog (`snapshot.postgres.catalog`, through
`catalog_sections`) says so with `@rule(reads=CATALOG_ONLY)`: the catalog is read every few minutes,
the snapshot every two seconds, so with a `RuleCache` such a rule runs once per catalog read and its
findings are reused until the next (on 5,000 tables these rules cost a tenth of a second a run). A
rule that declares nothing runs on every snapshot. tests/test_rules_cache.py checks that a rule
declaring CATALOG_ONLY touches the snapshot only through its catalog.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..engines.policy import WatchPolicy
from ..engines.snapshot import Catalog, Session, Snapshot
from .model import Finding

RuleFunction = Callable[[Snapshot, "Thresholds"], Iterable[Finding]]

RULES: list[RuleFunction] = []

# The engines a rule serves unless it says otherwise: the rules written against PostgreSQL's catalog.
DEFAULT_ENGINES = frozenset({"postgres"})
# What a rule reads of the snapshot: everything unless it says otherwise, or only the catalog.
CATALOG_ONLY = ("catalog",)


def rule(function: RuleFunction | None = None, *, engines: Iterable[str] = DEFAULT_ENGINES,
         reads: tuple[str, ...] | None = None):
    """Register a database rule: `@rule` for a PostgreSQL rule, `@rule(engines={"postgres", "mongo"})`
    for one that reads only the engine-neutral core of a snapshot (or each engine's section);
    `reads=CATALOG_ONLY` for one that reads nothing but the catalog (evaluated once per catalog read)."""
    if reads is not None and tuple(reads) != CATALOG_ONLY:
        raise ValueError(f"reads: {reads!r}: a rule reads the whole snapshot (the default) or {CATALOG_ONLY!r}")

    def register(function: RuleFunction) -> RuleFunction:
        function.engines = frozenset(engines)  # type: ignore[attr-defined]
        function.reads = tuple(reads) if reads is not None else None  # type: ignore[attr-defined]
        RULES.append(function)
        return function

    return register if function is None else register(function)


def reads_catalog_only(function: RuleFunction) -> bool:
    return getattr(function, "reads", None) == CATALOG_ONLY


def serves(function: RuleFunction, engine: str) -> bool:
    return engine in getattr(function, "engines", DEFAULT_ENGINES)


@dataclass(frozen=True)
class Thresholds:
    """Threshold overrides by name; `get` returns the rule's default for a name not overridden."""

    overrides: Mapping[str, float] = field(default_factory=dict)

    def get(self, name: str, default: float) -> float:
        return float(self.overrides.get(name, default))

    @classmethod
    def of(cls, policy: WatchPolicy | None) -> Thresholds:
        """The overrides a profile's watch policy sets (none without a policy)."""
        return cls(dict(policy.thresholds) if policy is not None else {})


def catalog_sections(snapshot: Snapshot, *sections: str) -> Catalog | None:
    """The snapshot's catalog when every named section was read; else None (the rule cannot tell)."""
    catalog = snapshot.postgres.catalog if snapshot.postgres else None
    if catalog is None or any(s in catalog.gaps for s in sections):
        return None
    return catalog


def client_sessions(snapshot: Snapshot) -> list[Session]:
    """The sessions of clients (not autovacuum, walsenders or other background processes)."""
    return [s for s in snapshot.sessions if s.counts_as_client]


# The catalog sections whose objects are skipped on a table under an ACCESS EXCLUSIVE lock.
LOCKABLE_SECTIONS = ("indexes", "constraints_not_valid")


def locked_tables_note(catalog: Catalog) -> str | None:
    """What the last catalog read skipped because a table was locked, in a line; None if nothing."""
    names = catalog.locked_tables
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"indexes and NOT VALID constraints of {shown} (an ACCESS EXCLUSIVE lock was held or awaited: "
            "reading them would have waited; read again with the catalog)")


@dataclass(frozen=True)
class RuleFailure:
    rule: str
    error: str


class RuleCache:
    """The findings of the catalog-only rules for the last catalog seen, to reuse until the next
    catalog read. One per stream of snapshots (the app keeps one per poller); a catalog is known by
    identity (the collector hands the same object on until it reads the catalog again) and its
    read_at, and the cache holds it, so a new catalog is never taken for the old one."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._catalog: Catalog | None = None
        self._results: dict[str, tuple[list[Finding], list[RuleFailure]]] = {}
        self._ordered: tuple[int, list[Finding], list[tuple]] | None = None

    def results(self, catalog: Catalog | None, thresholds: Thresholds, engine: str) -> dict:
        """The cached results (rule name -> findings, failures) for this catalog; empty and
        reset when the catalog, the thresholds or the engine differ from the last call's."""
        key = (catalog.read_at if catalog is not None else None, thresholds, engine)
        if catalog is not self._catalog or key != self._key:
            self._catalog, self._key, self._results, self._ordered = catalog, key, {}, None
        return self._results

    def ordered(self) -> tuple[list[Finding], list[tuple]]:
        """The cached findings worst first, and their sort keys (sorted once per catalog: thousands
        of findings on a large schema took longer to sort than the other rules to run)."""
        if self._ordered is None or self._ordered[0] != len(self._results):
            found = sorted((f for result in self._results.values() for f in result[0]), key=Finding.sort_key)
            self._ordered = (len(self._results), found, [f.sort_key() for f in found])
        return self._ordered[1], self._ordered[2]


def run_rule(function: RuleFunction, snapshot: Snapshot,
             thresholds: Thresholds) -> tuple[list[Finding], list[RuleFailure]]:
    found: list[Finding] = []
    try:
        found.extend(function(snapshot, thresholds))
        return found, []
    except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others' findings
        return found, [RuleFailure(function.__name__, f"{type(exc).__name__}: {exc}")]


def evaluate(snapshot: Snapshot, thresholds: Thresholds | None = None,
             cache: RuleCache | None = None) -> tuple[list[Finding], list[RuleFailure]]:
    """All findings for a snapshot, worst first, and the rules that raised (a bug, shown, not fatal).
    With `cache`, the catalog-only rules run once per catalog read."""
    from . import rules  # noqa: F401 - registers the rules

    thresholds = thresholds or Thresholds()
    findings: list[Finding] = []
    failures: list[RuleFailure] = []
    cached: dict | None = None
    if cache is not None:
        cached = cache.results(snapshot.postgres.catalog if snapshot.postgres else None, thresholds, snapshot.engine)
    for function in RULES:
        if not serves(function, snapshot.engine):
            continue
        if cached is not None and reads_catalog_only(function):
            name = f"{function.__module__}.{function.__qualname__}"
            result = cached.get(name)
            if result is None:
                result = cached[name] = run_rule(function, snapshot, thresholds)
            failures.extend(result[1])  # its findings come sorted from the cache, below
            continue
        result = run_rule(function, snapshot, thresholds)
        findings.extend(result[0])
        failures.extend(result[1])
    findings.sort(key=Finding.sort_key)
    if cache is not None:
        findings = merge_sorted(*cache.ordered(), findings)
    return findings, failures


def merge_sorted(ordered: list[Finding], keys: list[tuple], findings: list[Finding]) -> list[Finding]:
    """`ordered` (sorted, with its sort `keys`) and the sorted `findings`, merged in order."""
    merged: list[Finding] = []
    start = 0
    for finding in findings:
        end = bisect_right(keys, finding.sort_key(), start)
        merged.extend(ordered[start:end])
        merged.append(finding)
        start = end
    merged.extend(ordered[start:])
    return merged
