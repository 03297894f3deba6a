"""Who manages the cluster, and the Patroni actions, against a real two-node Patroni + etcd cluster."""

from __future__ import annotations

import asyncio
import json

import asyncpg

from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.postgres.managers import detect_manager
from dbtop.engines.snapshot import Snapshot
from dbtop.profiles.target import resolve_target


async def _detect(dsn: str | dict, **kwargs):
    conn = await (asyncpg.connect(**dsn) if isinstance(dsn, dict) else asyncpg.connect(dsn))
    try:
        return await detect_manager(conn, timeout_s=2.0, **kwargs)
    finally:
        await conn.close()


async def test_patroni_is_confirmed_through_its_rest_api(patroni):
    replica = patroni.replica()
    manager = await _detect(replica.dsn(), host="127.0.0.1", patroni_url=replica.api_url, target="ha")
    assert manager.kind == "patroni"
    assert manager.api_url == replica.api_url
    assert manager.member == replica.name
    assert any("settings are given on the postgres command line" in e for e in manager.evidence)
    assert any("with this server's system identifier" in e for e in manager.evidence)
    cluster = manager.patroni_cluster
    assert cluster is not None and not cluster.paused
    assert {m.name for m in cluster.members} == {"node1", "node2"}
    assert cluster.leader.name == patroni.leader().name
    assert cluster.member(replica.name).streaming
    assert manager.promote_instead.startswith(f"dbtop act switchover ha --candidate {replica.name}")


async def test_a_patroni_fingerprint_without_an_answering_api_is_unknown(patroni):
    leader = patroni.leader()
    # nothing listens on the default port 8008 here: the hints make dbtop look, and it says what it saw
    manager = await _detect(leader.dsn(), host="127.0.0.1", patroni_url=None)
    assert manager.kind == "unknown"
    assert any("Patroni fingerprint but no REST API answered at http://127.0.0.1:8008" in e for e in manager.evidence)
    assert manager.error


async def test_a_rest_api_of_another_cluster_does_not_confirm(patroni, pg):
    # the suite's plain primary, pointed at the Patroni cluster's REST API: another system identifier
    manager = await _detect(pg.connect_kwargs(), host=None, patroni_url=patroni.leader().api_url)
    assert manager.kind == "unknown"
    assert "answered for another cluster" in manager.error


async def test_plain_streaming_is_detected_as_none(pg):
    manager = await _detect(pg.connect_kwargs(), host=None, patroni_url=None)
    assert manager.kind == "none"
    assert manager.promote_instead is None


async def test_the_collector_shows_patroni_s_view_and_keeps_the_json_additive(patroni):
    leader = patroni.leader()
    collector = PostgresCollector(resolve_target(leader.dsn()), policy=WatchPolicy(patroni_url=leader.api_url))
    try:
        first = await collector.snapshot()
        await asyncio.sleep(0.6)  # the poll right after the detection reuses its reading of /cluster
        second = await collector.snapshot()
    finally:
        await collector.close()
    for snap in (first, second):
        manager = snap.postgres.manager
        assert manager.kind == "patroni" and manager.member == leader.name, snap.parts
        assert manager.role_disagreement(snap.server.is_standby) is None
        assert {m.name for m in manager.patroni_cluster.members} == {"node1", "node2"}
    assert second.postgres.manager.patroni_cluster.read_at > first.postgres.manager.patroni_cluster.read_at
    data = json.loads(second.model_dump_json())
    assert data["manager"]["kind"] == "patroni" and "postgres" not in data  # schema 1's layout, one field added
    assert Snapshot.model_validate(data).postgres.manager == second.postgres.manager


async def test_the_collector_says_a_plain_server_has_no_manager(collector):
    snap = await collector.snapshot()
    assert snap.postgres.manager.kind == "none"
