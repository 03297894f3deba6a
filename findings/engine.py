"""The rules engine: every registered rule runs over a snapshot; a rule that fails is reported, not fatal.

A rule is a pure function `(snapshot, thresholds) -> Iterable[Finding]`, registered with `@rule`.
Thresholds have defaults in the rule (`thresholds.get("connections.high_pct", 80)`) and can be set
per profile (`[profiles.NAME.thresholds]`).

A rule that reads only parts of the snapshot that change less often than every poll says which with
`@rule(reads=...)`: `CATALOG_ONLY` (`snapshot.postgres.catalog`, through `catalog_sections`, read
every few minutes), `STATEMENTS_ONLY` (`snapshot.statements`, read every 30 s while no panel shows
it), or a tuple of those parts and "role" (`is_standby(snapshot)`). With a `RuleCache` such a rule
runs again only when one of the parts it reads is not the one it last saw (the collector hands the
same object on until it reads that part again), and its findings are reused meanwhile (on 5,000
tables the catalog rules cost a tenth of a second a run). A rule that declares nothing runs on every
snapshot. tests/test_rules_cache.py checks that a rule touches its snapshot only through what it
declares.

Rules that look at a thousand sessions or thousands of statements on every snapshot ask for them
through the helpers here: `clients` picks the client sessions out in one pass per snapshot;
`statements_where` asks a rule's test only of the pg_stat_statements entries that moved since the
last reading (tests/test_rules_incremental.py checks the findings equal a fresh evaluation's over
changing sequences).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, count
from operator import is_, is_not

from ..engines.policy import WatchPolicy
from ..engines.snapshot import Catalog, Session, Snapshot, Statement, Statements, same_sessions
from .model import Finding

RuleFunction = Callable[[Snapshot, "Thresholds"], Iterable[Finding]]

RULES: list[RuleFunction] = []

# The engines a rule serves unless it says otherwise: the rules written against PostgreSQL's catalog.
DEFAULT_ENGINES = frozenset({"postgres"})
# What a rule reads of the snapshot: everything unless it says otherwise, or only these parts.
CATALOG_ONLY = ("catalog",)
STATEMENTS_ONLY = ("statements",)


def is_standby(snapshot: Snapshot) -> bool | None:
    """The server's role, for a rule that declares it reads "role": None when unknown."""
    return snapshot.server.is_standby if snapshot.server else None


# What of a snapshot stands for each part a rule may declare it reads: a rule's cached findings are
# reused while each of these is the very object it was (a part read again is a new object; a role
# is True, False or None, each a single object; the client sessions, the same while no session
# changed: clients()).
PART_INPUTS: dict[str, Callable[[Snapshot], object]] = {
    "catalog": lambda snapshot: snapshot.postgres.catalog if snapshot.postgres else None,
    "statements": lambda snapshot: snapshot.statements,
    "role": is_standby,
    "clients": lambda snapshot: clients(snapshot),
}


def rule(function: RuleFunction | None = None, *, engines: Iterable[str] = DEFAULT_ENGINES,
         reads: tuple[str, ...] | None = None):
    """Register a database rule: `@rule` for a PostgreSQL rule, `@rule(engines={"postgres", "mongo"})`
    for one that reads only the engine-neutral core of a snapshot (or each engine's section);
    `reads=CATALOG_ONLY` for one that reads nothing but the catalog (evaluated once per catalog read),
    `reads=STATEMENTS_ONLY` or a tuple of parts of PART_INPUTS likewise."""
    if reads is not None and (not reads or any(part not in PART_INPUTS for part in reads)):
        raise ValueError(f"reads: {reads!r}: a rule reads the whole snapshot (the default) or some of "
                         f"{sorted(PART_INPUTS)}")

    def register(function: RuleFunction) -> RuleFunction:
        function.engines = frozenset(engines)  # type: ignore[attr-defined]
        function.reads = tuple(reads) if reads is not None else None  # type: ignore[attr-defined]
        RULES.append(function)
        return function

    return register if function is None else register(function)


def reads_catalog_only(function: RuleFunction) -> bool:
    return getattr(function, "reads", None) == CATALOG_ONLY


def parts_read(function: RuleFunction) -> tuple[str, ...] | None:
    """The parts a rule declares it reads; None for the whole snapshot (it runs on every one)."""
    return getattr(function, "reads", None)


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


@dataclass(frozen=True)
class ClientSessions:
    """A snapshot's client sessions (not autovacuum, walsenders or other background processes), and
    those the rules about what a session is doing or holding open look at: most of a thousand
    sessions are idle with no transaction."""

    all: tuple[Session, ...]
    not_idle: tuple[Session, ...]  # in another state than "idle"
    in_transaction: tuple[Session, ...]  # with a transaction open
    by_pid: dict[int, Session]  # every session, client or not


_clients_of: tuple[Snapshot | None, ClientSessions | None] = (None, None)
CLIENT_BACKEND = "client backend"


def clients(snapshot: Snapshot) -> ClientSessions:
    """Several rules ask for the client sessions on every snapshot: they are picked out in one pass
    over the sessions per snapshot (a snapshot does not change), not once per rule (the pass is
    mostly the first touch of a thousand sessions: each further pass cost as much), and not again
    while the snapshots hold the very same sessions. The same sessions give the same object, so a
    rule that declares it reads "clients" (and no durations) runs again only when a session changed."""
    global _clients_of
    last, picked = _clients_of
    if last is snapshot and picked is not None:
        return picked
    if last is None or picked is None or not same_sessions(snapshot.sessions, last.sessions):
        every: list[Session] = []
        not_idle: list[Session] = []
        in_transaction: list[Session] = []
        by_pid: dict[int, Session] = {}
        for s in snapshot.sessions:
            by_pid[s.pid] = s
            kind = s.backend_type
            # Session.counts_as_client, without its call for a session whose type is known
            if (kind == CLIENT_BACKEND) if kind is not None else s.counts_as_client:
                every.append(s)
                if s.state != "idle":
                    not_idle.append(s)
                if s.in_transaction:
                    in_transaction.append(s)
        picked = ClientSessions(tuple(every), tuple(not_idle), tuple(in_transaction), by_pid)
    _clients_of = (snapshot, picked)
    return picked


def client_sessions(snapshot: Snapshot) -> tuple[Session, ...]:
    """The sessions of clients (not autovacuum, walsenders or other background processes)."""
    return clients(snapshot).all


# The last reading of pg_stat_statements rules asked about, its entries, and for each test asked of
# it (the test and its arguments) the answer for each entry and the entries for which it holds.
_statements_read: tuple[Statements | None, tuple[Statement, ...],
                        dict[tuple, tuple[list[bool], tuple[Statement, ...]]]] = (None, (), {})
# More tests than the rules ask: thresholds changed; the answers of the old ones are dropped.
KEPT_TESTS_LIMIT = 16


def statements_where(statements: Statements, test: Callable[..., bool], *args: object) -> tuple[Statement, ...]:
    """The entries of `statements` for which `test(entry, *args)` holds, in their order.

    Rules ask this of every reading (every poll while the Slow queries panel shows), over thousands of
    entries. Between two readings most entries are the same objects at the same places (the collector
    carries the entries that did not move over, and a Statement never changes), so `test` is asked
    only of the entries that are not the object seen at their place in the last reading (of all of
    them when entries were dropped: the places shift); the others keep their answer. While none of
    the entries it holds for moved, the same tuple is handed on. `test` must depend on nothing but
    the entry and `args`, which key its answers."""
    global _statements_read
    last, seen, kept = _statements_read
    entries = statements.entries
    if last is not statements:
        kept = _answers_moved_on(seen, kept, entries)
        _statements_read = (statements, tuple(entries), kept)
    key = (test, args)
    answered = kept.get(key)
    if answered is None:
        answers = [bool(test(s, *args)) for s in entries]
        answered = kept[key] = (answers, tuple(compress(entries, answers)))
    return answered[1]


def _answers_moved_on(seen: tuple[Statement, ...], kept: dict, entries: list[Statement]) -> dict:
    """The answers `kept` for the entries `seen`, brought to `entries`, a new reading: asked again of
    the entries not seen at their place (the new ones come last)."""
    if len(entries) < len(seen) or len(kept) > KEPT_TESTS_LIMIT:
        return {}
    moved = list(compress(count(), map(is_not, seen, entries)))
    moved.extend(range(len(seen), len(entries)))
    added = [False] * (len(entries) - len(seen))
    moved_on = {}
    for (test, args), (answers, holding) in list(kept.items()):
        answers = answers + added
        changed = False
        try:
            for i in moved:
                before, answers[i] = answers[i], bool(test(entries[i], *args))
                changed = changed or before or answers[i]
        except Exception:  # noqa: BLE001 - asked again by its own rule, which then fails, not the asking one
            continue
        moved_on[(test, args)] = (answers, tuple(compress(entries, answers)) if changed else holding)
    return moved_on


_summed: tuple[tuple[Statement, ...] | None, float] = (None, 0.0)


def total_time_ms(statements: tuple[Statement, ...]) -> float:
    """The statements' total time; summed once for the tuple `statements_where` hands on while
    none of its entries moved (thousands of entries, summed on every reading)."""
    global _summed
    last, total = _summed
    if last is not statements:
        total = sum(s.total_time_ms for s in statements)
        _summed = (statements, total)
    return total


def forget_kept_answers() -> None:
    """Drop what the helpers above keep from earlier snapshots (a test compares with a fresh evaluation)."""
    global _clients_of, _statements_read, _summed
    _clients_of, _statements_read, _summed = (None, None), (None, (), {}), (None, 0.0)


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
    """The findings of the rules that declare what they read, to reuse until one of those parts is
    read again. One per stream of snapshots (the app keeps one per poller). A part is known by
    identity (the collector hands the same object on until it reads it again) and the cache holds
    it, so a new reading is never taken for the old one. Other thresholds or another engine empty it."""

    def __init__(self) -> None:
        self._settings: tuple | None = None
        # rule name -> (the parts' objects it ran on, (findings, failures))
        self._entries: dict[str, tuple[tuple, tuple[list[Finding], list[RuleFailure]]]] = {}
        # by the parts rules read: the names of those rules, and their findings sorted (None: to sort)
        self._groups: dict[tuple[str, ...], list] = {}
        self._names: dict[RuleFunction, str] = {}
        # the parts' objects in the snapshot being evaluated, by the parts rules read
        self._inputs_of: Snapshot | None = None
        self._inputs: dict[tuple[str, ...], tuple] = {}

    def start(self, thresholds: Thresholds, engine: str) -> None:
        """Before a snapshot's rules: forget everything when the thresholds or the engine changed."""
        if self._settings != (thresholds, engine):
            self._settings, self._entries, self._groups = (thresholds, engine), {}, {}

    def result(self, function: RuleFunction, reads: tuple[str, ...], snapshot: Snapshot,
               thresholds: Thresholds) -> tuple[list[Finding], list[RuleFailure]]:
        """The rule's findings and failures: the last ones while the parts it reads are the same
        objects, else from running it again."""
        name = self._names.get(function) or self._names.setdefault(
            function, f"{function.__module__}.{function.__qualname__}")
        if self._inputs_of is not snapshot:
            self._inputs_of, self._inputs = snapshot, {}
        inputs = self._inputs.get(reads)
        if inputs is None:  # once per snapshot for the forty rules reading the same parts
            inputs = self._inputs[reads] = tuple(PART_INPUTS[part](snapshot) for part in reads)
        entry = self._entries.get(name)
        if entry is not None and all(map(is_, entry[0], inputs)):
            return entry[1]
        result = run_rule(function, snapshot, thresholds)
        self._entries[name] = (inputs, result)
        group = self._groups.setdefault(reads, [set(), None])
        group[0].add(name)
        if result[0] or (entry is not None and entry[1][0]):
            group[1] = None  # its findings changed: sort them again
        return result

    def ordered(self) -> list[tuple[list[Finding], list[tuple]]]:
        """The cached findings worst first, with their sort keys, one list per group of rules
        reading the same parts (each sorted only when one of its rules ran again: thousands of
        catalog findings took longer to sort than the other rules to run)."""
        out = []
        for group in self._groups.values():
            if group[1] is None:
                found = sorted((f for name in group[0] for f in self._entries[name][1][0]), key=Finding.sort_key)
                group[1] = (found, [f.sort_key() for f in found])
            out.append(group[1])
        return out


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
    With `cache`, a rule that declares what it reads runs once per reading of those parts."""
    from . import rules  # noqa: F401 - registers the rules

    thresholds = thresholds or Thresholds()
    findings: list[Finding] = []
    failures: list[RuleFailure] = []
    if cache is not None:
        cache.start(thresholds, snapshot.engine)
    for function in RULES:
        if not serves(function, snapshot.engine):
            continue
        reads = parts_read(function)
        if cache is not None and reads is not None:
            failures.extend(cache.result(function, reads, snapshot, thresholds)[1])
            continue  # its findings come sorted from the cache, below
        result = run_rule(function, snapshot, thresholds)
        findings.extend(result[0])
        failures.extend(result[1])
    if cache is None:
        findings.sort(key=Finding.sort_key)
        return findings, failures
    groups = sorted(cache.ordered(), key=lambda group: len(group[0]))
    if not groups:
        findings.sort(key=Finding.sort_key)
        return findings, failures
    # the smaller lists sorted together, then merged into the largest (thousands of catalog findings)
    for group in groups[:-1]:
        findings.extend(group[0])
    findings.sort(key=Finding.sort_key)
    return merge_sorted(*groups[-1], findings), failures


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
