"""Polling the engine off the UI's event loop.

The collector runs on a thread with its own asyncio loop: a slow catalog query, a dead network
or a long reconnect never stalls the screen. The next poll starts when the last one finished, so
polls never overlap. After a failed poll the next one comes one interval later, never more than
RECONNECT_WAIT_S: an attempt to connect costs the server almost nothing, and the operator wants it
back on screen as soon as it is back (a growing back-off left the screen dark for half a minute).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..engines.base import Collector
from ..engines.snapshot import Snapshot

INTERVALS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
RECONNECT_WAIT_S = 5.0
# After a first snapshot of only what the first screen shows, the rest is read as soon as the app
# has drawn that screen (first_screen_drawn), or after this long if it does not say so. Not at once:
# polled while the app draws, the rest (pg_stat_statements' thousands of rows) would hold the GIL
# and delay the first screen it was left out of.
REST_AFTER_FIRST_SCREEN_S = 1.0


class SnapshotPoller:
    """Takes snapshots on its own thread and hands each one to `on_snapshot` (from that thread)."""

    def __init__(self, collector: Collector, interval_s: float = 2.0):
        self.collector = collector
        self.interval_s = min(max(interval_s, INTERVALS[0]), INTERVALS[-1])
        self.paused = False
        self.next_poll_at: float | None = None
        self._stopping = False
        self._loop = asyncio.new_event_loop()
        self._wake: asyncio.Event | None = None
        self._task: Any = None
        self._first: Any = None  # a first snapshot taken before start(), while the screen starts
        self._connecting: Any = None  # a connection asked for before connect() waits for it
        self._rest_pending = False  # the first snapshot was partial: the rest is read once it is drawn
        self._taken: Snapshot | None = None  # the first snapshot, taken by the app itself (take_first)
        self._thread = threading.Thread(target=self._loop.run_forever, name="dbtop-poller", daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def begin_connecting(self) -> None:
        """Start connecting on the poller's loop and return at once: the dashboard asks for the
        connection (and with prefetch() the first snapshot, taken once connected) before it imports
        the screen's code, so the server answers meanwhile."""
        if self._connecting is None:
            self._connecting = asyncio.run_coroutine_threadsafe(self.collector.connect(), self._loop)

    def connect(self) -> None:
        """Connect on the poller's loop (or wait for begin_connecting's attempt); raises the
        collector's ConnectError."""
        timeout = getattr(getattr(self.collector, "target", None), "connect_timeout_s", 10.0) * 2 + 5
        self.begin_connecting()
        connecting, self._connecting = self._connecting, None
        connecting.result(timeout)

    def prefetch(self) -> None:
        """Take the first snapshot now, on the poller's thread, while the app starts its screen
        (the server's work and the network overlap Textual's start-up); start() hands it on. A
        collector that can (the optional `first_screen_only()`) reads only what the first screen
        shows; the poll that reads the rest starts once the app has drawn it (first_screen_drawn)."""
        if self._first is None and self._task is None:
            first_screen_only = getattr(self.collector, "first_screen_only", None)  # optional in the protocol
            self._rest_pending = first_screen_only is not None and first_screen_only()
            self._first = asyncio.run_coroutine_threadsafe(self._first_snapshot(self._connecting), self._loop)

    async def _first_snapshot(self, connecting: Any) -> Snapshot:
        if connecting is not None:  # asked for while connecting (begin_connecting): once connected
            await asyncio.wrap_future(connecting)
        return await self.collector.snapshot()

    def take_first(self) -> Snapshot | None:
        """The first snapshot (prefetch) if it is taken already, for the app to draw with its first
        screen instead of on a screen drawn empty first; start() then goes on from it without
        handing it on. None if it is still being taken (or failed): start() hands it on."""
        first = self._first
        if self._task is not None or first is None or not first.done() or first.cancelled() or first.exception():
            return None
        self._first = None
        self._taken = first.result()
        return self._taken

    def start(self, on_snapshot: Callable[[Snapshot], None]) -> None:
        self._wake = asyncio.Event()  # here, not in _run: a wake() right after start() is not lost
        self._task = asyncio.run_coroutine_threadsafe(self._run(on_snapshot), self._loop)

    async def _run(self, on_snapshot: Callable[[Snapshot], None]) -> None:
        while not self._stopping:
            if self.paused:
                self.next_poll_at = None
                await self._sleep(None)
                continue
            taken, self._taken = self._taken, None
            if taken is not None:
                snapshot = taken
            else:
                first, self._first = self._first, None
                snapshot = await (asyncio.wrap_future(first) if first is not None else self.collector.snapshot())
                if self._stopping:
                    break
            delay = self.interval_s if snapshot.reachable else min(self.interval_s, RECONNECT_WAIT_S)
            if self._rest_pending:
                delay = min(delay, REST_AFTER_FIRST_SCREEN_S)
            if taken is None:
                on_snapshot(snapshot)
            self.next_poll_at = time.monotonic() + delay
            await self._sleep(delay)
            self._rest_pending = False

    async def _sleep(self, delay: float | None) -> None:
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    def wake(self) -> None:
        """Poll now (after a resume, an interval change, or on request)."""
        if self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def reading_first_screen(self) -> bool:
        """The snapshot in hand is the first, of only what the first screen shows (prefetch); the
        rest is read once that screen is drawn."""
        return self._rest_pending

    def first_screen_drawn(self) -> None:
        """The app has drawn a snapshot: when the first was partial (prefetch), read the rest now."""
        if self._rest_pending:
            self.wake()

    def focus(self, panels: frozenset[str]) -> None:
        """Tell the collector which panels the operator is looking at (a hint: a collector may read
        what no visible panel shows at a lower rate). When that makes something due now, poll now,
        so the panel just shown gets fresh data rather than the last slow reading."""
        focus = getattr(self.collector, "focus", None)  # optional in the collector protocol
        if focus is not None and focus(panels) and not self.paused:
            self.wake()

    def set_interval(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.wake()

    def faster(self) -> float:
        smaller = [i for i in INTERVALS if i < self.interval_s]
        self.set_interval(smaller[-1] if smaller else INTERVALS[0])
        return self.interval_s

    def slower(self) -> float:
        larger = [i for i in INTERVALS if i > self.interval_s]
        self.set_interval(larger[0] if larger else INTERVALS[-1])
        return self.interval_s

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.wake()

    def stop(self) -> None:
        """Stop polling, close the connection, end the thread. Never blocks for long; a second
        call does nothing."""
        if self._stopping:
            return
        self._stopping = True
        self.wake()
        if self._first is not None and self._task is None:  # taken for an app that never started
            try:
                self._first.result(timeout=3)
            except Exception:  # noqa: BLE001 - a first poll cut short at exit
                self._first.cancel()
        if self._task is not None:
            try:
                self._task.result(timeout=3)
            except Exception:  # noqa: BLE001 - a poll cut short at exit
                self._task.cancel()
        try:
            self._call(self.collector.close(), timeout=3)
        except Exception:  # noqa: BLE001 - closing a dead connection at exit
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=3)
