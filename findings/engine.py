"""The rules engine: every registered rule runs over a snapshot; a rule that fails is reported, not fatal.

A rule is a pure function `(snapshot, thresholds) -> Iterable[Finding]`, registered with `@rule`.
Thresholds have defaults in the rule (`thresholds.get("connections.high_pct", 80)`) and can be set
per profile (`[profiles.NAME.thresholds]`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..engines.policy import WatchPolicy
from ..engines.snapshot import Catalog, Session, Snapshot
from .model import Finding

RuleFunction = Callable[[Snapshot, "Thresholds"], Iterable[Finding]]

RULES: list[RuleFunction] = []

# The engines a rule serves unless it says otherwise: the rules written against PostgreSQL's catalog.
DEFAULT_ENGINES = frozenset({"postgres"})


def rule(function: RuleFunction | None = None, *, engines: Iterable[str] = DEFAULT_ENGINES):
    """Register a database rule: `@rule` for a PostgreSQL rule, `@rule(engines={"postgres", "mongo"})`
    for one that reads only the engine-neutral core of a snapshot (or each engine's section)."""

    def register(function: RuleFunction) -> RuleFunction:
        function.engines = frozenset(engines)  # type: ignore[attr-defined]
        RULES.append(function)
        return function

    return register if function is None else register(function)


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


def evaluate(snapshot: Snapshot, thresholds: Thresholds | None = None) -> tuple[list[Finding], list[RuleFailure]]:
    """All findings for a snapshot, worst first, and the rules that raised (a bug, shown, not fatal)."""
    from . import rules  # noqa: F401 - registers the rules

    thresholds = thresholds or Thresholds()
    findings: list[Finding] = []
    failures: list[RuleFailure] = []
    for function in RULES:
        if not serves(function, snapshot.engine):
            continue
        try:
            findings.extend(function(snapshot, thresholds))
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others' findings
            failures.append(RuleFailure(function.__name__, f"{type(exc).__name__}: {exc}"))
    findings.sort(key=Finding.sort_key)
    return findings, failures
