"""A throwaway PostgreSQL cluster in a temporary directory: for the demo, the tests and the benchmarks.

Finds the server binaries on the machine, runs initdb and pg_ctl (as an unprivileged user when
running as root, since PostgreSQL refuses to run as root), listens on a free port on 127.0.0.1
and on a socket inside the directory, and can add a streaming standby with pg_basebackup.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_PACKAGE_HINT = (
    "install PostgreSQL's server package (postgresql-15 or newer; on Debian: apt-get install postgresql)"
)
UNPRIVILEGED_USER = "dbtop-pg"


class ServerBinariesMissing(RuntimeError):
    pass


class ClusterError(RuntimeError):
    pass


def bindir_candidates() -> list[Path]:
    """Where PostgreSQL's programs may be, in order: DBTOP_PG_BINDIR, `pg_config --bindir`, then
    every /usr/lib/postgresql/*/bin, newest version first."""
    candidates: list[Path] = []
    if os.environ.get("DBTOP_PG_BINDIR"):
        candidates.append(Path(os.environ["DBTOP_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0:
                candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versioned, key=lambda p: int(Path(p).parent.name)
                                           if Path(p).parent.name.isdigit() else 0, reverse=True)]
    return candidates


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin."""
    for path in bindir_candidates():
        if (path / "initdb").exists() and (path / "pg_ctl").exists() and (path / "postgres").exists():
            return path
    raise ServerBinariesMissing(f"no PostgreSQL server binaries (initdb, pg_ctl) found: {SERVER_PACKAGE_HINT}")


@dataclass(frozen=True)
class ClientTool:
    """A client program (pg_dump, pg_restore) and the version it reports, e.g. '15.18'."""

    path: Path
    version: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def find_client_tool(name: str) -> ClientTool | None:
    """The newest `name` (pg_dump, pg_restore) among the places PostgreSQL's programs are looked
    for (`bindir_candidates`), by the version it reports; DBTOP_PG_BINDIR, when it holds one, is
    taken as it is (the operator chose it). None when there is none."""
    found: list[ClientTool] = []
    chosen = os.environ.get("DBTOP_PG_BINDIR")
    for directory in bindir_candidates():
        path = directory / name
        if not os.access(path, os.X_OK):
            continue
        try:
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10,
                                 stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError):
            continue
        version = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)", out.stdout)
        if out.returncode != 0 or version is None:
            continue
        tool = ClientTool(path, version.group(1))
        if chosen and directory == Path(chosen):
            return tool
        found.append(tool)
    return max(found, key=lambda t: tuple(int(n) for n in t.version.split(".")), default=None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str | None:
    """When running as root, the user that owns and runs the cluster; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", UNPRIVILEGED_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    UNPRIVILEGED_USER], check=True, capture_output=True)
    return UNPRIVILEGED_USER


class LocalCluster:
    """One PostgreSQL instance in `base_dir` (data/, the socket, the log)."""

    def __init__(self, base_dir: Path | None = None, port: int | None = None, bindir: Path | None = None):
        self.bindir = bindir or find_bindir()
        self.run_as = _unprivileged_user()
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="dbtop-pg-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir
        self.log_file = self.base_dir / "server.log"
        self.port = port or free_port()
        self.superuser = "postgres"
        if self.run_as:
            shutil.chown(self.base_dir, self.run_as, self.run_as)
            os.chmod(self.base_dir, 0o755)

    # -- running the server binaries -------------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / tool), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                cwd=self.base_dir, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise ClusterError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}\n{log_tail}")
        return result

    def initdb(self, settings: dict[str, str] | None = None, preload_statements: bool = True,
               initdb_auth: bool = False) -> None:
        """`initdb_auth`: keep initdb's own pg_hba.conf (trust on every line, loopback only) instead of
        scram-sha-256 for host lines."""
        auth = [] if initdb_auth else ["--auth-local=trust", "--auth-host=scram-sha-256"]
        self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, *auth,
                  "-E", "UTF8", "--locale=C", "--no-sync")
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "track_io_timing": "on",
            "max_wal_senders": "10",
            "wal_level": "replica",
            "hot_standby": "on",
            "wal_keep_size": "'256MB'",
        }
        if preload_statements:
            conf["shared_preload_libraries"] = "'pg_stat_statements'"
            conf["pg_stat_statements.track"] = "all"
        conf.update(settings or {})
        self.append_config(conf)
        hba = self.data_dir / "pg_hba.conf"
        hba_text = hba.read_text() if hba.exists() else ""
        self._write_owned(hba, hba_text + "\nlocal replication all trust\n")

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self.run_as:
            shutil.chown(path, self.run_as, self.run_as)

    def append_config(self, conf: dict[str, str]) -> None:
        path = self.data_dir / "postgresql.conf"
        lines = "".join(f"{k} = {v}\n" for k, v in conf.items())
        self._write_owned(path, path.read_text() + "\n# dbtop\n" + lines)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                  "-o", f"-p {self.port}", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- connecting ------------------------------------------------------------------------------
    def dsn(self, user: str | None = None, database: str = "postgres", tcp: bool = False) -> str:
        user = user or self.superuser
        if tcp:
            return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"
        return f"host={self.socket_dir} port={self.port} user={user} dbname={database}"

    def connect_kwargs(self, user: str | None = None, database: str = "postgres") -> dict:
        return {"host": str(self.socket_dir), "port": self.port, "user": user or self.superuser,
                "database": database}

    def psql(self, sql: str, database: str = "postgres") -> str:
        # Through stdin rather than -c, so that each statement runs on its own (-c wraps several
        # in one transaction, where CREATE DATABASE is refused).
        result = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir),
             "-p", str(self.port), "-U", self.superuser, "-d", database, "-f", "-"],
            capture_output=True, text=True, timeout=300, input=sql)
        if result.returncode != 0:
            raise ClusterError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    # -- replication -----------------------------------------------------------------------------
    def create_standby(self, base_dir: Path | None = None, slot: str | None = "standby1") -> LocalCluster:
        """A streaming standby of this cluster, from pg_basebackup -R, started on its own port."""
        standby = LocalCluster(base_dir=base_dir, bindir=self.bindir)
        args = ["-D", str(standby.data_dir), "-h", str(self.socket_dir), "-p", str(self.port),
                "-U", self.superuser, "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        if slot:
            args += ["-C", "-S", slot]
        standby._run("pg_basebackup", *args, timeout=300)
        standby.append_config({"port": str(standby.port),
                               "unix_socket_directories": f"'{standby.socket_dir}'"})
        standby.start()
        return standby
