"""What the low-rate parts cost: the catalog (for findings), the materialized views and the backup
inventory, on a database with many tables, and the findings' rules over the resulting snapshot.

    .venv/bin/python bench/catalog.py [--tables 1000,5000] [--views 50] [--backups 200] [--runs 5]
                                      [--save-snapshot /tmp/catalog-{tables}.json]

Per table count: wall time (median, max) of `read_catalog` with its query count, of the views part
and of the backup inventory scan, and of evaluating every rule over the snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

from dbtop.engines.backups.inventory import BackupMetadata, collect_backup_inventory, metadata_path, write_metadata
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.catalog import read_catalog
from dbtop.engines.postgres.cluster import LocalCluster
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.postgres.views import ViewsReader
from dbtop.findings.engine import RuleCache, evaluate
from dbtop.profiles.target import resolve_target

DATABASE = "bench_catalog"


def create_objects(cluster: LocalCluster, tables: int, start: int, views: int) -> None:
    statements = []
    for i in range(start, tables):
        statements.append(f"CREATE TABLE t{i} (id int PRIMARY KEY, parent_id int REFERENCES t{max(i - 1, 0)} (id), "
                          f"v text, at timestamptz DEFAULT now()); CREATE INDEX ON t{i} (v);")
        if i % 10 == 0:
            statements.append(f"INSERT INTO t{i} (id, v) SELECT g, md5(g::text) FROM generate_series(1, 200) g;")
    for i in range(views if start == 0 else 0):
        statements.append(f"CREATE MATERIALIZED VIEW mv{i} AS SELECT id, at FROM t{i};")
    cluster.psql("\n".join(statements), DATABASE)


def write_backups(directory: Path, count: int) -> None:
    now = datetime.now(timezone.utc)
    for i in range(count):
        path = directory / f"app-{i:04d}.dump"
        data = f"backup {i}".encode()
        path.write_bytes(data)
        write_metadata(metadata_path(path), BackupMetadata(
            file=path.name, database="app", target="bench", format="custom",
            started_at=now - timedelta(hours=i, minutes=5), finished_at=now - timedelta(hours=i),
            server_version="15", tool_version="15", dbtop_version="bench", size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest()))


async def timed(runs: int, call) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), result


async def measure(cluster: LocalCluster, tables: int, backups_dir: Path, runs: int,
                  save_snapshot: str | None = None) -> str:
    conn = await asyncpg.connect(**cluster.connect_kwargs(database=DATABASE),
                                 server_settings={"statement_timeout": "2000", "lock_timeout": "500"})
    queries = 0

    async def fetch(query, *args):
        nonlocal queries
        queries += 1
        return await conn.fetch(query, *args)

    try:
        cat_med, cat_max, catalog = await timed(runs, lambda: read_catalog(fetch, 15))
        per_read = queries // runs
        reader = ViewsReader(WatchPolicy())
        view_med, view_max, views = await timed(runs, lambda: reader.read(conn.fetch))
        inv_med, inv_max, (backups, _) = await timed(runs, lambda: collect_backup_inventory(
            backups_dir, rpo_s=86400, retention_s=7 * 86400, keep=3))
    finally:
        await conn.close()
    collector = PostgresCollector(resolve_target(cluster.dsn(database=DATABASE)), catalog_first_after_s=0,
                                  policy=WatchPolicy(backup_dir=str(backups_dir)))
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    if save_snapshot:
        Path(save_snapshot.replace("{tables}", str(tables))).write_text(snap.model_dump_json())
    rules_med, rules_max, (findings, _) = await timed(runs, lambda: asyncio.to_thread(evaluate, snap))
    # Between catalog reads (every 5 minutes) the app's snapshots carry the same catalog: with the
    # app's RuleCache the catalog-only rules ran at the read and are not run again.
    cache = RuleCache()
    evaluate(snap, None, cache)
    later = [snap.model_copy(update={"sequence": snap.sequence + n + 1}) for n in range(runs)]
    cached_med, _, _ = await timed(runs, lambda: asyncio.to_thread(evaluate, later.pop(), None, cache))
    return (f"{tables:>6} tables | catalog {cat_med:7.1f} ms (max {cat_max:7.1f}), {per_read} queries, "
            f"{len(catalog.tables)} tables examined{' (capped)' if catalog.truncated.get('tables') else ''}, "
            f"gaps {sorted(catalog.gaps) or 'none'} | views {view_med:6.1f} ms ({len(views.views)}) | "
            f"backups {inv_med:6.1f} ms ({len(backups.entries)} files) | rules {rules_med:6.1f} ms "
            f"({len(findings)} findings), between catalog reads {cached_med:6.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default="1000,5000")
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--backups", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--save-snapshot", metavar="PATH",
                        help="write each table count's snapshot as JSON ({tables} in PATH: the count), to replay "
                             "into the app or the rules without a server")
    args = parser.parse_args()
    cluster = LocalCluster()
    cluster.initdb(settings={"max_locks_per_transaction": "256"})
    cluster.start()
    try:
        cluster.psql(f"CREATE DATABASE {DATABASE}")
        with tempfile.TemporaryDirectory() as backups:
            write_backups(Path(backups), args.backups)
            made = 0
            for count in (int(c) for c in args.tables.split(",")):
                create_objects(cluster, count, made, args.views)
                made = count
                cluster.psql("ANALYZE", DATABASE)
                print(asyncio.run(measure(cluster, count, Path(backups), args.runs, args.save_snapshot)), flush=True)
    finally:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
