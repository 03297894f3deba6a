"""Indexes beyond duplicates and unused ones: btree bloat (estimated, no lock), indexes written far
more than read, indexes mostly of NULLs, update-heavy tables whose updates are rarely HOT.

dbtop actions these point to: action:reindex, action:create-index, action:drop-index."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.quoting import qualified, quote_ident
from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, is_standby, rule
from ..model import Evidence, Finding, Severity
from ..wording import size

EVIDENCE_LIMIT = 10


@rule(reads=CATALOG_ONLY)
def index_bloat(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "index_bloat")
    if catalog is None:
        return
    min_wasted = t.get("indexes.bloat_min_bytes", 100 * 1024 * 1024)
    min_fraction = t.get("indexes.bloat_fraction", 0.5)
    for index in catalog.index_bloat:
        wasted = index.wasted_bytes
        if wasted is None or wasted < min_wasted or wasted < min_fraction * index.size_bytes:
            continue
        fraction = wasted / index.size_bytes
        name = f"{index.schema_name}.{index.name}"
        yield Finding(
            id=f"indexes.bloat:{name}", rule="indexes.bloat", area="capacity",
            severity=Severity.HIGH if fraction >= 0.8 and wasted >= 1024 ** 3 else Severity.MEDIUM,
            title=f"Index {name}: about {size(wasted)} of its {size(index.size_bytes)} is empty space "
                  f"({100 * fraction:.0f}%, estimated)",
            evidence=[Evidence(subject=name, detail=f"on {index.schema_name}.{index.table}: {size(index.size_bytes)}; "
                                                    f"{index.estimated_rows:,} entries would fill about "
                                                    f"{size(index.expected_bytes)} at fillfactor {index.fillfactor} "
                                                    "(estimate from the planner's statistics)")],
            impact="Scans of a bloated index read more pages for the same rows, it crowds the cache, and every "
                   "backup and replica carries the empty pages; deletes and updates of random keys leave it so.",
            fix="Rebuild it online with REINDEX CONCURRENTLY (PostgreSQL 12+: a new copy is built beside it, then "
                "swapped; needs free disk for the copy). If it bloats again soon, find the cause: long transactions "
                "holding back vacuum, or mass deletes.",
            statement=f"REINDEX INDEX CONCURRENTLY {qualified(index.schema_name, index.name)};",
            addressed_by="action:reindex", action_params={"index": name})


@rule(reads=("catalog", "role"))
def write_heavy_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Indexes read a handful of times while their table is written heavily: each write pays for
    them. (Indexes never scanned at all are indexes.unused.)"""
    catalog = catalog_sections(snapshot, "indexes", "tables")
    if catalog is None or is_standby(snapshot):
        return
    writes = {(tb.schema_name, tb.name): (tb.rows_inserted or 0) + (tb.rows_updated or 0) + (tb.rows_deleted or 0)
              for tb in catalog.tables}
    max_scans = t.get("indexes.low_scans", 100)
    min_writes = t.get("indexes.high_writes", 1_000_000)
    min_bytes = t.get("indexes.write_heavy_min_bytes", 1024 * 1024)
    since = f"since {catalog.stats_reset:%Y-%m-%d}" if catalog.stats_reset else "since statistics began"
    for index in catalog.indexes:
        written = writes.get((index.schema_name, index.table), 0)
        if (index.scans in (None, 0) or index.scans > max_scans or written < min_writes
                or index.size_bytes < min_bytes or index.is_unique or index.constraint):
            continue
        name = f"{index.schema_name}.{index.name}"
        yield Finding(
            id=f"indexes.write_heavy:{name}", rule="indexes.write_heavy", area="performance", severity=Severity.LOW,
            title=f"Index {name} was scanned {index.scans:,} times while its table took {written:,} writes",
            evidence=[Evidence(subject=index.name, detail=f"{index.definition}; {index.scans:,} scans, "
                                                          f"{size(index.size_bytes)}; table written {written:,} rows "
                                                          f"{since}")],
            impact="Every insert, and every update that is not HOT, writes this index too (WAL, IO, cache), to "
                   "serve a few queries that could use another index or run rarely.",
            fix="Find the queries that use it (pg_stat_statements, the application's code); if a rare job, let it "
                "use another index or scan; then drop it.",
            statement=f"DROP INDEX CONCURRENTLY {qualified(index.schema_name, index.name)};",
            addressed_by="action:drop-index", action_params={"index": name})


@rule(reads=CATALOG_ONLY)
def mostly_null_indexes(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "mostly_null_indexes")
    if catalog is None:
        return
    min_fraction = t.get("indexes.null_fraction", 0.5)
    min_bytes = t.get("indexes.null_min_bytes", 10 * 1024 * 1024)
    for index in catalog.mostly_null_indexes:
        if index.null_frac < min_fraction or index.size_bytes < min_bytes:
            continue
        name = f"{index.schema_name}.{index.name}"
        table = qualified(index.schema_name, index.table)
        column = quote_ident(index.column)
        yield Finding(
            id=f"indexes.mostly_null:{name}", rule="indexes.mostly_null", area="schema", severity=Severity.LOW,
            title=f"Index {name} ({size(index.size_bytes)}) is {100 * index.null_frac:.0f}% NULLs of {index.column}",
            evidence=[Evidence(subject=index.name, detail=f"on {index.schema_name}.{index.table}({index.column}); "
                                                          f"null_frac {index.null_frac:.2f} (pg_stats)")],
            impact="Most of its entries are NULLs that queries looking for a value never read, yet every insert "
                   "writes them and they take cache.",
            fix="Replace it with a partial index WHERE the column IS NOT NULL (it serves equality and range "
                "lookups the same; keep the full one if some query asks for IS NULL).",
            statement=f"CREATE INDEX CONCURRENTLY {quote_ident(index.name + '_notnull')} ON {table} ({column}) "
                      f"WHERE {column} IS NOT NULL;\n"
                      f"DROP INDEX CONCURRENTLY {qualified(index.schema_name, index.name)};")


@rule(reads=CATALOG_ONLY)
def hot_updates(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Update-heavy tables whose updates are rarely HOT (heap-only: no index write) and that leave no
    room on their pages for them (fillfactor 100)."""
    catalog = catalog_sections(snapshot, "tables")
    if catalog is None:
        return
    min_updates = t.get("performance.hot_min_updates", 100_000)
    min_ratio = t.get("performance.hot_ratio", 0.5)
    cold = sorted(((tb, (tb.rows_hot_updated or 0) / tb.rows_updated) for tb in catalog.tables
                   if (tb.rows_updated or 0) >= min_updates and tb.fillfactor >= 100
                   and (tb.rows_hot_updated or 0) < min_ratio * tb.rows_updated),
                  key=lambda c: -(c[0].rows_updated or 0))
    if not cold:
        return
    yield Finding(
        id="performance.hot_updates", rule="performance.hot_updates", area="performance", severity=Severity.LOW,
        title=f"{len(cold)} update-heavy table(s) where most updates write every index (few HOT updates)",
        evidence=[Evidence(subject=tb.qualified_name, detail=f"{tb.rows_updated:,} updates, {100 * ratio:.0f}% HOT; "
                                                             f"fillfactor {tb.fillfactor}; {tb.index_count} indexes")
                  for tb, ratio in cold[:EVIDENCE_LIMIT]],
        impact="An update that is not HOT writes a new entry in every index of the table and leaves dead index "
               "entries for vacuum: more WAL, more IO, faster index bloat.",
        fix="Leave room on the pages (fillfactor 80-90, applies to pages written from now on) and avoid indexing "
            "the columns updated most (an updated indexed column prevents HOT).",
        statement="\n".join(f"ALTER TABLE {qualified(tb.schema_name, tb.name)} SET (fillfactor = 90);"
                            for tb, _ in cold[:EVIDENCE_LIMIT]))
