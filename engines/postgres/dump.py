"""Running PostgreSQL's client programs (pg_dump, pg_restore) for the backup actions, without ever
putting the password where another process can read it.

- The connection is described to the program by a libpq keyword string (`--dbname`) that never
  holds a password.
- The password reaches it only through a password file of mode 0600 in a private directory (0700)
  named by PGPASSFILE, removed when the program has finished; PGPASSWORD is removed from its
  environment (dbtop reads it as libpq does, and passes it on in the file instead).
- The program runs in a session of its own, so a cancelled or failed action kills it and whatever
  it started, and a long run reports progress while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from ...profiles.target import Target, quote_keyword_value

APPLICATION_NAME = "dbtop backup"
POLL_S = 0.2


def conninfo(target: Target, *, database: str | None = None, application_name: str = APPLICATION_NAME) -> str:
    """The libpq keyword string for `target` (or another `database` on its server): never a password."""
    params: dict[str, str] = {}
    if target.hosts:
        params["host"] = ",".join(target.hosts)
    if target.ports:
        params["port"] = ",".join(str(p) for p in target.ports)
    if target.user:
        params["user"] = target.user
    params["dbname"] = database or target.database or target.user or "postgres"
    params["connect_timeout"] = f"{max(1, round(target.connect_timeout_s))}"
    params["application_name"] = application_name
    params.update(target.options)  # sslmode, sslrootcert, passfile …: paths and modes, never a secret
    return " ".join(f"{k}={quote_keyword_value(v)}" for k, v in params.items())


def _passfile_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def client_environment(target: Target, environ: Mapping[str, str] | None = None) -> Iterator[dict[str, str]]:
    """The environment to run a client program for `target` in: PGPASSWORD removed and, when dbtop
    knows a password (the target's, else PGPASSWORD's), PGPASSFILE naming a file of mode 0600 that
    holds it, in a directory of mode 0700; both removed on leaving, whatever happened."""
    env = dict(os.environ if environ is None else environ)
    inherited = env.pop("PGPASSWORD", None)
    password = target.password.get_secret_value() if target.password else inherited
    if not password:
        yield env
        return
    private = tempfile.mkdtemp(prefix="dbtop-pass-")  # mkdtemp: mode 0700, this user's only
    try:
        path = os.path.join(private, "pgpass")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"*:*:*:*:{_passfile_field(password)}\n")
        env["PGPASSFILE"] = path
        yield env
    finally:
        shutil.rmtree(private, ignore_errors=True)


@dataclass(frozen=True)
class Finished:
    """How a client program ended: its exit status (negative: killed by that signal) and the last
    lines it wrote to stderr."""

    returncode: int
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def reason(self, program: str) -> str:
        """One line: why `program` failed."""
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            return f"{program} was killed ({name})"
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return f"{program} failed: {lines[-1][:300]}" if lines else f"{program} failed (exit status {self.returncode})"


def kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run_client(argv: list[str], env: Mapping[str, str], *,
                     tick: Callable[[], None] | None = None, capture_stdout: bool = False) -> tuple[Finished, str]:
    """Run `argv` in a session of its own and wait for it, calling `tick` every POLL_S while it
    runs; (how it ended, its standard output when `capture_stdout`). If the waiting task is
    cancelled or `tick` raises, the program and its children are killed before that propagates."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if capture_stdout else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, start_new_session=True)
    communicate = asyncio.ensure_future(process.communicate())
    try:
        while True:
            done, _ = await asyncio.wait({communicate}, timeout=POLL_S)
            if done:
                break
            if tick is not None:
                tick()
        out, err = communicate.result()
    except BaseException:
        kill_group(process)
        with contextlib.suppress(BaseException):
            await asyncio.shield(communicate)
        raise
    finally:
        kill_group(process)  # anything it left running in its session
    return (Finished(process.returncode if process.returncode is not None else -1,
                     (err or b"").decode(errors="replace")[-4000:]),
            (out or b"").decode(errors="replace") if capture_stdout else "")
