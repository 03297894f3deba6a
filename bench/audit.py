"""What `dbtop audit` costs on a database with many tables (bench/catalog.py's objects), end to end:
wall time, the client's CPU and the server's (its backends' CPU, reaped into the postmaster's
cutime + cstime), min and median of N runs. CPU is the figure to compare on a shared machine: wall
time there follows the other processes' load.

    .venv/bin/python bench/audit.py [--tables 5000] [--runs 8] [--dbtop PATH ...]

Several --dbtop executables (another checkout's venv, e.g. a commit before a change) run interleaved
on the same database.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dbtop.engines.postgres.cluster import LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.catalog import DATABASE, create_objects  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def server_cpu_ms(cluster: LocalCluster) -> float:
    pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) * 1000 / TICK  # utime stime cutime cstime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--dbtop", action="append", help="a dbtop executable (default: this checkout's)")
    args = parser.parse_args()
    binaries = args.dbtop or [str(Path(sys.executable).parent / "dbtop")]
    cluster = LocalCluster()
    cluster.initdb(settings={"max_locks_per_transaction": "256"})
    cluster.start()
    try:
        cluster.psql(f"CREATE DATABASE {DATABASE}")
        cluster.psql("CREATE EXTENSION pg_stat_statements", DATABASE)
        create_objects(cluster, args.tables, 0, 50)
        cluster.psql("ANALYZE", DATABASE)
        dsn = cluster.dsn(database=DATABASE)
        figures = {b: {"wall": [], "client": [], "server": []} for b in binaries}
        for _ in range(args.runs):
            for binary in binaries:
                before_server = server_cpu_ms(cluster)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                done = subprocess.run([binary, "audit", dsn, "--format", "json"], capture_output=True, text=True)
                wall = (time.perf_counter() - started) * 1000
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                time.sleep(0.3)  # the audit's backend exits and is reaped
                if done.returncode != 0:
                    print(f"{binary}: exit {done.returncode}: {done.stderr.strip()[:200]}", file=sys.stderr)
                    return 1
                figures[binary]["wall"].append(wall)
                figures[binary]["client"].append(
                    (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
                figures[binary]["server"].append(server_cpu_ms(cluster) - before_server)
        for binary, measured in figures.items():
            print(f"{args.tables} tables | {binary} | " + " | ".join(
                f"{name} min {min(v):6.0f} ms, median {statistics.median(v):6.0f} ms" for name, v in measured.items()))
    finally:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
