"""The Replication panel and the overview name who manages the cluster and show Patroni's view beside
the servers' own; a disagreement is shown as one. Built snapshots, no server."""

from __future__ import annotations

import pytest

from . import fakes as f
from .fakes import FakeCollector, fake_dashboard
from .test_app import SIZES, screen_text, until
from .test_panels_fake import row_keys


async def _replication_text(snap, size):
    async with fake_dashboard(FakeCollector(snap), size) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: "managed by" in screen_text(app), timeout=5)
        await pilot.pause()
        hidden = app.query_one("#replication-members").has_class("hidden")
        return screen_text(app), row_keys(app, "replication-members"), hidden


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_patroni_members_beside_what_the_server_says(size):
    snap = f.healthy(manager=f.patroni_manager("node1"),
                     replication=f.replication(standbys=[f.standby(application="node2")]))
    text, members, _ = await _replication_text(snap, size)
    assert "managed by: Patroni" in text
    assert members == ["node1", "node2"]
    assert "DISAGREE" not in text
    if size[0] >= 120:
        assert "connected: not in recovery" in text and "streaming, replay lag 0.2s" in text


async def test_a_replica_patroni_calls_so_that_accepts_writes_is_shown_as_a_disagreement():
    # Patroni lists node2 as a replica; the server dbtop is connected to (node2) is not in recovery
    snap = f.healthy(manager=f.patroni_manager("node2", paused=True))
    text, _, _ = await _replication_text(snap, (120, 40))
    assert "DISAGREE" in text and "Patroni calls node2 a replica, but the server is not in recovery" in text
    assert "PAUSED" in text
    assert "Patroni PAUSED DISAGREES" in text  # the overview strip


async def test_plain_streaming_says_no_manager():
    snap = f.healthy(manager=f.model.ClusterManager(kind="none", evidence=("no manager's trace in SQL",)))
    text, members, hidden = await _replication_text(snap, (120, 40))
    assert "managed by: none (plain streaming)" in text
    assert members == [] and hidden
    assert "no manager" in text  # the overview strip


async def test_member_row_keys_ask_for_the_patroni_actions():
    asked = []
    snap = f.healthy(manager=f.patroni_manager("node1"))
    async with fake_dashboard(FakeCollector(snap), (120, 40)) as (app, pilot):
        app.request_action = lambda action, params: asked.append((action, params)) or True
        await pilot.press("4")
        await until(pilot, lambda: row_keys(app, "replication-members") == ["node1", "node2"], timeout=5)
        app.query_one("#replication-members").focus()
        await pilot.press("down", "W", "F", "P")
        await pilot.pause()
        assert asked == [("switchover", {"candidate": "node2"}), ("failover", {"candidate": "node2"}),
                         ("pause", {})]


async def test_read_only_has_no_patroni_keys():
    snap = f.healthy(manager=f.patroni_manager("node1"))
    async with fake_dashboard(FakeCollector(snap), (120, 40), read_only=True) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: row_keys(app, "replication-members") == ["node1", "node2"], timeout=5)
        app.query_one("#replication-members").focus()
        await pilot.pause()
        assert "Switchover to member" not in screen_text(app)
