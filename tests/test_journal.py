"""The action journal: appended lines chained by SHA-256, so edits and deletions are detected."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta, timezone

from dbtop.actions.journal import GENESIS, Journal, default_journal_path
from dbtop.actions.plan import Precondition


def write(journal: Journal, n: int, **fields) -> None:
    for i in range(n):
        journal.append(target="db1:5432/app", action="terminate", outcome="done", statements=[f"SELECT {i}"],
                       preconditions=[Precondition(name="same_query", description="the session runs the query shown", passed=True)], typed=str(i), **fields)


def test_entries_are_chained_and_verify_intact(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    write(journal, 3, profile="prod")
    entries = list(journal.entries())
    assert [e.typed for e in entries] == ["0", "1", "2"]
    assert entries[0].prev_sha256 == GENESIS and entries[1].prev_sha256 != entries[2].prev_sha256
    assert entries[0].os_user and entries[0].host and entries[0].profile == "prod"
    result = journal.verify()
    assert result.intact and result.lines == 3
    assert (tmp_path / "journal.jsonl").stat().st_mode & 0o777 == 0o600


def test_an_edited_line_is_detected(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    write(journal, 4)
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["outcome"] = "failed"
    lines[1] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n")
    result = journal.verify()
    assert not result.intact and any("line 3" in p for p in result.problems)


def test_a_deleted_line_is_detected_in_the_middle_and_at_the_end(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    write(journal, 4)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    assert not journal.verify().intact
    path.write_text("\n".join(lines[:3]) + "\n")  # the last line removed: only the head file tells
    result = journal.verify()
    assert not result.intact and "last line" in result.problems[0]


def test_an_edited_last_line_is_detected(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    write(journal, 2)
    path.write_text(path.read_text().replace('"typed":"1"', '"typed":"x"'))
    assert not journal.verify().intact


def test_secrets_are_removed_from_statements_and_errors(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(target="db1", action="sql", outcome="failed",
                   statements=["ALTER ROLE app PASSWORD 'hunter2-secret'"],
                   error="could not connect: password=hunter2-secret host=x")
    text = (tmp_path / "journal.jsonl").read_text()
    assert "hunter2-secret" not in text and "PASSWORD '***'" in text


def test_since_filters_by_time(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    now = datetime.now(timezone.utc)
    journal.append(target="t", action="old", outcome="done", now=now - timedelta(hours=3))
    journal.append(target="t", action="new", outcome="done", now=now)
    assert [e.action for e in journal.entries(since=now - timedelta(hours=1))] == ["new"]


def _append_many(path: str, tag: str) -> None:
    journal = Journal(__import__("pathlib").Path(path))
    for i in range(25):
        journal.append(target="t", action=tag, outcome="done", typed=str(i))


def test_concurrent_writers_keep_the_chain(tmp_path):
    path = tmp_path / "journal.jsonl"
    workers = [multiprocessing.Process(target=_append_many, args=(str(path), tag)) for tag in ("a", "b", "c")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    result = Journal(path).verify()
    assert result.intact and result.lines == 75


def test_default_path_follows_xdg_state_home(tmp_path):
    assert default_journal_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "dbtop" / "journal.jsonl"
    assert default_journal_path({"XDG_STATE_HOME": "relative"}).parts[-3:] == ("state", "dbtop", "journal.jsonl")


def test_a_plan_and_its_outcome_make_one_line(tmp_path):
    from dbtop.actions.plan import Outcome, Plan, PlannedStatement, PlanTarget

    now = datetime.now(timezone.utc)
    target = PlanTarget(engine="postgres", label="ops@db1:5432/app", profile="prod", host="db1", database="app",
                        system_identifier="7313136098020860212")
    check = Precondition(name="same_query", description="session 42 still runs the query shown", passed=True)
    plan = Plan(action="terminate-session", target=target, summary="terminate session 42", params={"pid": 42},
                statements=(PlannedStatement(text="SELECT pg_terminate_backend($1)", arguments=(42,)),),
                preconditions=(check,), risk="disruptive", confirm_text="42", planned_at=now)
    outcome = Outcome(action=plan.action, target=target, status="done", detail="session 42 terminated",
                      preconditions=(check,), started_at=now, finished_at=now + timedelta(seconds=1))
    journal = Journal(tmp_path / "journal.jsonl")
    entry = journal.record(plan, outcome, typed="42")
    assert entry.statements == ["SELECT pg_terminate_backend($1)  -- $1 = 42"]
    assert (entry.profile, entry.outcome, entry.typed, entry.duration_s) == ("prod", "done", "42", 1.0)
    assert entry.detail["system_identifier"] == "7313136098020860212" and entry.preconditions == [check]
    assert journal.verify().intact
