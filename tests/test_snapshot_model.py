"""The snapshot model: JSON round trips, and the trusted fast path equals validation."""

import asyncio
import json
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
    assert fields >= {"pid", "read_state_s", "read_xact_s", "read_query_s", "read_at_s", "blocked_by"}
    assert {"key", "query_id", "calls", "total_time_ms"} <= set(Statement.model_fields)


async def test_snapshot_json_round_trip(collector):
    await collector.snapshot()
    await asyncio.sleep(0.1)
    snap = await collector.snapshot()
    again = Snapshot.model_validate_json(snap.model_dump_json())
    # the sessions' durations are written as of the snapshot, and read back so
    assert again.model_dump_json() == snap.model_dump_json()
    assert again.model_copy(update={"sessions": [], "server_clock_s": None}) == snap.model_copy(
        update={"sessions": [], "server_clock_s": None})
    for mine, theirs in zip(snap.sessions, again.sessions, strict=True):
        assert theirs == mine.model_copy(update={"read_at_s": None, "read_state_s": snap.state_s(mine),
                                                 "read_xact_s": snap.xact_s(mine), "read_query_s": snap.query_s(mine)})


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



def test_durations_are_read_as_of_the_snapshot_and_written_so():
    """A session carried over unchanged keeps the durations it was read with and the server's clock
    then; the snapshot holding it gives them as of its own clock, and writes them so in its JSON,
    under their names, without the clocks."""
    values = dict(pid=7, user="app", database="shop", application="api", client="local",
                  backend_type="client backend", state="idle in transaction", wait_event_type="Client",
                  wait_event="ClientRead", backend_start=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  xact_start=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc),
                  query_start=datetime(2026, 1, 1, 0, 1, tzinfo=timezone.utc), read_state_s=1.5, read_xact_s=None,
                  read_query_s=2.5, query_id=42, query="SELECT 1", blocked_by=[], read_at_s=100.0)
    session = Session.from_trusted(dict(values))
    assert session == Session.model_validate(values)
    now = datetime(2026, 1, 1, 0, 2, tzinfo=timezone.utc)
    snap = Snapshot(sequence=2, taken_at=now, target="t", engine="postgres", reachable=True, sessions=[session],
                    server_clock_s=102.0)
    assert (snap.state_s(session), snap.xact_s(session), snap.query_s(session)) == (3.5, None, 4.5)
    written = json.loads(snap.model_dump_json())
    assert "server_clock_s" not in written and "read_at_s" not in written["sessions"][0]
    assert {k: written["sessions"][0][k] for k in ("state_s", "xact_s", "query_s")} == {
        "state_s": 3.5, "xact_s": None, "query_s": 4.5}
    again = Snapshot.model_validate(written).sessions[0]
    assert (again.read_state_s, again.read_query_s, again.read_at_s) == (3.5, 4.5, None)
    # built by its JSON names (as tests and MongoDB's collector do): durations as of the snapshot holding it
    fresh = Session(pid=8, state_s=1.0, query_s=2.0)
    assert Snapshot(sequence=3, taken_at=now, target="t", engine="postgres", reachable=True, sessions=[fresh],
                    server_clock_s=500.0).state_s(fresh) == 1.0
    assert fresh.model_dump(exclude_unset=True) == {"pid": 8, "state_s": 1.0, "query_s": 2.0}
