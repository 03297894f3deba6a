"""A real pgBackRest repository for the tests, as ../shared/recipes/ha-and-backup.md section 2 made it:
its own cluster archiving into a stanza, every path under one test directory, pgBackRest run as the
OS user that runs the cluster (root's `check` and `backup` connect as role root and fail)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dbtop.engines.backups.pgbackrest import PgBackRestCommand
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.cluster import LocalCluster

STANZA = "dbtop_demo"
MISSING = "pgbackrest is not installed: apt-get install pgbackrest (the pgBackRest tests need a real repository)"


def pgbackrest_executable() -> str:
    """pgbackrest's path. Without it: a failure under CI (which installs it), a skip elsewhere naming
    the package, as for Patroni (the README's test command runs on a machine without them)."""
    found = shutil.which("pgbackrest")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    return found


@dataclass
class PgBackRestRepo:
    """A stanza in a repository under `base`, backing up `cluster`."""

    cluster: LocalCluster
    base: Path
    stanza: str = STANZA
    labels: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.base / "pgbackrest.conf"

    @property
    def repo_path(self) -> Path:
        return self.base / "repo"

    @property
    def os_user(self) -> str | None:
        """The OS user pgBackRest must run as (None: the current one, when the suite is not root)."""
        return self.cluster.run_as

    @property
    def command(self) -> PgBackRestCommand:
        """pgBackRest as a profile naming this stanza has dbtop run it."""
        return PgBackRestCommand(stanza=self.stanza, config=str(self.config), user=self.os_user)

    def policy(self, backup_dir: Path, **values) -> WatchPolicy:
        return WatchPolicy(profile="pgbr", backup_dir=str(backup_dir), pgbackrest_stanza=self.stanza,
                           pgbackrest_config=str(self.config), pgbackrest_user=self.os_user, **values)

    def profile_toml(self, name: str = "pgbr") -> str:
        """A profile file naming this stanza, allowing actions."""
        lines = [f"[profiles.{name}]", f'host = "{self.cluster.socket_dir}"', f"port = {self.cluster.port}",
                 f'user = "{self.cluster.superuser}"', 'database = "postgres"', "read_only = false",
                 f'pgbackrest_stanza = "{self.stanza}"', f'pgbackrest_config = "{self.config}"']
        if self.os_user:
            lines.append(f'pgbackrest_user = "{self.os_user}"')
        return "\n".join(lines) + "\n"

    def newest(self) -> dict:
        return self.info()[0]["backup"][-1]

    def argv(self, *args: str) -> list[str]:
        command = [pgbackrest_executable(), f"--config={self.config}", f"--stanza={self.stanza}", *args]
        return ["runuser", "-u", self.os_user, "--", *command] if self.os_user else command

    def run(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, cwd=self.base)
        if result.returncode != 0:
            raise AssertionError(f"pgbackrest {' '.join(args)} failed ({result.returncode}): "
                                 f"{(result.stderr or result.stdout).strip()}")
        return result.stdout

    def info(self) -> list[dict]:
        return json.loads(self.run("--output=json", "info"))

    def backup(self, kind: str) -> str:
        self.run(f"--type={kind}", "backup")
        label = self.info()[0]["backup"][-1]["label"]
        self.labels.append(label)
        return label

    def archive_now(self) -> None:
        """Switch WAL and wait until the segment is in the archive (a restore to a later time needs it)."""
        self.cluster.psql("SELECT pg_switch_wal()")
        self.run("check")


def pgbackrest_settings(base: Path, stanza: str = STANZA) -> dict[str, str]:
    """The cluster's settings that archive into the stanza (the archive_command carries --config:
    it runs in the postmaster's environment)."""
    return {"archive_mode": "on", "wal_level": "replica",
            "archive_command": f"'pgbackrest --config={base / 'pgbackrest.conf'} --stanza={stanza} archive-push %p'"}


def write_config(repo: PgBackRestRepo) -> None:
    """pgbackrest.conf and its directories, all under `repo.base`, owned by the cluster's OS user."""
    base, cluster = repo.base, repo.cluster
    for name in ("repo", "log", "lock", "spool"):
        (base / name).mkdir(parents=True, exist_ok=True)
    repo.config.write_text(
        "[global]\n"
        f"repo1-path={base / 'repo'}\n"
        "repo1-retention-full=2\n"
        f"log-path={base / 'log'}\n"
        f"lock-path={base / 'lock'}\n"
        f"spool-path={base / 'spool'}\n"
        "log-level-console=warn\n"
        "log-level-file=info\n"
        "start-fast=y\n"
        "process-max=2\n"
        "compress-type=lz4\n"
        f"\n[{repo.stanza}]\n"
        f"pg1-path={cluster.data_dir}\n"
        f"pg1-port={cluster.port}\n"
        f"pg1-socket-path={cluster.socket_dir}\n"
        f"pg1-user={cluster.superuser}\n")
    if repo.os_user:
        for path in (base, repo.config, *(base / n for n in ("repo", "log", "lock", "spool"))):
            shutil.chown(path, repo.os_user, repo.os_user)


def make_repo(cluster: LocalCluster, base: Path) -> PgBackRestRepo:
    """stanza-create, a full backup, some writes, an incremental one."""
    repo = PgBackRestRepo(cluster, base)
    write_config(repo)
    repo.run("stanza-create")
    cluster.psql("CREATE TABLE pgbr_rows (id int PRIMARY KEY, written_at timestamptz DEFAULT clock_timestamp());"
                 "INSERT INTO pgbr_rows (id) SELECT generate_series(1, 1000)")
    repo.backup("full")
    cluster.psql("INSERT INTO pgbr_rows (id) SELECT generate_series(1001, 2000)")
    repo.backup("incr")
    return repo


def server_time(cluster: LocalCluster) -> datetime:
    return datetime.fromisoformat(cluster.psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', "
                                               "'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00')"))


def wait_past(moment: datetime, cluster: LocalCluster) -> None:
    while server_time(cluster) <= moment:
        time.sleep(0.01)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
