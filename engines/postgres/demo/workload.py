"""The demo's background workload, and the guardian of the demo cluster.

Runs as a subprocess of `dbtop demo`:

    python -m dbtop.engines.postgres.demo.workload --dsn "host=… port=… user=postgres dbname=demo" \
        --parent-pid N --cluster-dir DIR [--wait-for-start]

It plays a small application against the demo database with asyncpg: an API that loads users
one by one (N+1), a reporting job running aggregates over post_metrics, workers sleeping in slow
statements, sessions left idle in transaction, a lock chain three deep that holds for a couple of
minutes, dissolves and forms again, and enough differently shaped statements to fill
pg_stat_statements. It is gentle on a two-core machine, and every actor survives errors (lock
timeouts, cancels, lost connections) by reconnecting after a pause.

As the guardian, it watches the parent: when the parent process is gone (killed with SIGKILL, so
it could not clean up) it stops the cluster and removes its directory. On SIGTERM from a living
parent it only stops the workload; the parent removes the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from importlib import resources
from pathlib import Path

import asyncpg

from ....profiles.target import resolve_target
from ..cluster import LocalCluster

# The only directories the guardian removes: the ones LocalCluster creates in the temporary directory.
CLUSTER_DIR_PREFIX = "dbtop-pg-"
PARENT_CHECK_S = 0.5

# -- statements run in the loops (the long ones are in reports.sql) -------------------------------
CHANNEL_LATEST_POSTS = ("SELECT id, author_id, title, published_at FROM posts WHERE channel_id = $1 "
                        "ORDER BY published_at DESC LIMIT 20")
USER_BY_ID = "SELECT * FROM users WHERE id = $1"
POST_METRIC_HISTORY = ("SELECT recorded_at, impressions, likes, comments FROM post_metrics WHERE post_id = $1 "
                       "ORDER BY recorded_at")
# The export reads users, not the tables with planted index problems: its 2-minute transaction
# would otherwise make every DROP INDEX CONCURRENTLY on them wait, and fail, in the demo.
COUNT_PLAN_USERS = "SELECT count(*) FROM users WHERE plan = $1"
LOCK_USER_ROW = "SELECT id, plan FROM users WHERE id = $1 FOR UPDATE"
TOUCH_POST = "UPDATE posts SET updated_at = now() WHERE id = $1"
RECORD_METRIC = ("INSERT INTO post_metrics (post_id, recorded_at, impressions, reach, likes, comments, shares, "
                 "saves, clicks, source) VALUES ($1, now(), $2, $3, $4, 0, 0, 0, 0, 'api_poll') "
                 "ON CONFLICT DO NOTHING")
SCHEDULE_POST = ("INSERT INTO scheduled_posts (post_id, channel_id, created_by, scheduled_for) "
                 "VALUES ($1, $2, $3, now() + $4 * interval '1 minute') RETURNING id")
SLOW_SLEEP = "SELECT pg_sleep($1)"
SLOW_EXPORT = "SELECT pg_sleep($1), count(*) FROM channels"
MAX_IDS = "SELECT (SELECT max(id) FROM users), (SELECT max(id) FROM channels), (SELECT max(id) FROM posts)"
# The lock chain: A holds channel 1; B holds channel 2 and waits for 1; C waits for 2; D waits for 1.
LOCK_CHANNEL_FOLLOWERS = "UPDATE channels SET followers = followers + 1, updated_at = now() WHERE id = $1"
LOCK_CHANNEL_TITLE = "UPDATE channels SET title = title, updated_at = now() WHERE id = $1"
LOCK_CHANNEL_ACTIVE = "UPDATE channels SET is_active = true, updated_at = now() WHERE id = $1"

# Column sets for the statements of varied shape (an ORM's many projections): with IN-lists of
# 1 to 25 ids and two orders they make about 900 distinct statements in pg_stat_statements.
VARIED_COLUMNS = {
    "posts": ["id, title", "id, channel_id, status", "id, author_id, kind, published_at",
              "id, title, body", "id, status, updated_at", "id, channel_id, author_id, title, published_at"],
    "users": ["id, email", "id, display_name, plan", "id, country, created_at",
              "id, email, display_name, last_login_at", "id, plan, deleted_at", "id, display_name"],
    "channels": ["id, handle", "id, platform, handle, title", "id, followers",
                 "id, title, is_active, updated_at", "id, owner_id, platform", "id, created_at"],
}
MAX_IN_LIST = 25

REPORT_NAME = re.compile(r"^-- name: (?P<name>\w+)$", re.MULTILINE)
POST_KINDS = ["image", "video", "reel", "text", "link", "carousel"]
PLANS = ["free", "pro", "business"]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} workload: {message}", file=sys.stderr, flush=True)


@cache
def report_queries() -> dict[str, str]:
    """The `-- name:` sections of reports.sql."""
    text = resources.files(__package__).joinpath("reports.sql").read_text()
    matches = list(REPORT_NAME.finditer(text))
    return {m["name"]: text[m.end():matches[i + 1].start() if i + 1 < len(matches) else len(text)].strip()
            for i, m in enumerate(matches)}


def varied_statement(rng: random.Random) -> tuple[str, str, int]:
    """(table, statement, number of ids): a SELECT of one of the fixed column sets by an IN-list
    of random length. Every identifier comes from VARIED_COLUMNS; the ids are bind parameters."""
    table = rng.choice(list(VARIED_COLUMNS))
    columns = rng.choice(VARIED_COLUMNS[table])
    count = rng.randint(1, MAX_IN_LIST)
    params = ", ".join(f"${i}" for i in range(1, count + 1))
    order = " ORDER BY id DESC" if rng.random() < 0.5 else ""
    return table, f"SELECT {columns} FROM {table} WHERE id IN ({params}){order}", count


class DemoWorkload:
    """The actors of the demo application, each in its own loop that survives errors."""

    def __init__(self, connect_kwargs: dict, *, lock_hold_s: float = 120.0, lock_pause_s: float = 10.0,
                 lock_rest_after_fix_s: float = 15.0, idle_in_transaction_s: float = 90.0, seed: int | None = None):
        self.connect_kwargs = connect_kwargs
        self.lock_hold_s = lock_hold_s
        self.lock_pause_s = lock_pause_s
        self.lock_rest_after_fix_s = lock_rest_after_fix_s
        self.idle_in_transaction_s = idle_in_transaction_s
        self.rng = random.Random(seed)
        self.max_user = self.max_channel = self.max_post = 1

    @contextlib.asynccontextmanager
    async def session(self, application: str, **settings: str) -> AsyncIterator[asyncpg.Connection]:
        """A connection that looks like the application's; dropped at once when the actor ends."""
        conn = await asyncpg.connect(**self.connect_kwargs, timeout=10, command_timeout=None,
                                     server_settings={"application_name": application, **settings})
        try:
            yield conn
        finally:
            conn.terminate()

    async def run(self) -> None:
        await self.forever("sizes", self.read_sizes, once=True)
        actors: dict[str, Callable[[], Awaitable[None]]] = {
            "api (N+1)": self.api_channel_pages,
            "api (varied statements)": self.api_varied_statements,
            "api (idle in transaction)": self.api_idle_in_transaction,
            "reporting": self.reporting_aggregates,
            "reporting (idle in transaction)": self.reporting_idle_in_transaction,
            "worker (slow)": self.worker_slow_statements,
            "worker (slow, second)": self.worker_slow_statements,
            "worker (writes)": self.worker_writes,
            "scheduler": self.scheduler,
            "reporting (view refresh)": self.refresh_daily_metrics,
            "lock chain": self.lock_chain,
        }
        await asyncio.gather(*(self.forever(name, actor) for name, actor in actors.items()))

    async def forever(self, name: str, actor: Callable[[], Awaitable[None]], once: bool = False) -> None:
        """Run `actor` again and again; an error is logged and retried after a growing pause."""
        pause = 1.0
        while True:
            try:
                await actor()
                pause = 1.0
                if once:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the workload must outlive every error
                log(f"{name}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}; retrying in {pause:g} s")
                await asyncio.sleep(pause * (0.5 + self.rng.random()))
                pause = min(pause * 2, 30.0)

    async def read_sizes(self) -> None:
        async with self.session("api") as conn:
            row = await conn.fetchrow(MAX_IDS)
        self.max_user, self.max_channel, self.max_post = (max(int(v or 1), 1) for v in row)

    def user_id(self) -> int:
        return self.rng.randint(1, self.max_user)

    def channel_id(self) -> int:
        # Channels 1 and 2 are the lock chain's; the application works on the others.
        return self.rng.randint(3, max(self.max_channel, 3))

    def post_id(self) -> int:
        return self.rng.randint(1, self.max_post)

    # -- the actors ------------------------------------------------------------------------------
    async def api_channel_pages(self) -> None:
        """A channel page: the latest posts, then each author fetched by id, one query per row."""
        async with self.session("api", statement_timeout="5000") as conn:
            while True:
                posts = await conn.fetch(CHANNEL_LATEST_POSTS, self.channel_id())
                for post in posts:
                    await conn.fetchrow(USER_BY_ID, post["author_id"])
                if posts and self.rng.random() < 0.3:
                    await conn.fetch(POST_METRIC_HISTORY, posts[0]["id"])
                await asyncio.sleep(0.25)

    async def api_varied_statements(self) -> None:
        async with self.session("api", statement_timeout="5000") as conn:
            while True:
                table, statement, count = varied_statement(self.rng)
                top = {"posts": self.max_post, "users": self.max_user, "channels": self.max_channel}[table]
                await conn.fetch(statement, *(self.rng.randint(1, top) for _ in range(count)))
                await asyncio.sleep(0.2)

    async def api_idle_in_transaction(self) -> None:
        """A request handler that locked a user row and then forgot to commit."""
        async with self.session("api") as conn:
            await conn.execute("BEGIN")
            await conn.fetchrow(LOCK_USER_ROW, self.user_id())
            await asyncio.sleep(self.idle_in_transaction_s * (0.8 + 0.4 * self.rng.random()))
            await conn.execute("ROLLBACK")
        await asyncio.sleep(3)

    async def reporting_idle_in_transaction(self) -> None:
        """A report export holding a repeatable-read snapshot open while it formats the output."""
        async with self.session("reporting") as conn:
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            await conn.fetchval(COUNT_PLAN_USERS, self.rng.choice(PLANS))
            await asyncio.sleep(self.idle_in_transaction_s * 1.5 * (0.8 + 0.4 * self.rng.random()))
            await conn.execute("COMMIT")
        await asyncio.sleep(3)

    async def reporting_aggregates(self) -> None:
        """Dashboards refreshing: one aggregate over post_metrics at a time, with pauses between."""
        reports = report_queries()
        arguments = {
            "top_channels_by_kind": lambda: (self.rng.choice(POST_KINDS),),
            "metrics_by_source": lambda: (),
            "clicks_by_country_for_plan": lambda: (self.rng.choice(PLANS),),
            "impression_percentiles_for_posts": self._post_range,
            "engagement_rate_by_kind": lambda: (),
        }
        async with self.session("reporting", statement_timeout="30000", work_mem="16MB") as conn:
            while True:
                name = self.rng.choice(list(reports))
                await conn.fetch(reports[name], *arguments[name]())
                await asyncio.sleep(2 + 3 * self.rng.random())

    async def refresh_daily_metrics(self) -> None:
        """The job that keeps the healthy view fresh: a concurrent refresh now and then, which dbtop's
        refresh log records (the planted views are never refreshed)."""
        async with self.session("reporting (view refresh)", statement_timeout="120000") as conn:
            await asyncio.sleep(15)
            while True:
                await conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY channel_daily_metrics")
                await asyncio.sleep(240 + 60 * self.rng.random())

    def _post_range(self) -> tuple[int, int]:
        start = self.post_id()
        return start, start + self.max_post // 5

    async def worker_slow_statements(self) -> None:
        """Background jobs stuck on slow calls (an external API, a big export): pg_sleep stands in.
        Calls of 0.4 to 2.5 s with short gaps, so that every refresh interval sees some finish:
        pg_stat_statements counts a statement when it ends."""
        async with self.session("worker") as conn:
            while True:
                if self.rng.random() < 0.5:
                    await conn.fetchval(SLOW_SLEEP, 0.8 + 1.7 * self.rng.random())
                else:
                    await conn.fetchrow(SLOW_EXPORT, 0.4 + 1.2 * self.rng.random())
                await asyncio.sleep(0.2 + 0.3 * self.rng.random())

    async def worker_writes(self) -> None:
        """The metrics collector: new samples for recent posts, and posts touched as it goes."""
        async with self.session("worker", statement_timeout="5000", lock_timeout="1000") as conn:
            while True:
                post = self.rng.randint(max(1, self.max_post - 500), self.max_post)
                base = self.rng.randint(100, 20000)
                await conn.execute(RECORD_METRIC, post, base, int(base * 0.8), int(base * 0.05))
                if self.rng.random() < 0.3:
                    await conn.execute(TOUCH_POST, post)
                await asyncio.sleep(0.5)

    async def scheduler(self) -> None:
        """Queues posts for publishing. It only inserts: reading scheduled_posts' old pages would
        prune the dead tuples the demo planted there."""
        async with self.session("scheduler", statement_timeout="5000") as conn:
            while True:
                await conn.fetchval(SCHEDULE_POST, self.post_id(), self.channel_id(), self.user_id(),
                                    self.rng.randint(5, 600))
                await asyncio.sleep(3 + 2 * self.rng.random())

    async def lock_chain(self) -> None:
        """A three-deep lock chain on channels 1 and 2, held for a while, then released.

        A ('api') updates channel 1 and stays idle in transaction. B ('worker') updates channel 2,
        then waits for channel 1 behind A. C ('worker') waits for channel 2 behind B. D
        ('scheduler') waits for channel 1 too, queued behind B's tuple lock: A -> B -> {C, D}.
        """
        no_timeouts = {"lock_timeout": "0", "statement_timeout": "0"}
        broken: str | None = None
        async with contextlib.AsyncExitStack() as stack:
            holder = await stack.enter_async_context(self.session("api", **no_timeouts))
            middle = await stack.enter_async_context(self.session("worker", **no_timeouts))
            tail = await stack.enter_async_context(self.session("worker", **no_timeouts))
            late = await stack.enter_async_context(self.session("scheduler", **no_timeouts))
            waits: list[asyncio.Task] = []
            try:
                await holder.execute("BEGIN")
                await holder.execute(LOCK_CHANNEL_FOLLOWERS, 1)
                await middle.execute("BEGIN")
                await middle.execute(LOCK_CHANNEL_FOLLOWERS, 2)
                waits.append(asyncio.ensure_future(middle.execute(LOCK_CHANNEL_TITLE, 1)))
                await asyncio.sleep(0.3)
                waits.append(asyncio.ensure_future(tail.execute(LOCK_CHANNEL_TITLE, 2)))
                await asyncio.sleep(0.3)
                waits.append(asyncio.ensure_future(late.execute(LOCK_CHANNEL_ACTIVE, 1)))
                hold = asyncio.ensure_future(asyncio.sleep(self.lock_hold_s))
                done, _ = await asyncio.wait([hold, *waits], return_when=asyncio.FIRST_COMPLETED)
                if not hold.done():
                    # A waiter got its lock or failed (its session terminated, its statement
                    # cancelled): the operator fixed it. Let the fix show before planting it again.
                    hold.cancel()
                    failure = next((t.exception() for t in done if t.exception() is not None), None)
                    broken = (f"{type(failure).__name__}: {' '.join(str(failure).split())[:200]}" if failure
                              else "a waiting session got its lock early")
                else:
                    await holder.execute("COMMIT")
                    await asyncio.wait_for(waits[0], timeout=30)
                    await middle.execute("COMMIT")
                    await asyncio.wait_for(asyncio.gather(*waits[1:]), timeout=30)
            finally:
                for wait in waits:
                    wait.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        if broken is not None:
            log(f"lock chain: broken ({broken}); planted again in {self.lock_rest_after_fix_s:g} s")
            await asyncio.sleep(self.lock_rest_after_fix_s)
        else:
            await asyncio.sleep(self.lock_pause_s)


# -- the guardian --------------------------------------------------------------------------------
class ParentWatch:
    """Whether the process that started us still runs. A child whose parent dies is re-parented,
    so getppid() changing is proof; kill(pid, 0) covers a workload not started by its parent."""

    def __init__(self, parent_pid: int):
        self.parent_pid = parent_pid
        self.started_by_parent = os.getppid() == parent_pid

    def alive(self) -> bool:
        if self.started_by_parent:
            return os.getppid() == self.parent_pid
        try:
            os.kill(self.parent_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def remove_cluster(cluster_dir: Path) -> None:
    """Stop the cluster in `cluster_dir` at once and remove the directory."""
    if not cluster_dir.name.startswith(CLUSTER_DIR_PREFIX):
        log(f"not removing {cluster_dir}: not a directory dbtop created")
        return
    # A build step that was running when the parent died may still write into the directory for a
    # moment (initdb, pg_ctl start): check again after a pause.
    for _ in range(3):
        if cluster_dir.exists():
            LocalCluster(base_dir=cluster_dir, port=_port_of(cluster_dir)).destroy()
            log(f"removed {cluster_dir}")
        time.sleep(1.0)


def _port_of(cluster_dir: Path) -> int:
    """The port from postmaster.pid (its fourth line); any number will do when there is none,
    since stopping uses the data directory, not the port."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        return int((cluster_dir / "data" / "postmaster.pid").read_text().splitlines()[3])
    return 5432


def watch_stdin(on_start: Callable[[], None], on_eof: Callable[[], None]) -> None:
    """Read the parent's pipe on a thread: a `start` line starts the workload; end of file means
    the parent is gone (the kernel closes its end when it dies, however it dies)."""

    def read() -> None:
        for line in sys.stdin:
            if line.strip() == "start":
                on_start()
        on_eof()

    threading.Thread(target=read, name="parent-pipe", daemon=True).start()


async def run(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    target = resolve_target(args.dsn)
    connect_kwargs = {"host": target.hosts[0] if target.hosts else None,
                      "port": target.ports[0] if target.ports else None,
                      "user": target.user, "database": target.database}
    parent = ParentWatch(args.parent_pid)
    stop = asyncio.Event()
    parent_gone = asyncio.Event()
    start = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    for ignored in (signal.SIGINT, signal.SIGHUP):
        # The terminal's Ctrl-C and hang-up are the parent's to handle; it then stops us.
        loop.add_signal_handler(ignored, lambda: None)

    if args.wait_for_start:
        watch_stdin(lambda: loop.call_soon_threadsafe(start.set),
                    lambda: loop.call_soon_threadsafe(parent_gone.set))
    else:
        start.set()

    async def watch_parent() -> None:
        while parent.alive():
            await asyncio.sleep(PARENT_CHECK_S)
        parent_gone.set()

    watcher = asyncio.ensure_future(watch_parent())
    workload = DemoWorkload({k: v for k, v in connect_kwargs.items() if v is not None},
                            lock_hold_s=args.lock_hold_s, lock_pause_s=args.lock_pause_s,
                            idle_in_transaction_s=args.idle_in_transaction_s)
    running: asyncio.Task | None = None
    ends = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(parent_gone.wait())]
    starting = asyncio.ensure_future(start.wait())
    await asyncio.wait([starting, *ends], return_when=asyncio.FIRST_COMPLETED)
    if start.is_set() and not (stop.is_set() or parent_gone.is_set()):
        log(f"started against {target.label}")
        running = asyncio.ensure_future(workload.run())
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
    for task in (running, watcher, starting, *ends):
        if task is not None:
            task.cancel()
    if running is not None:
        await asyncio.gather(running, return_exceptions=True)

    if parent_gone.is_set() or not parent.alive():
        log(f"parent process {args.parent_pid} is gone: stopping the cluster and removing {args.cluster_dir}")
        await asyncio.to_thread(remove_cluster, Path(args.cluster_dir))
    else:
        log("stopped")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dbtop.engines.postgres.demo.workload",
        description="The background workload of `dbtop demo`, and the guardian that removes the demo "
                    "cluster when its parent process disappears.")
    parser.add_argument("--dsn", required=True, help="libpq keyword string or URL of the demo database")
    parser.add_argument("--parent-pid", type=int, required=True, help="the dbtop demo process to watch")
    parser.add_argument("--cluster-dir", required=True, help="the cluster's directory, removed if the parent dies")
    parser.add_argument("--wait-for-start", action="store_true",
                        help="guard at once, but start the workload only when a 'start' line arrives on stdin")
    parser.add_argument("--lock-hold-s", type=float, default=120.0, help="how long the lock chain holds")
    parser.add_argument("--lock-pause-s", type=float, default=10.0, help="pause before the chain forms again")
    parser.add_argument("--idle-in-transaction-s", type=float, default=90.0,
                        help="how long sessions stay idle in transaction")
    return parser.parse_args(argv)


def spawn_command(dsn: str, cluster_dir: Path, parent_pid: int | None = None) -> list[str]:
    """The command line that runs this module for a demo cluster."""
    return [sys.executable, "-m", __name__, "--dsn", dsn, "--parent-pid", str(parent_pid or os.getpid()),
            "--cluster-dir", str(cluster_dir), "--wait-for-start"]


class WorkloadProcess:
    """The workload subprocess as the parent sees it: spawned (guarding at once), told to start,
    restarted if it dies unexpectedly, and stopped before the cluster is removed."""

    def __init__(self, dsn: str, cluster_dir: Path, log_path: Path):
        self.command = spawn_command(dsn, cluster_dir)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._started = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            log_file = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
            try:
                # Its own session: the terminal's Ctrl-C and hang-up go to the parent only, which
                # then stops the workload in order.
                self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=log_file,
                                                stderr=log_file, start_new_session=True, close_fds=True)
            finally:
                log_file.close()
            if self._started:
                self._tell_start()

    def start(self) -> None:
        """Start the workload (the cluster is loaded) and keep it running."""
        with self._lock:
            self._started = True
            self._tell_start()
        self._watcher = threading.Thread(target=self._keep_running, name="workload-watch", daemon=True)
        self._watcher.start()

    def _tell_start(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write(b"start\n")
            self.process.stdin.flush()

    def _keep_running(self) -> None:
        pause = 1.0
        while not self._stopping.wait(1.0):
            process = self.process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                self.restarts += 1
                if self._stopping.wait(pause):
                    return
                self.spawn()
                pause = min(pause * 2, 60.0)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not end in time. The pipe is closed only after."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
