"""A real two-node Patroni cluster over one etcd, for the HA tests (../shared/recipes/ha-and-backup.md §1).

etcd and both Patroni daemons run as the unprivileged user when the suite runs as root, each started
directly (`Popen(user=…)`, never runuser, so the pid held is the daemon's own). node1 is started
first and becomes the leader before node2 starts; teardown stops both Patroni together, then any
postmaster a Patroni left behind, then etcd.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dbtop.engines.postgres.cluster import _unprivileged_user, find_bindir, free_port

PACKAGES_HINT = "install Debian's patroni and etcd-server packages (apt-get install -y patroni etcd-server)"


def missing_programs() -> list[str]:
    return [name for name in ("patroni", "etcd") if shutil.which(name) is None]


def http_json(url: str, method: str = "GET", body: dict | None = None, timeout: float = 2.0) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


@dataclass
class PatroniNode:
    name: str
    base: Path
    pg_port: int
    api_port: int
    process: subprocess.Popen | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"


@dataclass
class LocalPatroni:
    """etcd plus Patroni nodes node1 and node2 under one temporary directory."""

    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dbtop-patroni-")))
    scope: str = "dbtop-ha"
    nodes: dict[str, PatroniNode] = field(default_factory=dict)
    etcd: subprocess.Popen | None = None
    etcd_port: int = 0

    def __post_init__(self):
        self.run_as = _unprivileged_user()
        self.bindir = find_bindir()
        self._own(self.base)

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(path, self.run_as, self.run_as)
        os.chmod(path, 0o755)

    def _spawn(self, argv: list[str], log: Path, home: Path) -> subprocess.Popen:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
        user = {"user": self.run_as, "group": self.run_as, "extra_groups": []} if self.run_as else {}
        with open(log, "ab") as out:
            return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True, cwd=home, **user)

    # -- starting --------------------------------------------------------------------------------
    def start(self) -> LocalPatroni:
        self.start_etcd()
        self.start_node("node1")
        wait_for(lambda: http_json(f"{self.nodes['node1'].api_url}/leader")[0] == 200, 30, "node1 to lead")
        self.start_node("node2")
        self.wait_healthy(30)
        return self

    def start_etcd(self) -> None:
        directory = self.base / "etcd"
        self._own(directory)
        self.etcd_port, peer = free_port(), free_port()
        client, peer_url = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{peer}"
        self.etcd = self._spawn(
            ["etcd", "--name", "ha-etcd", "--data-dir", str(directory / "data"), "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer_url,
             "--initial-advertise-peer-urls", peer_url, "--initial-cluster", f"ha-etcd={peer_url}",
             "--initial-cluster-state", "new", "--initial-cluster-token", "dbtop-ha"],
            directory / "etcd.log", directory)
        wait_for(lambda: http_json(f"{client}/health")[0] == 200, 15, "etcd to answer /health")

    def start_node(self, name: str) -> PatroniNode:
        node = self.nodes.get(name)
        if node is None:
            node = PatroniNode(name, self.base / name, free_port(), free_port())
            self.nodes[name] = node
            self._own(node.base)
            (node.base / "patroni.yml").write_text(self._config(node))
        node.process = self._spawn(["patroni", str(node.base / "patroni.yml")], node.base / "patroni.log", node.base)
        return node

    def _config(self, node: PatroniNode) -> str:
        config = {
            "scope": self.scope, "namespace": "/service/", "name": node.name,
            "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_port}"},
            "bootstrap": {
                "dcs": {"ttl": 20, "loop_wait": 2, "retry_timeout": 5, "maximum_lag_on_failover": 1048576,
                        "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": {
                            "wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                            "max_wal_senders": 10, "max_replication_slots": 10, "wal_keep_size": "128MB"}}},
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, {"auth-local": "trust"}],
                "pg_hba": ["local all all trust", "local replication all trust",
                           "host replication replicator 127.0.0.1/32 trust", "host all all 127.0.0.1/32 trust"]},
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}", "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(node.data_dir), "bin_dir": str(self.bindir), "pgpass": str(node.base / "pgpass"),
                "authentication": {"superuser": {"username": "postgres", "password": "pgpass"},
                                   "replication": {"username": "replicator", "password": "reppass"},
                                   "rewind": {"username": "rewinder", "password": "rewpass"}},
                "parameters": {"unix_socket_directories": str(node.base), "fsync": "off",
                               "synchronous_commit": "off", "full_page_writes": "on"}},
        }
        return json.dumps(config, indent=1)  # JSON is YAML

    # -- state -----------------------------------------------------------------------------------
    def cluster(self) -> dict:
        for node in self.nodes.values():
            try:
                status, body = http_json(f"{node.api_url}/cluster")
            except (OSError, urllib.error.URLError):
                continue
            if status == 200 and isinstance(body, dict):
                return body
        return {}

    def healthy(self) -> bool:
        """One leader, one replica streaming from it, both on the leader's timeline, not paused."""
        body = self.cluster()
        members = body.get("members", [])
        leaders = [m for m in members if m.get("role") == "leader" and m.get("state") == "running"]
        replicas = [m for m in members if m.get("role") != "leader" and m.get("state") in ("running", "streaming")]
        if not (len(members) == 2 and len(leaders) == 1 and len(replicas) == 1 and not body.get("pause")
                and replicas[0].get("timeline") == leaders[0].get("timeline")
                and isinstance(replicas[0].get("lag"), int) and replicas[0]["lag"] <= 1048576):
            return False
        # Patroni 3.0 calls a replica "running" before it streams (and while it reconnects): the
        # leader's own pg_stat_replication, in its GET /patroni, says whether it does.
        status, leader = http_json(f"{self.nodes[leaders[0]['name']].api_url}/patroni")
        return status == 200 and isinstance(leader, dict) and any(
            r.get("application_name") == replicas[0]["name"] and r.get("state") == "streaming"
            for r in leader.get("replication") or [])

    def wait_healthy(self, timeout: float = 30) -> None:
        wait_for(self.healthy, timeout, "Patroni: one leader and one streaming replica")

    def leader(self) -> PatroniNode:
        name = next(m["name"] for m in self.cluster()["members"] if m["role"] == "leader")
        return self.nodes[name]

    def replica(self) -> PatroniNode:
        name = next(m["name"] for m in self.cluster()["members"] if m["role"] != "leader")
        return self.nodes[name]

    # -- stopping --------------------------------------------------------------------------------
    def stop(self) -> None:
        running = [n for n in self.nodes.values() if n.process and n.process.poll() is None]
        for node in running:
            node.process.send_signal(signal.SIGTERM)
        for node in running:
            try:
                node.process.wait(20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(5)
        for node in self.nodes.values():
            if (node.data_dir / "postmaster.pid").exists():  # a Patroni that died left its postmaster
                cmd = [str(self.bindir / "pg_ctl"), "-D", str(node.data_dir), "-m", "immediate", "stop"]
                user = {"user": self.run_as, "group": self.run_as, "extra_groups": []} if self.run_as else {}
                subprocess.run(cmd, capture_output=True, timeout=30, check=False, **user)
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(10)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
        shutil.rmtree(self.base, ignore_errors=True)
