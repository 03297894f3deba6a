"""MongoDB's Views panel from the collector over a real socket (mockupdb answering like mongod 7.0):
views listed as computed on read, and a collection fed by $merge/$out, named in the profile, dated by
its newest document against its freshness threshold."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr
from textual.widgets import DataTable

from dbtop.engines.mongo.collector import MongoCollector
from dbtop.engines.policy import WatchPolicy
from dbtop.profiles.target import Target

from .mongo_mock import MockMongo, unauthorized
from .test_app import screen_text, until

POLICY = WatchPolicy(data_age_columns={"shop.daily_sales": "day", "shop.hourly": "meta.at", "shop.missing": "at"},
                     freshness_s={"shop.daily_sales": 26 * 3600, "shop.hourly": 2 * 3600})


@pytest.fixture
def mongo():
    server = MockMongo().start()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    server.collections[("shop", "daily_sales")] = [{"day": now - timedelta(hours=h)} for h in (30, 50)]
    server.collections[("shop", "hourly")] = [{"meta": {"at": now - timedelta(minutes=20)}}]
    yield server
    server.stop()


def collector_for(server: MockMongo, policy: WatchPolicy = POLICY) -> MongoCollector:
    return MongoCollector(Target(engine="mongo", mongo_uri=SecretStr(server.uri)), max_time_ms=500,
                          socket_timeout_ms=1500, server_selection_timeout_ms=1500, policy=policy)


async def test_views_are_listed_and_fed_collections_dated_by_their_newest_document(mongo):
    collector = collector_for(mongo)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    views = snap.mongo.views
    assert [(v.qualified_name, v.view_on) for v in views.views] == [("shop.open_orders", "orders")]
    assert views.views[0].pipeline == '[{"$match": {"status": "open"}}]'
    fed = {f.qualified_name: f for f in views.fed}
    daily, hourly, missing = fed["shop.daily_sales"], fed["shop.hourly"], fed["shop.missing"]
    assert daily.stale is True and daily.age_s == pytest.approx(30 * 3600, abs=60)
    assert hourly.stale is False and hourly.age_s == pytest.approx(20 * 60, abs=60)
    assert missing.stale is None and "no document of shop.missing has a at field" in missing.error
    finds = [doc for doc in mongo.received if "find" in doc and doc["find"] == "daily_sales"]
    assert finds[0]["sort"] == {"day": -1} and finds[0]["limit"] == 1 and finds[0]["maxTimeMS"] == 500
    assert snap.part("views").available


async def test_a_database_whose_collections_cannot_be_listed_marks_the_part(mongo):
    mongo.replies["listCollections"] = unauthorized("listCollections", "shop")
    collector = collector_for(mongo)
    try:
        snap = await collector.snapshot()
    finally:
        await collector.close()
    part = snap.part("views")
    assert not part.available and "needs read on each database" in part.reason
    assert snap.mongo.views is None


@contextlib.asynccontextmanager
async def mongo_dashboard(server: MockMongo, size=(120, 40)):
    from dbtop.tui.app import DbtopApp
    from dbtop.tui.poller import SnapshotPoller

    poller = SnapshotPoller(collector_for(server), 0.5)
    await asyncio.to_thread(poller.connect)
    app = DbtopApp(poller, theme_name="dbtop-dark")
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(pilot, lambda: app.last_reachable is not None)
        await app.other_panels_composed()
        yield app, pilot


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_views_panel_says_views_are_computed_on_read(mongo, size):
    async with mongo_dashboard(mongo, size) as (app, pilot):
        await pilot.press("5")
        table = app.query_one("#views-table", DataTable)
        await until(pilot, lambda: table.row_count == 4)
        assert [key.value for key in table.rows][:2] == ["fed:shop.daily_sales", "fed:shop.missing"]
        text = screen_text(app)
        assert "1 view(s)" in text and "computes a view on every read" in text
        assert "STALE" in text and "on read" in text
        await pilot.press("6")
        assert app.query_one("#panels").active == "backups"
