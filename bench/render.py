"""What the dashboard costs the machine it runs on: applying a snapshot, event-loop lag while
refreshing, start-up time to the first data on screen, and memory.

    .venv/bin/python bench/render.py [--snapshots 40] [--lag-seconds 15] [--startups 5]

Apply and lag run the real DbtopApp headless (Textual's run_test, 120x40) fed by a collector
that hands out prepared snapshots of 1000 sessions (a three-deep lock chain among them) and 2000
statements, changing from one to the next as a live server's do: durations grow, sessions come
and go, a few hundred statements run. The snapshots are made up, the app and panels are not.
Start-up runs the installed `dbtop` in tmux against a throwaway PostgreSQL and times until the
first snapshot is drawn.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from dbtop.engines.blocking import build_blocking
from dbtop.engines.postgres.cluster import LocalCluster
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.snapshot import (
    Activity,
    PostgresSection,
    Replication,
    ReplicationSlot,
    ServerInfo,
    Session,
    Snapshot,
    Standby,
    Statement,
    StatementDelta,
    Statements,
)
from dbtop.tui.app import PANELS, DbtopApp, SnapshotArrived
from dbtop.tui.poller import SnapshotPoller

SESSIONS = 1000
STATEMENTS = 2000
TARGETS = {"apply_ms": 25.0, "lag_p95_ms": 100.0, "startup_s": 1.0, "rss_mb": 200.0}
USERS = ["app", "api", "reporting", "etl", "postgres"]
APPS = ["api", "worker", "reporting", "scheduler", "psql", "metabase"]
STATES = ["idle"] * 6 + ["active", "idle in transaction"]


class PreparedCollector:
    """Hands out the next prepared snapshot; stands in for a server in this benchmark only."""

    engine = "postgres"
    policy = WatchPolicy()

    def __init__(self, snapshots: list[Snapshot]):
        self.snapshots = snapshots
        self.index = 0
        self.target = type("T", (), {"label": "bench", "connect_timeout_s": 1.0})()

    async def connect(self) -> None:
        return None

    async def snapshot(self) -> Snapshot:
        snap = self.snapshots[self.index % len(self.snapshots)]
        self.index += 1
        return snap.model_copy(update={"sequence": self.index, "taken_at": datetime.now(timezone.utc)})

    async def close(self) -> None:
        return None


def make_snapshots(count: int, seed: int = 7) -> list[Snapshot]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    base_pids = list(range(10_000, 10_000 + SESSIONS))
    statement_counts = {i: rng.randint(1, 100_000) for i in range(STATEMENTS)}
    statement_times = {i: statement_counts[i] * rng.uniform(0.01, 40) for i in range(STATEMENTS)}
    snapshots = []
    for n in range(count):
        pids = base_pids[:]
        # a few sessions end and new ones arrive each refresh
        for _ in range(10):
            pids[rng.randrange(len(pids))] = 20_000 + n * 10 + rng.randrange(10)
        sessions = []
        for i, pid in enumerate(pids):
            state = STATES[pid % len(STATES)]
            age = 0.5 * n + (pid % 600)
            blocked = []
            if i == 1:
                blocked = [pids[0]]
            elif i == 2:
                blocked = [pids[1]]
            sessions.append(Session(
                pid=pid, user=USERS[pid % len(USERS)], database="app", application=APPS[pid % len(APPS)],
                client=f"10.0.{pid % 250}.{pid % 200}:{40000 + pid % 20000}", backend_type="client backend",
                state="active" if blocked else state, wait_event_type="Lock" if blocked else "Client",
                wait_event="transactionid" if blocked else "ClientRead",
                backend_start=now - timedelta(hours=1), state_s=age, xact_s=age if state != "idle" else None,
                query_s=age, query_id=pid % 300,
                query=f"SELECT o.id, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
                      f"WHERE c.region = $1 AND o.created_at > now() - interval '{pid % 30} days' /* {pid} */",
                blocked_by=blocked))
        entries, deltas = [], {}
        ran = set(rng.sample(range(STATEMENTS), 300))
        for i in range(STATEMENTS):
            if i in ran:
                calls = rng.randint(1, 200)
                spent = calls * rng.uniform(0.01, 40)
                statement_counts[i] += calls
                statement_times[i] += spent
            key = f"{i}:10:5:t"
            entries.append(Statement(
                key=key, query_id=i, user_id=10, database_id=5, user="app", database="app",
                query=f"SELECT * FROM table_{i % 200} WHERE col_{i % 10} = $1 ORDER BY id LIMIT $2",
                calls=statement_counts[i], total_time_ms=statement_times[i],
                mean_time_ms=statement_times[i] / statement_counts[i], rows=statement_counts[i] * 3,
                shared_blks_hit=statement_counts[i] * 20, shared_blks_read=statement_counts[i]))
            if i in ran and n:
                deltas[key] = StatementDelta(
                    interval_s=0.5, calls=calls, total_time_ms=spent, rows=calls * 3, shared_blks_hit=calls * 20,
                    shared_blks_read=calls, calls_per_s=calls * 2, time_ms_per_s=spent * 2, rows_per_s=calls * 6,
                    shared_blks_hit_per_s=calls * 40, shared_blks_read_per_s=calls * 2)
        snapshots.append(Snapshot(
            sequence=n + 1, taken_at=now, target="bench@db:5432/app", engine="postgres", reachable=True,
            interval_s=0.5,
            server=ServerInfo(engine="postgres", version="15.18", version_num=150018, uptime_s=86_400 + n,
                              max_connections=1200, reserved_connections=3, database="app",
                              current_user="dbtop", monitoring_roles=["pg_monitor"]),
            connections_used=SESSIONS + 1, sessions=sessions, blocking=build_blocking(sessions, []),
            statements=Statements(extension_version="1.10", entries=entries, interval_s=0.5 if n else None,
                                  deltas=deltas),
            postgres=PostgresSection(activity=Activity(xact_commit=10_000 * n, xact_rollback=n, blks_hit=10**6 * n, blks_read=1000 * n,
                              tup_returned=0, tup_fetched=0, tup_inserted=0, tup_updated=0, tup_deleted=0,
                              deadlocks=0, temp_bytes=0, interval_s=0.5, transactions_per_s=2000 + rng.random() * 500,
                              cache_hit_ratio=0.99 + rng.random() / 100),
                                     slots=[ReplicationSlot(name="replica1", slot_type="physical", active=True,
                                                            retained_wal_bytes=16 * 2**20)]),
            replication=Replication(role="primary", standbys=[Standby(pid=99, application="replica1", state="streaming",
                                                                      replay_lag_s=0.2, replay_lag_bytes=8192)])))
    return snapshots


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure_apply(snapshots: list[Snapshot]) -> dict[str, list[float]]:
    """CPU to apply one snapshot: what a refresh does (overview + the visible panel, then the
    screen drawn), and every panel in turn."""
    poller = SnapshotPoller(PreparedCollector(snapshots[:1]), 60)
    poller.connect()
    app = DbtopApp(poller, theme_name="dbtop-dark")
    refresh, every_panel = [], []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await app.other_panels_composed()  # composed after the first screen (tui/app.py)
        poller.set_paused(True)
        for n, snap in enumerate(snapshots[1:], start=2):
            snap = snap.model_copy(update={"sequence": 1000 + n})
            started = time.process_time()
            app.on_snapshot_arrived(SnapshotArrived(snap, poller))
            await pilot.pause()  # let Textual lay out and draw the screen
            refresh.append((time.process_time() - started) * 1000)
        for n, snap in enumerate(snapshots[1:], start=2):
            started = time.process_time()
            with app.batch_update():
                for key, _, _ in app.panel_specs:
                    app.panel(key).apply(snap)
            every_panel.append((time.process_time() - started) * 1000)
    return {"refresh (overview + visible panel + draw)": refresh, "every panel (no draw)": every_panel}


async def measure_lag(snapshots: list[Snapshot], seconds: float) -> list[float]:
    """How late a 50 ms heartbeat on the UI loop fires while the app refreshes every 0.5 s."""
    poller = SnapshotPoller(PreparedCollector(snapshots), 0.5)
    poller.connect()
    app = DbtopApp(poller, theme_name="dbtop-dark")
    lags: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds

        async def heartbeat() -> None:
            expected = loop.time() + 0.05
            while loop.time() < end:
                await asyncio.sleep(max(0.0, expected - loop.time()))
                lags.append(max(0.0, loop.time() - expected) * 1000)
                expected += 0.05

        async def operator() -> None:
            # move between panels as an operator does, every 2 s
            while loop.time() < end - 2:
                await asyncio.sleep(2)
                await pilot.press("tab")

        await asyncio.gather(heartbeat(), operator())
    return lags


def measure_startup(runs: int) -> tuple[list[float], float]:
    if shutil.which("tmux") is None:
        raise SystemExit("bench/render.py needs tmux for the start-up figure: apt-get install tmux")
    exe = os.path.join(os.path.dirname(sys.executable), "dbtop")
    started = time.perf_counter()
    subprocess.run([exe, "--version"], capture_output=True, check=True)
    version_s = time.perf_counter() - started
    cluster = LocalCluster()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    times = []
    try:
        cluster.initdb()
        cluster.start()
        for _ in range(runs):
            socket = f"dbtop-bench-{uuid.uuid4().hex[:8]}"
            started = time.perf_counter()
            subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "b", "-x", "120", "-y", "40",
                            "-e", "TERM=xterm-256color", exe, cluster.dsn()], check=True, env=env)
            try:
                while True:
                    screen = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", "b"],
                                            capture_output=True, text=True).stdout
                    if "live every" in screen and "PG 1" in screen:
                        times.append(time.perf_counter() - started)
                        break
                    if time.perf_counter() - started > 20:
                        raise SystemExit(f"dbtop did not draw its first data within 20 s:\n{screen}")
                    time.sleep(0.01)
            finally:
                subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
                time.sleep(0.3)
    finally:
        cluster.destroy()
    return times, version_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshots", type=int, default=40, help="snapshots applied for the apply figure")
    parser.add_argument("--prepared", type=int, default=6,
                        help="distinct snapshots prepared and cycled (the app itself holds two or three)")
    parser.add_argument("--lag-seconds", type=float, default=15.0, help="how long to measure loop lag")
    parser.add_argument("--startups", type=int, default=5, help="start-ups of dbtop in tmux")
    args = parser.parse_args()

    print(f"preparing {args.prepared} snapshots of {SESSIONS} sessions and {STATEMENTS} statements ...",
          file=sys.stderr)
    prepared = make_snapshots(args.prepared)
    snapshots = [prepared[n % len(prepared)] for n in range(args.snapshots)]
    # The prepared snapshots are the benchmark's, not the app's: keep the collector from walking them.
    gc.collect()
    gc.freeze()
    apply = asyncio.run(measure_apply(snapshots))
    lags = asyncio.run(measure_lag(prepared, args.lag_seconds))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    startups, version_s = measure_startup(args.startups)

    print(f"\nsnapshots of {SESSIONS} sessions (a 3-deep lock chain among them) and {STATEMENTS} statements, "
          "app at 120x40, client CPU (process time)")
    print(f"{'apply one snapshot':44} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, values in apply.items():
        print(f"  {name:42} {statistics.median(values):10.1f} {pct(values, 0.95):8.1f} {max(values):8.1f}")
    print(f"\nevent-loop lag of a 50 ms heartbeat, refreshing every 0.5 s for {args.lag_seconds:g} s "
          f"({len(lags)} ticks): p50 {pct(lags, 0.5):.1f} ms, p95 {pct(lags, 0.95):.1f} ms, max {max(lags):.1f} ms")
    print(f"start-up to the first data on screen (installed dbtop in tmux, local server, {len(startups)} runs): "
          f"median {statistics.median(startups):.2f} s, max {max(startups):.2f} s  "
          f"(dbtop --version alone: {version_s:.2f} s)")
    print(f"peak RSS of the benchmark process (app in process): {rss_mb:.0f} MB")

    every = apply["every panel (no draw)"]
    refresh = apply["refresh (overview + visible panel + draw)"]
    checks = [
        ("apply one snapshot to all panels under 25 ms (median)", statistics.median(every),
         TARGETS["apply_ms"], "ms"),
        ("event-loop lag p95 under 100 ms", pct(lags, 0.95), TARGETS["lag_p95_ms"], "ms"),
        ("start-up to first data under 1.0 s (median)", statistics.median(startups), TARGETS["startup_s"], "s"),
        ("peak RSS under 200 MB", rss_mb, TARGETS["rss_mb"], "MB"),
    ]
    print(f"(a refresh as the operator sees it, with Textual drawing the visible rows, took "
          f"{statistics.median(refresh):.1f} ms median: the draw is Textual's rendering of about 40 rows x 9 cells)")
    print("\nTargets:")
    for label, value, limit, unit in checks:
        print(f"  [{'met' if value < limit else 'MISSED'}] {label}: {value:.2f} {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
