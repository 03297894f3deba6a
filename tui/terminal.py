"""The terminal the dashboard runs in: whether there is one, how many colours it can take, and
whether it is still there. Textual reads keys from standard input and draws on standard error."""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import MutableMapping

NO_TERMINAL = "no terminal: use `dbtop snapshot` (the dashboard needs one to draw on and read keys from)"
DUMB_TERMS = ("dumb", "unknown")
WATCH_EVERY_S = 0.5


def missing_terminal() -> str | None:
    """Why the dashboard cannot run here (one line), or None. Without a terminal on standard input
    no key ever arrives (and at end of file Textual's reader spins); without one on standard error
    the escape codes go to a file."""
    for stream in (sys.__stdin__, sys.__stderr__):
        if stream is None or not stream.isatty():
            return NO_TERMINAL
    return None


def limit_colours(environ: MutableMapping[str, str] | None = None) -> None:
    """TERM=dumb gets sixteen colours: Textual takes its colour system from TEXTUAL_COLOR_SYSTEM when
    it is first imported, so call this before. (The 16-colour theme follows from TERM too.)"""
    env = os.environ if environ is None else environ
    if env.get("TERM", "").lower() in DUMB_TERMS:
        env.setdefault("TEXTUAL_COLOR_SYSTEM", "standard")


def hung_up(fd: int) -> bool:
    """The terminal behind `fd` has hung up: it reads end of file (an SSH session gone, its SIGHUP
    not delivered). Asked of poll() without reading, so no key is taken from the app."""
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: hang-ups and errors are always reported
    try:
        events = poller.poll(0)
    except OSError:
        return True
    return any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events)


def watch_input(app, fd: int = 0, every_s: float = WATCH_EVERY_S) -> None:
    """Until `app` has run and ended, check every `every_s` whether its terminal hung up, and then
    call its `terminal_gone` (as on SIGHUP). Textual's input reader would otherwise loop on end of
    file for ever."""
    if not os.isatty(fd):
        return

    def watch() -> None:
        started = False
        stop = threading.Event()
        while not stop.wait(every_s):
            if app.is_running:
                started = True
            elif started:
                return
            if started and hung_up(fd):
                try:
                    app.call_from_thread(app.terminal_gone)
                except RuntimeError:  # ending already
                    pass
                return

    threading.Thread(target=watch, name="dbtop-terminal-watch", daemon=True).start()
