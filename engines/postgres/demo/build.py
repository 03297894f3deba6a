"""Building the demo: a throwaway cluster with the analytics schema, a million-row table and the
planted problems of schema.sql and problems.sql, reporting each step as it goes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from ..cluster import LocalCluster
from ..refresh_log import install_sql

DEMO_DATABASE = "demo"
DEFAULT_ROWS = 1_000_000

# Settings of the throwaway server: enough connections for the workload and the app, memory for
# fast index builds, no checkpoints in the middle of the load, and no JIT (compiling the
# workload's aggregates would cost more CPU than running them on a two-core machine).
DEMO_SETTINGS = {
    "max_connections": "100",
    "shared_buffers": "'256MB'",
    "maintenance_work_mem": "'512MB'",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "'8GB'",
    "checkpoint_timeout": "'30min'",
    "jit": "off",
    "pg_stat_statements.max": "10000",
    "track_functions": "'all'",
}

STEP_MARKER = re.compile(r"^-- @step (?P<message>.+)$", re.MULTILINE)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoScale:
    """How many rows each table gets, from the row count of post_metrics."""

    rows: int
    users: int
    channels: int
    posts: int
    scheduled: int

    @classmethod
    def for_rows(cls, rows: int) -> DemoScale:
        rows = int(rows)
        if rows < 1:
            raise ValueError("the demo needs at least one row in post_metrics")
        posts = max(rows // 10, 1)
        return cls(rows=rows, users=max(rows // 100, 100), channels=max(rows // 5000, 20), posts=posts,
                   scheduled=max(rows // 10, 100))

    def psql_variables(self) -> str:
        """`\\set` lines for psql. Every value is an int, so nothing can be injected."""
        return "".join(f"\\set {name} {int(value)}\n" for name, value in vars(self).items())


@dataclass(frozen=True)
class SqlStep:
    message: str
    sql: str


def sql_steps(file_name: str, scale: DemoScale) -> list[SqlStep]:
    """The parts of a demo .sql file, split at its `-- @step` lines; `:rows` in a step's message
    reads as the row count."""
    text = resources.files(__package__).joinpath(file_name).read_text()
    matches = list(STEP_MARKER.finditer(text))
    steps = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        message = match["message"].strip()
        for name, value in vars(scale).items():
            message = message.replace(f":{name}", f"{value:,}")
        steps.append(SqlStep(message=message, sql=text[match.end():end]))
    return steps


def start_demo_cluster(progress: Progress, cluster: LocalCluster | None = None) -> LocalCluster:
    """initdb and start a cluster (a new one in a temporary directory unless one is given)."""
    cluster = cluster or LocalCluster()
    progress(f"creating a PostgreSQL cluster in {cluster.base_dir}…")
    cluster.initdb(settings=DEMO_SETTINGS)
    progress(f"starting PostgreSQL on port {cluster.port}…")
    cluster.start()
    return cluster


def load_demo(cluster: LocalCluster, rows: int, progress: Progress) -> None:
    """Create the demo database in a running cluster: schema, data, planted problems, statistics."""
    scale = DemoScale.for_rows(rows)
    progress(f"creating database {DEMO_DATABASE} with pg_stat_statements…")
    cluster.psql(f"CREATE DATABASE {DEMO_DATABASE}")
    cluster.psql("CREATE EXTENSION pg_stat_statements", database=DEMO_DATABASE)
    for file_name in ("schema.sql", "problems.sql"):
        for step in sql_steps(file_name, scale):
            progress(f"{step.message}…")
            cluster.psql(scale.psql_variables() + step.sql, database=DEMO_DATABASE)
    progress("installing dbtop's refresh log for materialized views…")
    cluster.psql(install_sql(), database=DEMO_DATABASE)
    progress("gathering planner statistics (ANALYZE)…")
    cluster.psql("ANALYZE", database=DEMO_DATABASE)
    # The build's own statements are not the workload's: start pg_stat_statements empty.
    cluster.psql("SELECT pg_stat_statements_reset()", database=DEMO_DATABASE)


def build_demo(rows: int = DEFAULT_ROWS, progress: Progress = lambda message: None,
               cluster: LocalCluster | None = None) -> LocalCluster:
    """A running cluster with the demo database loaded. On failure the cluster is destroyed."""
    started = time.monotonic()
    cluster = cluster or LocalCluster()
    try:
        start_demo_cluster(progress, cluster)
        load_demo(cluster, rows, progress)
    except BaseException:
        cluster.destroy()
        raise
    progress(f"demo database built in {time.monotonic() - started:.1f} s")
    return cluster


def lock_chain_state(cluster: LocalCluster) -> tuple[int, int]:
    """(depth of the deepest blocking chain, sessions waiting on a lock) in the demo database."""
    text = resources.files(__package__).joinpath("lock_chain.sql").read_text()
    depth, _, waiting = cluster.psql(text, database=DEMO_DATABASE).partition("|")
    return int(depth or 0), int(waiting or 0)


def wait_for_lock_chain(cluster: LocalCluster, depth: int = 3, waiting: int = 3, timeout_s: float = 30.0) -> bool:
    """Wait until the workload's lock chain has formed; False if it did not within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current_depth, current_waiting = lock_chain_state(cluster)
        if current_depth >= depth and current_waiting >= waiting:
            return True
        time.sleep(0.3)
    return False
