"""Textual's Linux driver with an input thread that sleeps until it has something to do: a key, the
end of an escape sequence's wait, or the driver stopping. Textual's own thread wakes ten times a
second to look for those last two (`select(0.1)`), which was most of the paused dashboard's CPU."""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


def select_timeout(pending_until: float | None, now: float) -> float | None:
    """How long the input thread may sleep when no key comes: until the parser's pending timeout
    (a lone ESC is a key once ESCDELAY has passed with nothing after it), or without end (None)."""
    if pending_until is None:
        return None
    return max(0.0, pending_until - now)


class WakingEvent(threading.Event):
    """The driver's `exit_event`: setting it also wakes the input thread's select, through a pipe
    the thread opens for each run. Textual sets, joins and clears it in `disable_input`, so its
    stop and suspend order stays as it is."""

    def __init__(self) -> None:
        super().__init__()
        self._pipe_lock = threading.RLock()  # set() may run in a signal handler (SIGTSTP)
        self._wake_fd: int | None = None

    def open_pipe(self) -> int:
        """A new pipe for one run of the input thread: its end to select on."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        with self._pipe_lock:
            self._wake_fd = write_fd
        return read_fd

    def close_pipe(self, read_fd: int) -> None:
        with self._pipe_lock:
            write_fd, self._wake_fd = self._wake_fd, None
        os.close(read_fd)
        if write_fd is not None:
            os.close(write_fd)

    def set(self) -> None:
        super().set()
        with self._pipe_lock:
            if self._wake_fd is not None:
                try:
                    os.write(self._wake_fd, b"x")
                except BlockingIOError:  # the pipe is full: the thread has been woken already
                    pass


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread wakes only for input, a pending escape timeout, or stop."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.exit_event = WakingEvent()

    def run_input_thread(self) -> None:
        """Textual 8.2.8's LinuxDriver.run_input_thread (a test notices when Textual's changes) with
        these changes: select waits for the parser's pending timeout or for ever (not 0.1 s); the
        exit event's pipe wakes it; at end of file (a hung-up terminal) standard input leaves the
        selector instead of spinning on it (the hang-up watch in tui/terminal.py ends the app); no
        extra 0.1 s wait on the way out."""
        fileno = self.fileno
        wake_fd = self.exit_event.open_pipe()
        selector = selectors.SelectSelector()  # as Textual's: kqueue cannot wait on a terminal on macOS
        selector.register(fileno, selectors.EVENT_READ)
        selector.register(wake_fd, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not self.exit_event.is_set():
                ready = selector.select(select_timeout(parser._timeout_time, get_time()))
                if any(key.fd == fileno for key, _ in ready):
                    data = os.read(fileno, 1024 * 4)
                    if not data:
                        selector.unregister(fileno)
                    elif text := decode(data):  # "" until a character split across reads is whole
                        for event in parser.feed(text):
                            self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
        finally:
            selector.close()
            self.exit_event.close_pipe(wake_fd)
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass
