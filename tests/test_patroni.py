"""Who manages the cluster, and the Patroni actions, against a real two-node Patroni + etcd cluster."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from dbtop.actions.patroni import send_request
from dbtop.actions.plan import PlannedRequest
from dbtop.engines.errors import ActionFailed
from dbtop.engines.policy import WatchPolicy
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.engines.postgres.managers import detect_manager
from dbtop.engines.snapshot import Snapshot
from dbtop.profiles.target import resolve_target
from dbtop.tui import cli

from .conftest import wait_until
from .fakes import FakeCollector, fake_dashboard
from .test_app import screen_text, until


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


# -- actions through Patroni ----------------------------------------------------------------------

def _profile(tmp_path, monkeypatch, node, **extra) -> str:
    lines = [f'host = "127.0.0.1"', f"port = {node.pg_port}", 'user = "postgres"', 'database = "postgres"',
             f'patroni_url = "{node.api_url}"', "read_only = false", *(f"{k} = {v}" for k, v in extra.items())]
    config = tmp_path / "config.toml"
    config.write_text("[profiles.ha]\n" + "\n".join(lines) + "\n")
    monkeypatch.setenv("DBTOP_CONFIG", str(config))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return "ha"


def _in_recovery(node) -> bool:
    async def read():
        conn = await asyncpg.connect(node.dsn())
        try:
            return await conn.fetchval("SELECT pg_is_in_recovery()")
        finally:
            await conn.close()
    return asyncio.run(read())


def test_switchover_through_dbtop_swaps_the_roles(patroni, tmp_path, monkeypatch, capsys):
    leader, replica = patroni.leader(), patroni.replica()
    target = _profile(tmp_path, monkeypatch, leader)
    status = cli.main(["act", "switchover", target, "--candidate", replica.name, "--confirm", replica.name])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert f"POST {leader.api_url}/switchover" in out and f'"candidate": "{replica.name}"' in out
    assert f"{replica.name} leads on timeline" in out
    assert f"{replica.name} not in recovery" in out and f"{leader.name} in recovery" in out
    assert not _in_recovery(replica) and _in_recovery(leader)
    assert patroni.leader().name == replica.name
    journal = (tmp_path / "state" / "dbtop" / "journal.jsonl").read_text()
    assert f"POST {leader.api_url}/switchover" in journal and '"outcome":"done"' in journal.replace(" ", "")


async def test_failover_to_a_candidate(patroni):
    leader, replica = patroni.leader(), patroni.replica()
    collector = PostgresCollector(resolve_target(replica.dsn()), policy=WatchPolicy(patroni_url=replica.api_url))
    try:
        plan = await collector.plan("failover", candidate=replica.name)
        assert plan.ready, plan.failed
        assert plan.confirm_text == replica.name and plan.risk == "disruptive"
        assert plan.request.method == "POST" and plan.request.body == {"candidate": replica.name}
        outcome = await collector.run(plan)
    finally:
        await collector.close()
    assert outcome.status == "done", outcome
    assert f"{replica.name} leads on timeline" in outcome.detail
    assert not await asyncio.to_thread(_in_recovery, replica) and await asyncio.to_thread(_in_recovery, leader)


@pytest.mark.parametrize("size", [(120, 40)], ids=["120x40"])
async def test_pause_is_shown_and_a_switchover_is_refused_while_paused(patroni, size):
    leader, replica = patroni.leader(), patroni.replica()
    collector = PostgresCollector(resolve_target(leader.dsn()), policy=WatchPolicy(patroni_url=leader.api_url))
    try:
        pause = await collector.plan("pause")
        assert pause.ready and pause.request.shown() == f'PATCH {leader.api_url}/config {{"pause": true}}'
        assert (await collector.run(pause)).status == "done"
        try:
            await wait_until(lambda: patroni.cluster().get("pause"), timeout=10)
            switchover = await collector.plan("switchover", candidate=replica.name)
            assert [p.name for p in switchover.failed] == ["not_paused"]
            assert "resume it first" in switchover.failed[0].detail
            refused = await collector.run(switchover)
            assert refused.status == "refused" and "not paused" in refused.detail
            collector.parts.postpone("manager", 0)
            snap = await collector.snapshot()
        finally:
            resume = await collector.plan("resume")
            assert (await collector.run(resume)).status == "done"
    finally:
        await collector.close()
    assert snap.postgres.manager.patroni_cluster.paused
    async with fake_dashboard(FakeCollector(snap), size) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: "PAUSED (maintenance mode" in screen_text(app), timeout=5)
        assert "Patroni PAUSED" in screen_text(app)


async def test_a_rest_api_refusal_is_one_line_with_patroni_s_reason(patroni):
    leader, replica = patroni.leader(), patroni.replica()
    wrong_leader = PlannedRequest(method="POST", url=f"{leader.api_url}/switchover",
                                  body={"leader": "nosuch", "candidate": replica.name})
    with pytest.raises(ActionFailed) as info:
        await send_request(wrong_leader)
    assert info.value.detail == "Patroni refused it (HTTP 412): leader name does not match"
    assert patroni.leader().name == leader.name


def test_a_raw_promote_of_a_patroni_member_is_refused_with_the_switchover_to_use(patroni, tmp_path, monkeypatch,
                                                                                  capsys):
    leader, replica = patroni.leader(), patroni.replica()
    target = _profile(tmp_path, monkeypatch, replica)
    status = cli.main(["act", "promote", target, "--confirm", target, "--accept-split-brain"])
    out, err = capsys.readouterr()
    assert status == 2, out + err
    assert f"FAIL no cluster manager (Patroni, repmgr, pg_auto_failover) runs this cluster: Patroni manages it " \
           f"(member {replica.name})" in out
    assert f"use dbtop act switchover {target} --candidate {replica.name}" in out
    assert "promote refused" in err
    assert _in_recovery(replica) and patroni.leader().name == leader.name
