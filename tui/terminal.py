"""The terminal the dashboard runs in: whether there is one, how many colours it can take, and
whether it is still there. Textual reads keys from standard input and draws on standard error."""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import MutableMapping

NO_TERMINAL = "no terminal: use `dbtop snapshot` (the dashboard needs one to draw on and read keys from)"
DUMB_TERMS = ("dumb", "unknown")
STARTING_POLL_S = 0.05


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


def wait_for_hang_up(fd: int) -> None:
    """Return once the terminal behind `fd` hangs up (reads end of file: an SSH session gone, its
    SIGHUP not delivered). Asked of poll() without reading, so no key is taken from the app."""
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: only hang-ups and errors are reported
    try:
        poller.poll()
    except OSError:
        pass


def watch_input(app, fd: int = 0) -> threading.Thread | None:
    """Once `app`'s terminal hangs up, call its `terminal_gone` (as on SIGHUP) if it runs, or as soon
    as it does; never once it has ended. Otherwise the app would run on for ever with no one to see
    it (and Textual's own input reader spins on end of file). The thread sleeps in poll() until
    then: it costs nothing while the terminal is there."""
    if not os.isatty(fd):
        return

    def watch() -> None:
        wait_for_hang_up(fd)
        while app.return_code is None:  # None until the app has ended (or is ending)
            if app.is_running:
                try:
                    app.call_from_thread(app.terminal_gone)
                except RuntimeError:  # ending already
                    pass
                return
            time.sleep(STARTING_POLL_S)  # hung up before the app started: it is starting

    thread = threading.Thread(target=watch, name="dbtop-terminal-watch", daemon=True)
    thread.start()
    return thread
