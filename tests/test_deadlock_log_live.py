"""A real deadlock between two sessions on a server of the test's own, started with logging_collector
on: the deadlocks finding names both statements from the server log's tail; a role that may not read
the log gets the finding with which statements are not shown and why."""

from __future__ import annotations

import asyncio

from dbtop.findings.engine import Thresholds, evaluate

from .test_rules_live import snapshot_of
from .test_rules_live_second_round import _deadlock

DB = "deadlock_log"
# the statements _deadlock crosses, each waiting for the other's row
FIRST = "UPDATE f3_dead SET v = v + 1 WHERE id = 2"
SECOND = "UPDATE f3_dead SET v = v + 1 WHERE id = 1"


def _deadlock_evidence(snap) -> list[str]:
    findings, failures = evaluate(snap, Thresholds({}))
    assert failures == []
    [finding] = [f for f in findings if f.rule == "performance.deadlocks"]
    return [f"{e.subject}: {e.detail}" for e in finding.evidence]


async def test_the_deadlocks_finding_names_the_statements_from_the_server_log(start_cluster):
    cluster = start_cluster(settings={"logging_collector": "on", "deadlock_timeout": "100ms"})
    cluster.psql(f"CREATE DATABASE {DB}")
    cluster.psql("CREATE TABLE f3_dead (id int PRIMARY KEY, v int); INSERT INTO f3_dead VALUES (1, 0), (2, 0);"
                 "CREATE ROLE f16_watcher LOGIN; GRANT pg_monitor TO f16_watcher;", DB)
    await _deadlock(cluster.connect_kwargs(database=DB))

    lines: list[str] = []
    for _ in range(50):  # the logging collector writes the report a moment later
        lines = _deadlock_evidence(await snapshot_of(cluster, DB))
        if any(FIRST in line for line in lines) and any(SECOND in line for line in lines):
            break
        await asyncio.sleep(0.1)
    assert any(FIRST in line for line in lines) and any(SECOND in line for line in lines), lines
    assert any("(aborted)" in line for line in lines), lines

    watcher = _deadlock_evidence(await snapshot_of(cluster, DB, user="f16_watcher"))
    assert not any(FIRST in line or SECOND in line for line in watcher), watcher
    assert watcher[1].startswith("server log: the statements involved are not shown: the server log is not "
                                 "readable by f16_watcher: needs a superuser, or GRANT EXECUTE"), watcher
