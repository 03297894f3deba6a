"""The dashboard's driver: its input thread's sleep, and what wakes it. End to end (the real dbtop
in tmux, idle, paused, suspended) in test_e2e_tmux.py."""

from __future__ import annotations

import selectors
import sys
import threading
import time

import pytest

from dbtop.tui.quiet_driver import WakingEvent, select_timeout


def test_the_input_thread_sleeps_without_end_while_nothing_is_pending():
    assert select_timeout(None, 1000.0) is None


def test_it_wakes_when_a_lone_escape_has_waited_long_enough():
    assert select_timeout(1000.1, 1000.0) == pytest.approx(0.1)
    assert select_timeout(1000.0, 1000.0) == 0.0
    assert select_timeout(999.0, 1000.0) == 0.0  # overdue: at once, never a negative timeout


def test_setting_the_exit_event_wakes_a_select_on_its_pipe():
    event = WakingEvent()
    read_fd = event.open_pipe()
    selector = selectors.SelectSelector()
    selector.register(read_fd, selectors.EVENT_READ)
    try:
        assert selector.select(0) == []
        threading.Timer(0.2, event.set).start()
        started = time.monotonic()
        assert selector.select(5)  # no timeout needed: the set() wakes it
        assert 0.15 < time.monotonic() - started < 2
        assert event.is_set()
    finally:
        selector.close()
        event.close_pipe(read_fd)
    event.clear()
    event.set()  # with no thread listening (between runs): no pipe to write to, no error
    assert event.is_set()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_the_dashboard_uses_it_on_posix(monkeypatch):
    from dbtop.tui.app import DbtopApp
    from dbtop.tui.poller import SnapshotPoller
    from dbtop.tui.quiet_driver import QuietLinuxDriver

    from .fakes import FakeCollector, snapshot

    poller = SnapshotPoller(FakeCollector(snapshot()), 2.0)
    assert DbtopApp(poller).driver_class is QuietLinuxDriver
    monkeypatch.setattr("textual.constants.DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    assert DbtopApp(poller).driver_class.__name__ == "HeadlessDriver"  # one named there still wins
