"""The dashboard's terminal: none at all, one that hangs up without a SIGHUP, TERM=dumb, and the
password prompt for a URL target. Each runs the installed `dbtop` on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import threading
import time

import pytest
from textual.app import App

from dbtop.tui.terminal import watch_input

from .conftest import dbtop_command, voluntary_switches


class Pty:
    """`dbtop` on a pseudo-terminal. With `controlling=False` the terminal is only its stdin/stdout/
    stderr, not its controlling terminal, so closing it sends no SIGHUP: reads just hit end of file."""

    def __init__(self, args: list[str], env: dict | None = None, controlling: bool = True, size=(120, 40)):
        import fcntl
        import struct
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
        environment.update({"TERM": "xterm-256color", **(env or {})})

        def controlling_terminal():
            os.setsid()
            if controlling:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([*dbtop_command(), *args], stdin=slave, stdout=slave, stderr=slave,
                                     env=environment, preexec_fn=controlling_terminal, close_fds=True)
        os.close(slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    if self.master < 0:
                        return
                    continue
                data = os.read(self.master, 65536)
            except (OSError, ValueError):
                return
            if not data:
                return
            with self._lock:
                self.output += data

    def text(self) -> str:
        with self._lock:
            return self.output.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()):
            if time.monotonic() > deadline or self.proc.poll() is not None and not re.search(pattern, self.text()):
                if self.proc.poll() is None and time.monotonic() <= deadline:
                    continue
                raise AssertionError(f"{pattern!r} not seen within {timeout} s; exit {self.proc.poll()}; "
                                     f"output: {self.text()[-2000:]!r}")
            time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def hang_up(self) -> None:
        fd, self.master = self.master, -1
        os.close(fd)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


@pytest.fixture
def pty_run():
    opened: list[Pty] = []

    def run(args, **kwargs) -> Pty:
        term = Pty(args, **kwargs)
        opened.append(term)
        return term

    yield run
    for term in opened:
        term.close()


def test_no_terminal_exits_2_at_once_with_one_line(pg, tmp_path):
    out = tmp_path / "out"
    with open(out, "w") as stdout:
        result = subprocess.run([*dbtop_command(), pg.dsn()], stdin=subprocess.DEVNULL, stdout=stdout,
                                stderr=subprocess.PIPE, text=True, timeout=10)
    assert result.returncode == 2
    assert result.stderr == "dbtop: no terminal: use `dbtop snapshot` (the dashboard needs one to draw on and read keys from)\n"
    assert out.read_text() == ""


def test_stdin_at_end_of_file_in_a_terminal_is_refused_too(pg):
    # stdout and stderr are a terminal, standard input is not: no keys would ever arrive.
    import pty as _pty

    master, slave = _pty.openpty()
    try:
        proc = subprocess.run([*dbtop_command(), pg.dsn()], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                              timeout=10)
        assert proc.returncode == 2
        assert b"no terminal" in os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)


def test_a_terminal_that_hangs_up_without_sighup_ends_the_app(pg, pty_run):
    term = pty_run([pg.dsn(), "--interval", "0.5"], controlling=False)
    term.wait_for("Connections")
    term.hang_up()  # standard input now reads end of file, and no SIGHUP comes
    try:
        term.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        spent = term.cpu_seconds()
        time.sleep(2)
        pytest.fail(f"dbtop still runs 5 s after its terminal hung up, using "
                    f"{(term.cpu_seconds() - spent) / 2:.0%} of a core")
    assert term.proc.returncode == 129


class Watched(App):
    """A real app for the hang-up watch, counting the calls it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.gone = 0

    def terminal_gone(self) -> None:
        self.gone += 1
        self.exit(return_code=129)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def test_the_hang_up_watch_sleeps_until_the_terminal_hangs_up_then_ends_the_app():
    master, slave = os.openpty()
    app = Watched()
    try:
        async with app.run_test():
            watch = watch_input(app, slave)
            before = voluntary_switches(watch.native_id)
            await asyncio.sleep(1.5)
            assert voluntary_switches(watch.native_id) - before <= 1  # it polled twice a second
            os.close(master)
            master = -1
            await wait_until(lambda: app.gone == 1)
        watch.join(2)
        assert not watch.is_alive() and app.return_code == 129
    finally:
        os.close(slave)
        if master >= 0:
            os.close(master)


async def test_a_hang_up_before_the_app_runs_ends_it_once_it_runs_and_one_after_it_ended_is_ignored():
    master, slave = os.openpty()
    app = Watched()
    watch = watch_input(app, slave)
    os.close(master)
    await asyncio.sleep(0.2)
    assert watch.is_alive()  # waiting for the app
    async with app.run_test():
        await wait_until(lambda: app.gone == 1)
    watch.join(2)
    assert not watch.is_alive() and app.gone == 1

    master, slave_2 = os.openpty()
    app = Watched()
    async with app.run_test():
        watch = watch_input(app, slave_2)
        app.exit()
    os.close(master)  # after the app ended
    watch.join(2)
    assert not watch.is_alive() and app.gone == 0
    os.close(slave)
    os.close(slave_2)


def test_term_dumb_draws_in_sixteen_colours(pg, pty_run):
    term = pty_run([pg.dsn()], env={"TERM": "dumb"})
    term.wait_for("Connections")
    time.sleep(1.5)
    term.type("q")
    term.proc.wait(timeout=10)
    output = term.text()
    assert "\x1b[" in output
    assert not re.search(r"\x1b\[[0-9;]*[34]8;[25];", output), "256 or truecolour escape codes on TERM=dumb"


@pytest.fixture(scope="module")
def url_role(pg):
    pg.psql("DROP ROLE IF EXISTS url_user; CREATE ROLE url_user LOGIN PASSWORD 'typed-at-the-prompt'")
    return f"postgresql://url_user@127.0.0.1:{pg.port}/postgres"


@pytest.fixture
def no_saved_password(tmp_path):
    """No PGPASSWORD, and a HOME without ~/.pgpass."""
    return {"HOME": str(tmp_path), "PGPASSWORD": "", "PGPASSFILE": str(tmp_path / "none")}


def test_a_url_without_a_password_prompts_in_a_terminal(url_role, no_saved_password, pty_run):
    term = pty_run(["snapshot", url_role, "--json"], env=no_saved_password)
    term.wait_for("Password for url_user@127.0.0.1")
    term.type("typed-at-the-prompt\n")
    assert term.proc.wait(timeout=20) == 0, term.text()
    assert '"current_user":"url_user"' in term.text()
    assert "typed-at-the-prompt" not in term.text()  # not echoed

    # the dashboard asks the same way, before it draws
    term = pty_run([url_role], env=no_saved_password)
    term.wait_for("Password for url_user@127.0.0.1")
    term.type("typed-at-the-prompt\n")
    term.wait_for("Connections")
    term.type("q")
    assert term.proc.wait(timeout=10) == 0


def test_a_url_without_a_password_and_no_terminal_fails_in_one_line(url_role, no_saved_password):
    env = {**os.environ, **no_saved_password}
    result = subprocess.run([*dbtop_command(), "snapshot", url_role], stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=20, env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "password authentication failed for user 'url_user'" in result.stderr
