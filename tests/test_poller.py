"""The poller's start-up and focus hints: the first snapshot is taken while the screen starts and
handed on, and the app tells the collector which panel is on screen (a collector that shows a
panel's data at a lower rate while hidden gets it polled at once when shown). No server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from dbtop.engines.errors import ConnectError
from dbtop.tui import poller as poller_module
from dbtop.tui.poller import SnapshotPoller

from . import fakes as f
from .fakes import FakeCollector, fake_dashboard
from .test_app import until
from .test_first_screen import GatedCollector


class FocusCollector(FakeCollector):
    """Records the focus hints; says a panel shown again is due now."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hints: list[frozenset[str]] = []

    def focus(self, panels: frozenset[str]) -> bool:
        due = bool(self.hints) and "statements" in panels and "statements" not in self.hints[-1]
        self.hints.append(panels)
        return due


def wait(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


@contextlib.contextmanager
def prefetched(collector):
    """A poller on `collector` (60 s interval), connected and its first snapshot asked for, as
    run_dashboard does before the app starts; stopped at the end."""
    poller = SnapshotPoller(collector, 60)
    try:
        poller.connect()
        poller.prefetch()
        yield poller
    finally:
        poller.stop()


def test_prefetched_first_snapshot_is_handed_on_by_start():
    collector = FakeCollector(f.healthy())
    with prefetched(collector) as poller:
        wait(lambda: len(collector.served) == 1)  # taken before start(), while the app would start
        got: list = []
        arrived = threading.Event()
        poller.start(lambda snap: (got.append(snap), arrived.set()))
        assert arrived.wait(5)
        assert got[0] is collector.served[0] and got[0].sequence == 1
        time.sleep(0.1)
        assert len(collector.served) == 1  # not polled again before the interval


def test_prefetch_without_start_stops_cleanly():
    collector = FakeCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    poller.connect()
    poller.prefetch()
    poller.stop()
    assert collector.closed


def test_focus_wakes_the_poller_only_when_the_collector_says_so():
    collector = FocusCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    try:
        poller.connect()
        poller.start(lambda snap: None)
        wait(lambda: len(collector.served) == 1)
        poller.focus(frozenset({"connections"}))
        time.sleep(0.1)
        assert len(collector.served) == 1
        poller.focus(frozenset({"statements"}))  # due now: polled at once
        wait(lambda: len(collector.served) == 2)
        plain = SnapshotPoller(FakeCollector(f.healthy()), 60)  # a collector without focus()
        plain.focus(frozenset({"statements"}))
        plain.stop()
    finally:
        poller.stop()


async def test_the_app_tells_the_collector_the_panel_on_screen():
    collector = FocusCollector(f.healthy())
    async with fake_dashboard(collector) as (app, pilot):
        assert collector.hints and collector.hints[-1] == frozenset({"connections"})
        served = len(collector.served)
        await pilot.press("3")
        await until(pilot, lambda: collector.hints[-1] == frozenset({"statements"}))
        await until(pilot, lambda: len(collector.served) > served)  # the panel shown gets a fresh poll


class FirstScreenCollector(FakeCollector):
    """Says it can take a first snapshot of only what the first screen shows (first_screen_only)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked_first_screen_only = 0

    def first_screen_only(self) -> bool:
        self.asked_first_screen_only += 1
        return True


@contextlib.contextmanager
def started_as_the_dashboard_starts(collector, on_snapshot=lambda snap: None):
    """prefetched(), its first snapshot taken and handed on as run_dashboard does."""
    with prefetched(collector) as poller:
        wait(lambda: len(collector.served) == 1)
        poller.start(on_snapshot)
        yield poller


def test_a_first_screen_only_first_snapshot_is_followed_by_the_rest_once_drawn(monkeypatch):
    """The dashboard's first poll reads only what its first screen shows; the rest must not wait an
    interval (here 60 s), nor be read while the app draws that screen: the poller polls again when
    the app says it has drawn it, then keeps to its interval."""
    monkeypatch.setattr(poller_module, "REST_AFTER_FIRST_SCREEN_S", 60)
    collector = FirstScreenCollector(f.healthy())
    got: list = []
    with started_as_the_dashboard_starts(collector, got.append) as poller:
        assert collector.asked_first_screen_only == 1
        wait(lambda: len(got) == 1)
        time.sleep(0.1)
        assert len(collector.served) == 1  # not while the app draws the first screen
        poller.first_screen_drawn()
        wait(lambda: len(got) == 2)
        poller.first_screen_drawn()  # said after every snapshot drawn: only the first one's counts
        time.sleep(0.1)
        assert len(collector.served) == 2 and collector.asked_first_screen_only == 1


def test_the_rest_is_read_soon_even_if_the_app_never_says_it_drew_the_first_screen(monkeypatch):
    monkeypatch.setattr(poller_module, "REST_AFTER_FIRST_SCREEN_S", 0.2)
    collector = FirstScreenCollector(f.healthy())
    with started_as_the_dashboard_starts(collector):
        wait(lambda: len(collector.served) == 2)


def test_the_app_may_take_the_first_snapshot_itself_and_polling_goes_on_from_it(monkeypatch):
    """The dashboard draws its first screen with the first snapshot when it is taken by then: the
    poller must not hand it on again, and must still read the rest once the screen is drawn (said
    right after start(): the wake must not be lost before the poll loop runs)."""
    monkeypatch.setattr(poller_module, "REST_AFTER_FIRST_SCREEN_S", 60)
    collector = FirstScreenCollector(f.healthy())
    with prefetched(collector) as poller:
        wait(lambda: len(collector.served) == 1)
        assert poller.take_first() is collector.served[0]
        got: list = []
        poller.start(got.append)
        poller.first_screen_drawn()
        wait(lambda: len(got) == 1)
        assert got[0].sequence == 2 and len(collector.served) == 2
        assert poller.take_first() is None  # once only


def test_a_first_snapshot_still_being_taken_is_left_to_start_to_hand_on():
    collector = GatedCollector(f.healthy())
    with prefetched(collector) as poller:
        try:
            assert poller.take_first() is None
            got: list = []
            poller.start(got.append)
            collector.release.set()
            wait(lambda: len(got) == 1)
            assert got[0].sequence == 1 and len(collector.served) == 1
        finally:
            collector.release.set()  # before the poller stops, which waits for the first snapshot


def test_without_first_screen_only_drawing_asks_for_no_poll():
    collector = FakeCollector(f.healthy())
    with started_as_the_dashboard_starts(collector) as poller:
        time.sleep(0.1)
        poller.first_screen_drawn()
        time.sleep(0.1)
        assert len(collector.served) == 1


def test_connecting_begins_before_connect_is_waited_for():
    """The dashboard asks for the connection before it imports the screen's code (the server
    answers meanwhile); connect() then waits for that one attempt and raises its error."""
    collector = FakeCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    try:
        poller.begin_connecting()
        wait(lambda: collector.connects == 1)  # under way without anyone waiting
        poller.connect()
        assert collector.connects == 1
    finally:
        poller.stop()
    failing = SnapshotPoller(FakeCollector(f.healthy(), connect_error="db1.example:5432: connection refused"), 60)
    try:
        failing.begin_connecting()
        with pytest.raises(ConnectError, match="connection refused"):
            failing.connect()
        assert failing.collector.connects == 1
    finally:
        failing.stop()


class SlowConnectCollector(FakeCollector):
    """Takes a while to connect; records whether each snapshot found it connected."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connected_at_snapshot: list[bool] = []
        self.connected = False

    async def connect(self) -> None:
        await asyncio.sleep(0.2)
        await super().connect()
        self.connected = True

    async def snapshot(self):
        self.connected_at_snapshot.append(self.connected)
        return await super().snapshot()


def test_the_first_snapshot_asked_for_while_connecting_is_taken_once_connected():
    """The dashboard asks for the connection and the first snapshot before it imports the screen's
    code; the snapshot waits for that connection (a second connection would be opened otherwise)."""
    collector = SlowConnectCollector(f.healthy())
    poller = SnapshotPoller(collector, 60)
    try:
        poller.begin_connecting()
        poller.prefetch()
        poller.connect()
        poller.prefetch()  # run_dashboard asks again: the first one stands
        wait(lambda: len(collector.served) == 1)
        got: list = []
        poller.start(got.append)
        wait(lambda: len(got) == 1)
        assert collector.connects == 1 and collector.connected_at_snapshot == [True]
    finally:
        poller.stop()
