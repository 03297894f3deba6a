"""The MongoCollector against a real MongoDB, when DBTOP_TEST_MONGODB_URI names one (a user with
clusterMonitor); skipped otherwise, and the skip says so."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr

from dbtop.engines.mongo.collector import MongoCollector
from dbtop.findings.engine import evaluate
from dbtop.profiles.target import Target

URI = os.environ.get("DBTOP_TEST_MONGODB_URI")
pytestmark = pytest.mark.skipif(not URI, reason="no real MongoDB here: set DBTOP_TEST_MONGODB_URI to run the "
                                                "MongoDB collector against one")


async def test_real_server_snapshot():
    collector = MongoCollector(Target(engine="mongo", mongo_uri=SecretStr(URI or "")))
    try:
        first = await collector.snapshot()
        second = await collector.snapshot()
    finally:
        await collector.close()
    assert first.reachable and second.reachable, second.error
    assert second.server.version_num >= 40400 and second.connections_used
    assert second.part("status").available and second.part("sessions").available, second.parts
    assert second.mongo.opcounters.per_s is not None
    findings, failures = evaluate(second)
    assert failures == []
