"""After an outage the dashboard is back within one refresh interval (at most 5 s) of the server,
however long the outage lasted; `r` tries at once."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone

from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.snapshot import Snapshot
from dbtop.profiles.target import resolve_target
from dbtop.tui.app import DbtopApp
from dbtop.tui.poller import SnapshotPoller

from .conftest import wait_until


def test_the_poller_reconnects_within_one_interval_of_the_servers_return(start_cluster):
    cluster = start_cluster()
    poller = SnapshotPoller(PostgresCollector(resolve_target(cluster.dsn())), interval_s=2.0)
    arrived: list[tuple[float, bool]] = []
    poller.connect()
    poller.start(lambda snap: arrived.append((time.monotonic(), snap.reachable)))
    try:
        deadline = time.monotonic() + 10
        while not any(ok for _, ok in arrived):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        cluster.stop("immediate")
        time.sleep(14)  # a long outage: a growing back-off would now wait 8 s or more
        failed = [t for t, ok in arrived if not ok]
        assert len(failed) >= 3
        cluster.start()
        back = time.monotonic()
        deadline = back + 10
        while not (arrived[-1][1] and arrived[-1][0] > back):
            assert time.monotonic() < deadline, "no snapshot within 10 s of the server's return"
            time.sleep(0.05)
        assert arrived[-1][0] - back <= 2.0 + 1.0  # one interval, and the connection itself
        gaps = [b - a for a, b in zip(failed, failed[1:])]
        assert max(gaps) <= 2.0 + 1.0, gaps
    finally:
        poller.stop()


class DownCollector:
    """A collector whose server is down: every snapshot says so; it counts the attempts."""

    engine = "postgres"
    target = resolve_target("host=db1 user=ops dbname=app", {})
    policy = WatchPolicy()  # the engine contract's: the app reads it for the findings' thresholds

    def __init__(self):
        self.attempts = 0
        self.lock = threading.Lock()

    async def connect(self) -> None:
        pass

    async def snapshot(self) -> Snapshot:
        with self.lock:
            self.attempts += 1
            return Snapshot(sequence=self.attempts, taken_at=datetime.now(timezone.utc), target="db1",
                            engine="postgres", reachable=False, error="connection refused")

    async def close(self) -> None:
        pass


async def test_r_reconnects_now():
    collector = DownCollector()
    poller = SnapshotPoller(collector, interval_s=60.0)
    app = DbtopApp(poller)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(lambda: collector.attempts >= 1)
        await asyncio.sleep(0.2)
        before = collector.attempts
        await pilot.press("r")
        await wait_until(lambda: collector.attempts > before, timeout=0.5)
        await pilot.pause()
        assert "r retries now" in str(app.query_one("#connection-status").render())
