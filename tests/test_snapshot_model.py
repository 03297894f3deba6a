"""The snapshot model: JSON round trips, and the trusted fast path equals validation."""

import asyncio

import pytest

from dbtop.engines.snapshot import Session, Snapshot, Statement


async def test_trusted_rows_build_the_same_models_as_validation(collector, sessions):
    conn = await sessions(app="probe")
    await conn.execute("BEGIN; SELECT 1")
    await collector.snapshot()
    await conn.fetch("SELECT relname FROM pg_class WHERE relpages > $1", 0)
    snap = await collector.snapshot()
    assert snap.sessions and snap.statements.entries
    for model in [*snap.sessions, *snap.statements.entries]:
        data = model.model_dump()
        validated = type(model).model_validate(data)
        assert validated == model
        assert validated.model_dump_json() == model.model_dump_json()
        assert validated.model_fields_set == model.model_fields_set
    with pytest.raises(Exception):
        snap.sessions[0].pid = 1  # still frozen


def test_trusted_rows_must_name_every_field():
    fields = set(Session.model_fields)
    assert fields >= {"pid", "state_s", "xact_s", "query_s", "blocked_by"}
    assert {"key", "query_id", "calls", "total_time_ms"} <= set(Statement.model_fields)


async def test_snapshot_json_round_trip(collector):
    await collector.snapshot()
    await asyncio.sleep(0.1)
    snap = await collector.snapshot()
    again = Snapshot.model_validate_json(snap.model_dump_json())
    assert again == snap
