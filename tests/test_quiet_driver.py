"""The dashboard's driver: its input thread's sleep, and what wakes it. End to end (the real dbtop
in tmux, idle, paused, suspended) in test_e2e_tmux.py."""

from __future__ import annotations

import hashlib
import inspect
import os
import selectors
import signal
import sys
import threading
import time
import tty

import pytest
from textual import events
from textual.app import App

from dbtop.tui.quiet_driver import QuietLinuxDriver, WakingEvent, select_timeout

from .conftest import voluntary_switches


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
def test_textuals_input_loop_is_still_the_one_the_copy_follows():
    """tui/quiet_driver.py's run_input_thread is Textual 8.2.8's with its changes, and relies on
    disable_input setting, joining and clearing exit_event. When this fails, Textual changed them:
    carry what changed into the copy, check the driver tests, then take the new digest."""
    from textual.drivers.linux_driver import LinuxDriver

    source = inspect.getsource(LinuxDriver.run_input_thread) + inspect.getsource(LinuxDriver.disable_input)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == "790b04c744be4886"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_the_dashboard_uses_it_on_posix(monkeypatch):
    from dbtop.tui.app import DbtopApp
    from dbtop.tui.poller import SnapshotPoller
    from textual.drivers.linux_driver import LinuxDriver

    from .fakes import FakeCollector, snapshot

    poller = SnapshotPoller(FakeCollector(snapshot()), 2.0)
    assert DbtopApp(poller).driver_class is QuietLinuxDriver
    monkeypatch.setattr("textual.constants.DRIVER", "textual.drivers.linux_driver:LinuxDriver")  # TEXTUAL_DRIVER
    assert DbtopApp(poller).driver_class is LinuxDriver  # the one named there wins


class Recording(QuietLinuxDriver):
    """The driver reading a pseudo-terminal of the test's, keeping the events it would send the app."""

    def __init__(self, app, fd: int) -> None:
        super().__init__(app)
        self.fileno = fd
        self.events: list = []

    def process_message(self, message) -> None:
        self.events.append(message)

    def keys(self) -> list[str]:
        return [event.key for event in self.events if isinstance(event, events.Key)]

    def start_reading(self) -> threading.Thread:
        self.exit_event.clear()  # as Textual's disable_input leaves it for the next start
        thread = threading.Thread(target=self.run_input_thread, daemon=True)
        thread.start()
        return thread


@pytest.fixture
async def driver_on_a_pty():
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}  # the driver sets them
    master, slave = os.openpty()
    tty.setraw(slave)
    driver = Recording(App(), slave)
    try:
        yield driver, master
    finally:
        driver.exit_event.set()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for fd in (master, slave):
            try:
                os.close(fd)
            except OSError:
                pass


def cpu_seconds(tid: int) -> float:
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def wait_for(predicate, timeout: float = 2.0) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "not within the time"
        time.sleep(0.005)
    return time.monotonic() - started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_the_input_thread_sleeps_until_a_key_a_lone_escape_or_the_stop(driver_on_a_pty):
    driver, master = driver_on_a_pty
    thread = driver.start_reading()
    os.write(master, b"a")
    wait_for(lambda: driver.keys() == ["a"])

    before = voluntary_switches(thread.native_id)
    time.sleep(1.0)
    assert voluntary_switches(thread.native_id) - before <= 1  # Textual's own: 10

    os.write(master, b"\x1b")  # nothing after it: a key once ESCDELAY (0.1 s) has passed
    assert wait_for(lambda: driver.keys() == ["a", "escape"]) < 0.5
    os.write(master, b"\x1b[A")  # a sequence is still one key
    wait_for(lambda: driver.keys() == ["a", "escape", "up"])

    driver.exit_event.set()
    thread.join(0.5)
    assert not thread.is_alive()  # at once: Textual's noticed within 0.1 s

    thread = driver.start_reading()  # started again, as after a suspend (SIGTSTP, SIGCONT)
    os.write(master, "é".encode()[:1])  # half a character: no key, and not taken for the end of file
    time.sleep(0.05)
    os.write(master, "é".encode()[1:])
    wait_for(lambda: driver.keys()[-1:] == ["é"])
    driver.exit_event.set()
    thread.join(0.5)
    assert not thread.is_alive()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_at_the_end_of_file_the_input_thread_sleeps_until_stopped(driver_on_a_pty):
    driver, master = driver_on_a_pty
    thread = driver.start_reading()
    os.close(master)  # the terminal hangs up: reads now return end of file
    time.sleep(0.2)
    before = cpu_seconds(thread.native_id)
    time.sleep(0.5)
    assert cpu_seconds(thread.native_id) - before < 0.02  # Textual's spins on it (the hang-up watch ends the app)
    assert thread.is_alive()
    driver.exit_event.set()
    thread.join(0.5)
    assert not thread.is_alive()
