"""The poller's start-up: the first snapshot is taken while the screen starts and handed on. No server."""

from __future__ import annotations

import threading
import time

from dbtop.tui.poller import SnapshotPoller

from . import fakes as f
from .fakes import FakeCollector


def wait(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_prefetched_first_snapshot_is_handed_on_by_start():
    collector = FakeCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    try:
        poller.connect()
        poller.prefetch()
        wait(lambda: len(collector.served) == 1)  # taken before start(), while the app would start
        got: list = []
        arrived = threading.Event()
        poller.start(lambda snap: (got.append(snap), arrived.set()))
        assert arrived.wait(5)
        assert got[0] is collector.served[0] and got[0].sequence == 1
        time.sleep(0.1)
        assert len(collector.served) == 1  # not polled again before the interval
    finally:
        poller.stop()


def test_prefetch_without_start_stops_cleanly():
    collector = FakeCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    poller.connect()
    poller.prefetch()
    poller.stop()
    assert collector.closed
