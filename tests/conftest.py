"""A real PostgreSQL for the tests: a throwaway primary (and a streaming standby on demand),
started by the suite itself, as DESIGN.md's testing recipe says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from dbtop.engines.postgres.cluster import LocalCluster, ServerBinariesMissing, find_bindir
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import Target, resolve_target


# -- the layers (README: `-m "not server and not tmux"` runs the unit layer alone) ----------------
# A test is `server` when it uses a fixture that starts PostgreSQL, or it or one of its fixtures calls
# a helper that does; `tmux` when it drives dbtop in a tmux terminal; `slow` when it took over five
# seconds (`pytest --durations=25`). Markers are registered in pyproject.toml and checked strictly.
SERVER_FIXTURES = {"pg", "standby", "start_cluster", "demo", "patroni", "patroni_cluster", "pgbackrest_repo"}
SERVER_HELPERS = {"LocalCluster", "_start_cluster", "start_demo"}
SERVER_MODULES = {"test_bench_app"}  # bench/app.py starts its own cluster
TMUX_FIXTURES = {"terminal"}
TMUX_HELPERS = {"Terminal"}
TMUX_MODULES = {"test_e2e_tmux", "test_bench_app"}
# module or module::test (without parameters); tests/test_markers.py checks each still exists.
SLOW = {
    "test_demo::test_full_size_demo_builds_in_under_a_minute",
    "test_demo::test_n_plus_one_and_many_statement_shapes",
    "test_demo::test_guardian_cleans_up_after_the_demo_is_killed",
    "test_e2e_tmux::test_dbtop_in_tmux_shows_the_lock_chain_and_answers_keys",
    "test_profiles_cli::test_dbtop_name_in_a_terminal_asks_the_keyring_passphrase_once_and_connects",
    "test_profiles_cli::test_add_then_connect_with_nothing_secret_on_disk",
    "test_profiles_cli::test_a_wrong_stored_password_names_the_profile",
    "test_profiles_cli::test_profile_commands_with_a_file_keyring",
    "test_profiles_cli::test_the_fail_backend_gives_the_headless_message",
    "test_profiles_cli::test_a_wrong_profile_file_is_one_line",
    "test_rules_catalog",  # its module fixture plants a catalog (~10 s) before the first test
    "test_rules_live::test_ssl_on_is_not_a_finding",
    "test_rules_live::test_cache_hit_ratio",
    "test_rules_live::test_autovacuum_off_for_the_server",
    "test_app::test_number_keys_tab_and_zoom",
    "test_app::test_slow_queries_panel_ranks_and_shows_full_statement",
    "test_reconnect::test_the_poller_reconnects_within_one_interval_of_the_servers_return",
    "test_engine_privileges::test_no_panel_shows_an_all_clear_for_what_a_role_without_grants_could_not_read",
    "test_secrets::test_panels_show_no_secret",
    "test_markers::test_the_unit_layer_leaves_out_server_and_tmux_tests",
    "test_patroni::test_switchover_through_dbtop_swaps_the_roles",
    "test_patroni::test_failover_to_a_candidate",  # collects in two subprocesses
    "test_actions_promote::test_promote_from_the_replication_panel_with_the_primary_stopped_reports_the_new_timeline",
    "test_actions_promote::test_the_shown_pg_rewind_brings_the_old_primary_back_as_a_standby_of_the_new_one",
    "test_pgbackrest::test_a_point_in_time_restore_reaches_the_target_time_and_no_further",
}


def names_used(code) -> set[str]:
    """The global names a test's code (and the functions nested in it) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= names_used(const)
    return names


def layer_markers(module: str, name: str, fixtures: set[str], names: set[str]) -> set[str]:
    """The layer markers of test `name` in `module` (its file name without .py)."""
    markers = set()
    if fixtures & SERVER_FIXTURES or names & SERVER_HELPERS or module in SERVER_MODULES:
        markers.add("server")
    if fixtures & TMUX_FIXTURES or names & TMUX_HELPERS or module in TMUX_MODULES:
        markers.add("tmux")
    if module in SLOW or f"{module}::{name}" in SLOW:
        markers.add("slow")
    return markers


def pytest_collection_modifyitems(config, items):
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        module = item.module.__name__.rsplit(".", 1)[-1]
        name = getattr(item, "originalname", item.name)
        names = names_used(function.__code__)
        for definitions in item._fixtureinfo.name2fixturedefs.values():  # a fixture may start the server
            names |= names_used(definitions[-1].func.__code__)
        for marker in sorted(layer_markers(module, name, set(item.fixturenames), names)):
            item.add_marker(marker)


def _start_cluster(**initdb_options) -> LocalCluster:
    try:
        find_bindir()
    except ServerBinariesMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    cluster = LocalCluster()
    cluster.initdb(**initdb_options)
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def pg() -> LocalCluster:
    """The primary every test shares, with pg_stat_statements preloaded and created."""
    cluster = _start_cluster(settings={"max_connections": "200"})
    cluster.psql("CREATE EXTENSION pg_stat_statements")
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def standby(pg: LocalCluster) -> LocalCluster:
    replica = pg.create_standby()
    yield replica
    replica.destroy()


@pytest.fixture(scope="session")
def pgbackrest_repo():
    """A real pgBackRest repository (tests/pgbackrest_repo.py): a cluster of its own archiving into a
    stanza, with a full and an incr backup. Tests may add backups; none may break the stanza."""
    from .pgbackrest_repo import make_repo, pgbackrest_executable, pgbackrest_settings

    pgbackrest_executable()  # without pgBackRest: skipped naming the package (failed under CI)
    try:
        find_bindir()
    except ServerBinariesMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    cluster = LocalCluster()
    base = cluster.base_dir / "pgbr"
    try:
        cluster.initdb(settings=pgbackrest_settings(base), preload_statements=False)
        cluster.start()
        yield make_repo(cluster, base)
    finally:
        cluster.destroy()


@pytest.fixture
def start_cluster():
    """Start extra clusters (e.g. without pg_stat_statements) that are destroyed after the test."""
    started: list[LocalCluster] = []

    def start(**initdb_options) -> LocalCluster:
        cluster = _start_cluster(**initdb_options)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.destroy()


@pytest.fixture(scope="session")
def patroni_cluster():
    """A real two-node Patroni cluster over one etcd (tests/patroni_cluster.py), shared by the HA tests.
    Without the programs: a failure under CI (which installs them), a skip elsewhere, naming the packages."""
    from .patroni_cluster import PACKAGES_HINT, LocalPatroni, missing_programs

    missing = missing_programs()
    if missing:
        message = f"{', '.join(missing)} not found: {PACKAGES_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = LocalPatroni()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def patroni(patroni_cluster):
    """The shared Patroni cluster, healthy (one leader, one streaming replica, not paused) before the test."""
    patroni_cluster.wait_healthy(30)
    return patroni_cluster


@pytest.fixture
def pg_target(pg: LocalCluster) -> Target:
    return resolve_target(pg.dsn())


@pytest.fixture
async def collector(pg_target: Target) -> AsyncIterator[PostgresCollector]:
    col = PostgresCollector(pg_target)
    await col.connect()
    yield col
    await col.close()


@pytest.fixture
async def sessions(pg: LocalCluster):
    """Open real client sessions to the primary: `await sessions(user=..., database=..., app=...)`."""
    opened: list[asyncpg.Connection] = []

    async def open_session(user: str | None = None, database: str = "postgres", app: str = "pytest",
                           cluster: LocalCluster | None = None, **kwargs) -> asyncpg.Connection:
        target = cluster or pg
        conn = await asyncpg.connect(**target.connect_kwargs(user=user, database=database),
                                     server_settings={"application_name": app}, **kwargs)
        opened.append(conn)
        return conn

    yield open_session
    for conn in opened:
        conn.terminate()


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async or sync predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def record_fetches(collector: PostgresCollector, reading: str) -> list[list]:
    """The rows the collector's queries that read `reading` (a view or function name) returned, one
    list per call, appended as the collector runs them."""
    fetch = collector._fetch
    returned: list[list] = []

    async def recording(query, *args):
        rows = await fetch(query, *args)
        if reading in query:
            returned.append(rows)
        return rows

    collector._fetch = recording
    return returned


def dbtop_command() -> list[str]:
    """The installed console script, run as a subprocess."""
    exe = os.path.join(os.path.dirname(sys.executable), "dbtop")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "dbtop.tui"]


def voluntary_switches(tid: int, pid: int | None = None) -> int:
    """How many times thread `tid` of process `pid` (else this one) has gone to sleep: each is a wake."""
    with open(f"/proc/{pid or os.getpid()}/task/{tid}/status") as f:
        return int(f.read().split("voluntary_ctxt_switches:")[1].split()[0])


@contextlib.contextmanager
def environment(**values: str | None):
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class LockChain:
    """Three real sessions: `holder` keeps row 1 locked, idle in transaction; `middle` holds row 2
    and waits for row 1; `tail` waits for row 2. Made by open_lock_chain()."""

    holder: asyncpg.Connection
    middle: asyncpg.Connection
    tail: asyncpg.Connection
    waits: list[asyncio.Future]

    def pid(self, name: str) -> int:
        return getattr(self, name).get_server_pid()

    async def release(self) -> None:
        for conn in (self.holder, self.middle, self.tail):
            conn.terminate()
        await asyncio.gather(*self.waits, return_exceptions=True)


async def open_lock_chain(sessions, table: str, apps: tuple[str, str, str] = ("holder", "middle", "tail")) -> LockChain:
    setup = await sessions()
    await setup.execute(f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int PRIMARY KEY, v int);"
                        f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    holder, middle, tail = [await sessions(app=app) for app in apps]
    await holder.execute(f"BEGIN; UPDATE {table} SET v = 1 WHERE id = 1")
    await middle.execute(f"BEGIN; UPDATE {table} SET v = 2 WHERE id = 2")

    async def waiting(conn: asyncpg.Connection) -> bool:
        return await setup.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1",
                                    conn.get_server_pid())

    # one after the other, so that each queues where the chain says
    waits = [asyncio.ensure_future(middle.execute(f"UPDATE {table} SET v = 3 WHERE id = 1"))]
    await wait_until(lambda: waiting(middle))
    waits.append(asyncio.ensure_future(tail.execute(f"UPDATE {table} SET v = 4 WHERE id = 2")))
    await wait_until(lambda: waiting(tail))
    return LockChain(holder, middle, tail, waits)
