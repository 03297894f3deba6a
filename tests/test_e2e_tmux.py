"""The installed `dbtop`, end to end in a real terminal: tmux runs it, send-keys types, capture-pane
reads the screen."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .conftest import dbtop_command, open_lock_chain, voluntary_switches

SOCKET = f"dbtop-test-{uuid.uuid4().hex[:8]}"


class Terminal:
    def __init__(self, tmp_path: Path, command: list[str], size=(120, 40)):
        if shutil.which("tmux") is None:
            pytest.fail("tmux is needed for the end-to-end test: apt-get install tmux", pytrace=False)
        self.name = "e2e"
        # A server of its own: a killed server's socket can still be closing when the next test starts.
        self.socket = f"{SOCKET}-{uuid.uuid4().hex[:8]}"
        self.exit_file = tmp_path / "exit"
        quoted = " ".join(f"'{part}'" for part in command)
        script = f"{quoted}; echo $? > {self.exit_file}; sleep 60"
        # COLUMNS and LINES from the test's own environment would override the pane's real size.
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", self.name, "-x", str(size[0]),
                        "-y", str(size[1]), "-e", "TERM=xterm-256color", "bash", "-c", script], check=True, env=env)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, *texts: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts} not on screen after {timeout} s:\n{screen}")
            time.sleep(0.1)

    def exit_status(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists() or not self.exit_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"dbtop did not exit:\n{self.screen()}")
            time.sleep(0.05)
        return int(self.exit_file.read_text())

    def app_pid(self) -> int:
        """The pid of the command the pane's shell runs (dbtop)."""
        shell = int(subprocess.run(["tmux", "-L", self.socket, "display", "-p", "-t", self.name, "#{pane_pid}"],
                                   capture_output=True, text=True).stdout)
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == shell:
                    return int(entry)
        raise AssertionError("the pane's shell runs no command")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(tmp_path):
    opened: list[Terminal] = []

    def open_terminal(command: list[str], size=(120, 40)) -> Terminal:
        term = Terminal(tmp_path, command, size)
        opened.append(term)
        return term

    yield open_terminal
    for term in opened:
        term.close()


async def test_dbtop_in_tmux_shows_the_lock_chain_and_answers_keys(pg, sessions, terminal):
    chain = await open_lock_chain(sessions, "invoices", apps=("payments", "invoicing", "invoicing"))
    holder, middle, tail = chain.holder, chain.middle, chain.tail
    try:
        term = terminal([*dbtop_command(), pg.dsn(), "--interval", "0.5"])
        await asyncio.to_thread(term.wait_for, "live every 0.5s", "Locks (2 waiting)")
        screen = await asyncio.to_thread(term.wait_for, "payments", "invoicing")
        assert str(holder.get_server_pid()) in screen

        term.keys("2")
        screen = await asyncio.to_thread(term.wait_for, f"└─ {middle.get_server_pid()}",
                                         f"└─ {tail.get_server_pid()}")
        lines = screen.splitlines()
        root_line = next(i for i, line in enumerate(lines) if line.lstrip().startswith(str(holder.get_server_pid())))
        assert f"└─ {middle.get_server_pid()}" in lines[root_line + 1]
        assert f"└─ {tail.get_server_pid()}" in lines[root_line + 2]
        assert "ExclusiveLock xid" in lines[root_line]  # the lock the root holds, by its mode

        term.keys("1", "/")
        await asyncio.to_thread(term.wait_for, "filter: user, database")  # the box has focus
        term.keys("-l", "payments")
        screen = await asyncio.to_thread(term.wait_for, "filter payments")
        assert "1 sessions" in screen
        term.keys("Enter", "Escape")
        await asyncio.to_thread(term.wait_for, "4 sessions")  # the chain and the setup session

        term.keys("?")
        await asyncio.to_thread(term.wait_for, "Hide idle", "Rank by", "Esc closes")
        term.keys("Escape")
        # A terminal cannot tell Escape-then-q from Alt+q when they arrive together.
        await asyncio.to_thread(term.wait_for, "live every")
        term.keys("q")
        assert await asyncio.to_thread(term.exit_status) == 0
        after = term.screen()
        assert "live every" not in after  # the alternate screen is gone: the terminal is restored
    finally:
        await chain.release()


def wakes_per_thread(pid: int, seconds: float) -> dict[int, int]:
    """How many times each thread of `pid` went to sleep (and so woke) within `seconds`."""
    def switches() -> dict[int, int]:
        return {int(tid): voluntary_switches(int(tid), pid) for tid in os.listdir(f"/proc/{pid}/task")}
    before = switches()
    time.sleep(seconds)
    return {tid: count - before.get(tid, 0) for tid, count in switches().items()}


def assert_sleeps(pid: int, seconds: float = 3.0) -> None:
    """While nothing happens, only the main thread wakes (once a second, for the clock on the top
    line); Textual's input thread woke ten times a second, the hang-up watch twice."""
    woken = wakes_per_thread(pid, seconds)
    busy = {tid: count for tid, count in woken.items() if tid != pid and count >= seconds}
    assert not busy, f"threads woke at least once a second with nothing to do: {busy} (all: {woken})"


def wait_for_state(pid: int, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while f"State:\t{state}" not in Path(f"/proc/{pid}/status").read_text():
        assert time.monotonic() < deadline, f"dbtop not in state {state} within {timeout} s"
        time.sleep(0.02)


def test_the_paused_dashboard_sleeps_and_still_answers_escape_suspend_and_quit(pg, terminal):
    term = terminal([*dbtop_command(), pg.dsn(), "--interval", "0.5"])
    term.wait_for("live every 0.5s")
    pid = term.app_pid()
    term.keys("p")
    term.wait_for("paused")
    time.sleep(0.5)
    assert_sleeps(pid)

    term.keys("?")
    term.wait_for("Esc closes")
    started = time.monotonic()
    term.keys("Escape")  # alone: the parser tells it from an escape sequence only by the time that passes
    while "Esc closes" in term.screen():
        assert time.monotonic() - started < 1.0, "a lone Escape did not close the keys page within a second"
        time.sleep(0.02)

    # Once the screen is drawn: Textual's SIGTSTP handler writes to its writer's queue, and deadlocks
    # when the signal lands while the main thread is inside that queue's put (Textual 8.2.8's own).
    time.sleep(0.5)
    os.kill(pid, signal.SIGTSTP)  # as `kill -TSTP`: Textual leaves the screen and stops the process
    wait_for_state(pid, "T")
    os.kill(pid, signal.SIGCONT)
    wait_for_state(pid, "S")
    term.keys("?")  # a new input thread reads keys, and sleeps too
    term.wait_for("Esc closes")
    term.keys("Escape")
    term.wait_for("paused")
    time.sleep(0.5)
    assert_sleeps(pid)

    started = time.monotonic()
    term.keys("q")
    assert term.exit_status() == 0
    assert time.monotonic() - started < 1.0
    assert "paused" not in term.screen()  # the terminal is restored


def test_ctrl_c_quits_cleanly(pg, terminal):
    term = terminal([*dbtop_command(), pg.dsn()], size=(80, 24))
    term.wait_for("live every")
    term.keys("C-c")
    assert term.exit_status() == 0
    assert "live every" not in term.screen()


def test_bad_target_prints_one_line_in_the_terminal(terminal):
    term = terminal([*dbtop_command(), "postgresql://nobody@127.0.0.1:1/none"], size=(120, 10))
    assert term.exit_status() == 2
    screen = term.screen()
    assert "dbtop: cannot reach nobody@127.0.0.1:1/none: connection refused" in screen
    assert "Traceback" not in screen


def test_a_vanished_terminal_ends_the_process(pg):
    """An SSH session that drops hangs up the terminal: dbtop must end, not linger without one."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the end-to-end test: apt-get install tmux", pytrace=False)
    socket = f"{SOCKET}-hup"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-s", "hup", "-x", "100", "-y", "30",
                    "-e", "TERM=xterm-256color", *dbtop_command(), pg.dsn(), "--interval", "0.5"], check=True, env=env)
    try:
        pid = int(subprocess.run(["tmux", "-L", socket, "display", "-p", "-t", "hup", "#{pane_pid}"],
                                 capture_output=True, text=True).stdout)
        deadline = time.monotonic() + 15
        while "live every" not in subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", "hup"],
                                                 capture_output=True, text=True).stdout:
            assert time.monotonic() < deadline, "dbtop did not start"
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)  # hangs up the pane
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}"):
        status = Path(f"/proc/{pid}/status").read_text() if os.path.exists(f"/proc/{pid}/status") else ""
        if "State:\tZ" in status:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise AssertionError("dbtop kept running after its terminal hung up")
        time.sleep(0.1)


async def test_terminating_the_root_blocker_through_the_confirm_screen(pg, sessions, terminal, tmp_path, monkeypatch):
    """The installed dbtop, as the operator uses it: Locks, k on the root blocker, read the plan, type
    its pid, Enter; the chain is gone at the next refresh and the journal has the line."""
    from dbtop.actions.journal import Journal
    from dbtop.actions.registry import ACTIONS

    if "terminate-session" not in ACTIONS:
        pytest.skip("the terminate-session action (h-act-pg) is not merged yet")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the terminal's environment too
    chain = await open_lock_chain(sessions, "e2e_terminate", apps=("stuck", "waiter", "waiter"))
    holder = chain.pid("holder")
    try:
        term = terminal([*dbtop_command(), pg.dsn(), "--interval", "0.5"], size=(80, 24))
        await asyncio.to_thread(term.wait_for, "live every 0.5s")
        term.keys("2")
        await asyncio.to_thread(term.wait_for, f"└─ {chain.pid('middle')}")
        term.keys("k")
        screen = await asyncio.to_thread(term.wait_for, f"type {holder} to run it", "Cancel")
        assert "pg_terminate_backend" in screen and "system" in screen
        term.keys("Enter")  # focus starts on Cancel: Enter cancels, nothing runs
        await asyncio.to_thread(term.wait_for, "live every 0.5s")
        assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder}").strip() == "1"
        term.keys("k")
        await asyncio.to_thread(term.wait_for, f"type {holder} to run it", "Cancel")
        term.keys("Tab")
        await asyncio.sleep(0.3)  # an operator's pace: the field has focus before the text comes
        term.keys("-l", str(holder))  # -l: literal text (it would make "Tab" literal too)
        await asyncio.to_thread(term.wait_for, f"▊  {holder} ")
        term.keys("Enter")
        # The root is gone: the session behind it, holding its own row, is the new (and only) root.
        screen = await asyncio.to_thread(term.wait_for, "terminate-session done", "1 sessions waiting behind 1 root",
                                         timeout=20)
        assert f" {holder} " not in screen
        assert pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {holder}").strip() == "0"
        term.keys("J")
        await asyncio.to_thread(term.wait_for, "journal and running actions", f"terminated session {holder}")
        term.keys("Escape")
        await asyncio.to_thread(term.wait_for, "live every")
        term.keys("q")
        assert await asyncio.to_thread(term.exit_status) == 0
    finally:
        await chain.release()
    entry = list(Journal().entries())[-1]
    assert (entry.action, entry.outcome, entry.typed) == ("terminate-session", "done", str(holder))
