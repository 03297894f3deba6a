"""The snapshot model: JSON round trips, and the trusted fast path equals validation."""

import asyncio
from datetime import datetime, timezone

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


def test_json_keeps_schema_1_layout_for_the_postgres_section():
    """The PostgreSQL section lives in `snapshot.postgres`, but scripts read schema 1's JSON: its parts
    are written where schema 1 had them, and read back from there."""
    import json
    from datetime import datetime, timezone

    from dbtop.engines.snapshot import (Activity, Backups, PgBackRestStatus, PostgresSection, Replication,
                                        ReplicationSlot, WalArchiving)

    now = datetime.now(timezone.utc)
    activity = Activity(xact_commit=5, xact_rollback=0, blks_hit=9, blks_read=1, tup_returned=0, tup_fetched=0,
                        tup_inserted=0, tup_updated=0, tup_deleted=0, deadlocks=0, temp_bytes=0)
    snap = Snapshot(
        sequence=3, taken_at=now, target="t", engine="postgres", reachable=True,
        replication=Replication(role="primary"),
        backups=Backups(read_at=now, rpo_s=60, retention_s=60, retention_keep=1),
        postgres=PostgresSection(activity=activity, slots=[ReplicationSlot(name="s1", slot_type="physical", active=False)],
                                 archiving=WalArchiving(archive_mode="on"),
                                 pgbackrest=PgBackRestStatus(available=True, stanzas=["main"])))
    data = json.loads(snap.model_dump_json())
    assert "postgres" not in data
    assert data["activity"]["xact_commit"] == 5 and data["catalog"] is None
    assert data["replication"]["slots"][0]["name"] == "s1"
    assert data["backups"]["archiving"]["archive_mode"] == "on"
    assert data["backups"]["pgbackrest"]["stanzas"] == ["main"]
    assert Snapshot.model_validate_json(snap.model_dump_json()) == snap

    mongo = Snapshot(sequence=1, taken_at=now, target="m", engine="mongo", reachable=True)
    data = json.loads(mongo.model_dump_json())
    assert not {"activity", "catalog", "postgres"} & set(data)
    assert Snapshot.model_validate_json(mongo.model_dump_json()) == mongo



def test_durations_moved_on_equals_a_validated_copy():
    """durations_moved_on moves on the durations of carried-over sessions without validation: the
    copy must equal model_copy's and dump as validation would, and leave the original as it was."""
    values = dict(pid=7, user="app", database="shop", application="api", client="local",
                  backend_type="client backend", state="idle", wait_event_type="Client", wait_event="ClientRead",
                  backend_start=datetime(2026, 1, 1, tzinfo=timezone.utc), xact_start=None,
                  query_start=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc), state_s=1.5, xact_s=None,
                  query_s=2.5, query_id=42, query="SELECT 1", blocked_by=[])
    session = Session.from_trusted(dict(values))
    moved = session.durations_moved_on(2.0)
    assert moved == session.model_copy(update={"state_s": 3.5, "query_s": 4.5})
    assert moved == Session.model_validate({**values, "state_s": 3.5, "query_s": 4.5})
    assert moved.model_dump() == {**values, "state_s": 3.5, "query_s": 4.5}
    assert moved.model_dump_json() == Session.model_validate({**values, "state_s": 3.5, "query_s": 4.5}).model_dump_json()
    assert session.state_s == 1.5 and session.query_s == 2.5 and session.xact_s is None
    # a session built with some fields left unset (as MongoDB's collector may) marks those it moved as set
    sparse = Session(pid=8, state_s=1.0)
    moved = sparse.durations_moved_on(0.5)
    assert moved == sparse.model_copy(update={"state_s": 1.5})
    assert moved.model_fields_set == {"pid", "state_s"}
    assert moved.model_dump(exclude_unset=True) == {"pid": 8, "state_s": 1.5}
    background = Session(pid=9, backend_type="checkpointer")  # no durations: nothing to move, nothing copied
    assert background.durations_moved_on(3.0) is background
