"""Indexes: duplicates and redundant prefixes, unused and invalid indexes, over-indexed tables,
foreign keys without an index, large tables read by sequential scans.

dbtop actions these point to: action:drop-index, action:create-index, action:reindex."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import IndexFacts, Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, is_standby, rule
from ..model import Evidence, Finding, Severity
from ..wording import size
from ...engines.quoting import qualified, quote_ident


def _index_name(index: IndexFacts) -> str:
    return f"{index.schema_name}.{index.name}"


def _comparable(index: IndexFacts) -> bool:
    return not index.has_expressions and index.is_valid and 0 not in index.key_columns


@rule(reads=CATALOG_ONLY)
def duplicate_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "indexes")
    if catalog is None:
        return
    by_table: dict[tuple[str, str], list[IndexFacts]] = {}
    for index in catalog.indexes:
        if _comparable(index):
            by_table.setdefault((index.schema_name, index.table), []).append(index)
    for (schema, table), indexes in by_table.items():
        reported: set[str] = set()
        for a in indexes:
            for b in indexes:
                if a is b or a.method != b.method or (a.predicate or "") != (b.predicate or ""):
                    continue
                exact = a.key_columns == b.key_columns
                prefix = len(a.key_columns) < len(b.key_columns) and b.key_columns[:len(a.key_columns)] == a.key_columns
                if not (exact or prefix):
                    continue
                # `a` is the one to drop: never one backing a constraint or enforcing uniqueness the other
                # does not; of two equal ones, the less used (then the later name).
                if a.constraint or (a.is_unique and (prefix or not b.is_unique)):
                    continue
                if exact and not b.constraint and b.is_unique == a.is_unique:
                    if ((a.scans or 0), b.name) > ((b.scans or 0), a.name):
                        continue
                if a.name in reported:
                    continue
                reported.add(a.name)
                kind = "duplicate" if exact else "redundant"
                yield Finding(
                    id=f"indexes.{kind}:{_index_name(a)}", rule=f"indexes.{kind}", area="schema",
                    severity=Severity.HIGH if exact else Severity.MEDIUM,
                    title=(f"Index {_index_name(a)} duplicates {b.name} on {schema}.{table}" if exact else
                           f"Index {_index_name(a)} is a prefix of {b.name} on {schema}.{table}"),
                    evidence=[Evidence(subject=a.name, detail=f"{a.definition} ({size(a.size_bytes)}, "
                                                              f"{a.scans if a.scans is not None else '?'} scans)"),
                              Evidence(subject=b.name, detail=f"{b.definition} ({size(b.size_bytes)}"
                                                              + (f", backs {b.constraint})" if b.constraint else ")"))],
                    impact="Every insert and update maintains both indexes; the extra one costs writes, WAL, "
                           "cache and vacuum time and answers no query the other cannot.",
                    fix=f"Drop {a.name}; {b.name} serves the same queries.",
                    statement=f"DROP INDEX CONCURRENTLY {qualified(a.schema_name, a.name)};",
                    addressed_by="action:drop-index", action_params={"index": _index_name(a)})


@rule(reads=("catalog", "role"))
def unused_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "indexes")
    if catalog is None or is_standby(snapshot):
        return  # a standby's scans are its own: an index unused there may serve the primary
    min_bytes = t.get("indexes.unused_min_bytes", 10 * 1024 * 1024)
    since = f"since {catalog.stats_reset:%Y-%m-%d}" if catalog.stats_reset else "since statistics began"
    for index in catalog.indexes:
        if index.scans != 0 or index.size_bytes < min_bytes or index.is_unique or index.constraint:
            continue
        yield Finding(
            id=f"indexes.unused:{_index_name(index)}", rule="indexes.unused", area="schema", severity=Severity.MEDIUM,
            title=f"Index {_index_name(index)} ({size(index.size_bytes)}) has never been used {since}",
            evidence=[Evidence(subject=index.name, detail=f"{index.definition}; 0 scans {since}")],
            impact="It is maintained on every write to the table and takes space and cache, for no reads.",
            fix="Check it is not used on a standby or by a rare job (monthly report); then drop it.",
            statement=f"DROP INDEX CONCURRENTLY {qualified(index.schema_name, index.name)};",
            addressed_by="action:drop-index", action_params={"index": _index_name(index)})


@rule(reads=CATALOG_ONLY)
def invalid_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "indexes")
    for index in catalog.indexes if catalog else []:
        if index.is_valid:
            continue
        yield Finding(
            id=f"indexes.invalid:{_index_name(index)}", rule="indexes.invalid", area="schema", severity=Severity.HIGH,
            title=f"Index {_index_name(index)} is INVALID",
            evidence=[Evidence(subject=index.name, detail=f"{index.definition}; pg_index.indisvalid = false")],
            impact="A failed CREATE INDEX CONCURRENTLY (or REINDEX) left it: it is maintained on every write but no "
                   "query uses it; if it was meant to be unique, uniqueness is not enforced.",
            fix="Drop it and create it again (find why it failed first: duplicates for a unique index, a deadlock, "
                "a cancel)." + (" For a unique index, list and remove the duplicate keys first: while any remain, "
                                "the build fails again and leaves another INVALID index." if index.is_unique else ""),
            statement=_rebuild_statement(index),
            addressed_by="action:reindex", action_params={"index": _index_name(index)})


def _rebuild_statement(index: IndexFacts) -> str:
    """Drop and create again; for a unique index, first the query listing the duplicate keys, and the
    rebuild commented out, so that running the whole text never builds another INVALID index."""
    create = (index.definition.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
              .replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1))
    rebuild = [f"DROP INDEX CONCURRENTLY {qualified(index.schema_name, index.name)};", f"{create};"]
    if not index.is_unique:
        return "\n".join(rebuild)
    return "\n".join([
        "-- 1. The duplicate keys that make the unique build fail; remove them until this returns no rows:",
        _duplicate_keys_query(index),
        "-- 2. Then rebuild it (while duplicates remain the build fails and leaves it INVALID again):",
        *(f"-- {line}" for line in rebuild)])


def _duplicate_keys_query(index: IndexFacts) -> str:
    table = qualified(index.schema_name, index.table)
    keys = index.key_expressions
    if not keys:
        return (f"-- SELECT <the index's key columns>, count(*) FROM {table} GROUP BY <them> "
                "HAVING count(*) > 1;")
    # NULLs never collide in a unique index unless it says NULLS NOT DISTINCT (PostgreSQL 15)
    conditions = [] if "NULLS NOT DISTINCT" in index.definition else [f"({key}) IS NOT NULL" for key in keys]
    if index.predicate:
        conditions.append(f"({index.predicate})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    groups = ", ".join(str(n) for n in range(1, len(keys) + 1))
    return (f"SELECT {', '.join(keys)}, count(*) AS copies FROM {table}{where} GROUP BY {groups} "
            "HAVING count(*) > 1 ORDER BY copies DESC LIMIT 100;")


@rule(reads=CATALOG_ONLY)
def too_many_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    limit = t.get("indexes.max_per_table", 10)
    for table in catalog.tables if catalog else []:
        if table.index_count <= limit:
            continue
        yield Finding(
            id=f"indexes.too_many:{table.qualified_name}", rule="indexes.too_many", area="schema", severity=Severity.LOW,
            title=f"Table {table.qualified_name} has {table.index_count} indexes",
            evidence=[Evidence(subject=table.qualified_name, detail=f"{table.index_count} indexes, "
                                                                    f"{table.live_rows:,} rows")],
            impact="Each write updates every index: writes slow down, HOT updates become rare, and the indexes "
                   "crowd the cache.",
            fix="Review the indexes against the queries (pg_stat_user_indexes.idx_scan); drop unused and redundant ones.")


@rule(reads=CATALOG_ONLY)
def foreign_keys_without_index(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "foreign_keys")
    min_rows = t.get("performance.fk_index_min_rows", 1000)
    rows = {(tb.schema_name, tb.name): tb.live_rows for tb in catalog.tables} if catalog else {}
    for fk in catalog.foreign_keys if catalog else []:
        if fk.has_supporting_index or rows.get((fk.schema_name, fk.table), min_rows) < min_rows:
            continue
        columns = ", ".join(quote_ident(c) for c in fk.columns)
        yield Finding(
            id=f"performance.fk_without_index:{fk.schema_name}.{fk.table}.{fk.name}",
            rule="performance.fk_without_index", area="performance", severity=Severity.MEDIUM,
            title=f"Foreign key {fk.name} on {fk.schema_name}.{fk.table} ({', '.join(fk.columns)}) has no index",
            evidence=[Evidence(subject=fk.name, detail=f"{fk.schema_name}.{fk.table}({', '.join(fk.columns)}) -> "
                                                       f"{fk.referenced_schema}.{fk.referenced_table}, ON DELETE {fk.on_delete}")],
            impact=f"Every delete or key update on {fk.referenced_table} scans {fk.table} to check or cascade, holding "
                   "locks meanwhile; joins on the key scan too.",
            fix="Create an index on the foreign key's columns.",
            statement=f"CREATE INDEX CONCURRENTLY ON {qualified(fk.schema_name, fk.table)} ({columns});",
            addressed_by="action:create-index",
            action_params={"table": f"{fk.schema_name}.{fk.table}", "columns": ",".join(fk.columns)})


@rule(reads=CATALOG_ONLY)
def sequential_scan_heavy_tables(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "tables")
    min_rows = t.get("performance.seq_scan_min_rows", 100_000)
    min_scans = t.get("performance.seq_scan_min_scans", 100)
    for table in catalog.tables if catalog else []:
        seq, idx = table.seq_scan or 0, table.idx_scan or 0
        if table.live_rows < min_rows or seq < min_scans or seq <= idx:
            continue
        per_scan = (table.seq_tup_read or 0) / seq if seq else 0
        yield Finding(
            id=f"performance.seq_scan_heavy:{table.qualified_name}", rule="performance.seq_scan_heavy",
            area="performance", severity=Severity.MEDIUM,
            title=f"Table {table.qualified_name} ({table.live_rows:,} rows) is read mostly by sequential scans",
            evidence=[Evidence(subject=table.qualified_name,
                               detail=f"{seq:,} sequential scans reading {per_scan:,.0f} rows each, {idx:,} index scans")],
            impact="Each sequential scan reads the whole table: IO and CPU grow with the table, and the cache is "
                   "flushed by it.",
            fix="Find the statements that scan it (Slow queries panel, EXPLAIN) and add the index their WHERE "
                "clauses need.")
