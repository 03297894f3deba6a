"""Deadlock reports read from recorded server log text (several log_line_prefix forms, a tail cut in
the middle of a report, three processes, secrets), and the deadlocks finding's evidence built on them."""

from __future__ import annotations

import pytest

from dbtop.engines import snapshot as model
from dbtop.engines.postgres.server_log import deadlock_reports
from dbtop.findings.engine import Thresholds
from dbtop.findings.rules.workload import deadlocks

from . import fakes as f

REPORT = """{p}ERROR:  deadlock detected
{p}DETAIL:  Process 4101 waits for ShareLock on transaction 771; blocked by process 4102.
\tProcess 4102 waits for ShareLock on transaction 770; blocked by process 4101.
\tProcess 4101: UPDATE accounts SET balance = balance - 10 WHERE id = 2
\tProcess 4102: UPDATE accounts SET balance = balance + 10 WHERE id = 1
{p}HINT:  See server log for query details.
{p}CONTEXT:  while updating tuple (0,2) in relation "accounts"
{p}STATEMENT:  UPDATE accounts SET balance = balance - 10 WHERE id = 2
"""

PREFIXES = {
    "default since 15 (%m [%p] )": ("2026-12-07 10:15:02.481 UTC [4101] ", "2026-12-07 10:15:02.481 UTC"),
    "pgbadger's (%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h )":
        ("2026-12-07 10:15:02 UTC [4101]: [7-1] user=app,db=shop,app=psql,client=10.0.0.5 ", "2026-12-07 10:15:02 UTC"),
    "RDS's (%t:%r:%u@%d:[%p]:)": ("2026-12-07 10:15:02 UTC:10.0.0.5(51234):app@shop:[4101]:", "2026-12-07 10:15:02 UTC"),
    "numeric zone (%m %p %q%u@%d )": ("2026-12-07 10:15:02.481+01 4101 app@shop ", "2026-12-07 10:15:02.481+01"),
    "empty (default before 10)": ("", None),
}


@pytest.mark.parametrize("label", PREFIXES)
def test_a_report_is_found_after_any_prefix(label):
    prefix, time = PREFIXES[label]
    text = f"{prefix}LOG:  checkpoint starting: time\n" + REPORT.format(p=prefix) + \
        f"{prefix}LOG:  checkpoint complete\n"
    [report] = deadlock_reports(text, cut_at_start=False)
    assert report.logged_at == time
    assert [(p.pid, p.statement) for p in report.processes] == [
        (4101, "UPDATE accounts SET balance = balance - 10 WHERE id = 2"),
        (4102, "UPDATE accounts SET balance = balance + 10 WHERE id = 1")]
    assert report.processes[0].waits_for == "ShareLock on transaction 771; blocked by process 4102."
    assert report.statement == "UPDATE accounts SET balance = balance - 10 WHERE id = 2"


def test_a_report_with_log_error_verbosity_verbose():
    p = "2026-12-07 10:15:02.481 UTC [4101] "
    text = (REPORT.format(p=p).replace("ERROR:  deadlock", "ERROR:  40P01: deadlock")
            .replace(f"{p}HINT", f"{p}LOCATION:  DeadLockReport, deadlock.c:1135\n{p}HINT"))
    [report] = deadlock_reports(text, cut_at_start=False)
    assert [p.pid for p in report.processes] == [4101, 4102]
    assert report.statement == "UPDATE accounts SET balance = balance - 10 WHERE id = 2"


def test_a_report_cut_off_at_the_tails_start_is_skipped():
    p = "2026-12-07 10:15:02.481 UTC [4101] "
    whole = REPORT.format(p=p)
    # the tail starts inside the DETAIL of one report (its ERROR line is before it), then a whole one follows
    cut = whole[whole.index("4102 waits") + 3:] + REPORT.format(p=p).replace("4101", "5101")
    reports = deadlock_reports(cut, cut_at_start=True)
    assert [[proc.pid for proc in r.processes] for r in reports] == [[5101, 4102]]
    # a tail whose first line happens to be an ERROR line cut in its prefix is not taken as a report
    assert deadlock_reports(whole[10:], cut_at_start=True) == []
    # but the start of the file is a whole line
    assert len(deadlock_reports(whole, cut_at_start=False)) == 1


def test_a_report_of_three_processes_with_a_statement_of_several_lines():
    p = "2026-12-07 10:15:02.481 UTC [9] "
    text = (f"{p}ERROR:  deadlock detected\n"
            f"{p}DETAIL:  Process 9 waits for ShareLock on transaction 3; blocked by process 10.\n"
            "\tProcess 10 waits for ShareLock on transaction 4; blocked by process 11.\n"
            "\tProcess 11 waits for ShareLock on transaction 2; blocked by process 9.\n"
            "\tProcess 9: UPDATE a SET v = 1 WHERE id = 2\n"
            "\tProcess 10: UPDATE b\n\t  SET v = 1\n\t  WHERE id = 3\n"
            "\tProcess 11: UPDATE c SET v = 1 WHERE id = 1\n"
            f"{p}HINT:  See server log for query details.\n"
            f"{p}STATEMENT:  UPDATE a SET v = 1 WHERE id = 2\n"
            f"{p}LOG:  duration: 1.2 ms\n")
    [report] = deadlock_reports(text, cut_at_start=False)
    assert [p.pid for p in report.processes] == [9, 10, 11]
    assert report.processes[1].statement == "UPDATE b\n  SET v = 1\n  WHERE id = 3"
    assert report.processes[2].waits_for == "ShareLock on transaction 2; blocked by process 9."


def test_secrets_in_the_statements_are_redacted():
    p = "2026-12-07 10:15:02.481 UTC [9] "
    text = (f"{p}ERROR:  deadlock detected\n"
            f"{p}DETAIL:  Process 9 waits for AccessExclusiveLock on relation 1 of database 5; blocked by process 10.\n"
            "\tProcess 10 waits for ShareLock on transaction 4; blocked by process 9.\n"
            "\tProcess 9: ALTER ROLE app PASSWORD 'Hunter2-s3cret'\n"
            "\tProcess 10: SELECT dblink_connect('host=db password=Other-s3cret')\n"
            f"{p}STATEMENT:  ALTER ROLE app PASSWORD 'Hunter2-s3cret'\n")
    [report] = deadlock_reports(text, cut_at_start=False)
    texts = [proc.statement for proc in report.processes] + [report.statement]
    assert not any("s3cret" in t for t in texts), texts
    assert all("***" in t for t in texts)


def test_only_the_newest_reports_are_kept():
    text = "".join(REPORT.format(p=f"2026-12-07 10:15:0{i}.000 UTC [4101] ") for i in range(8))
    reports = deadlock_reports(text, cut_at_start=False, keep=5)
    assert [r.logged_at[:19] for r in reports] == [f"2026-12-07 10:15:0{i}" for i in range(3, 8)]


# -- the finding ---------------------------------------------------------------------------------

def _finding(**catalog):
    snap = f.healthy(activity=f.activity(deadlocks=90, deadlocks_in_interval=2),
                     catalog=f.healthy_catalog().model_copy(update=catalog))
    [finding] = deadlocks(snap, Thresholds({}))
    return [f"{e.subject}: {e.detail}" for e in finding.evidence]


def test_the_finding_names_the_statements_of_the_newest_deadlocks():
    reports = deadlock_reports(REPORT.format(p="2026-12-07 10:15:02.481 UTC [4101] "), cut_at_start=False)
    lines = _finding(deadlock_log=model.DeadlockLog(file="log/postgresql.log", bytes_read=4096, file_size=4096,
                                                    reports=reports))
    assert lines[0].startswith("pg_stat_database: deadlocks = 90 since")
    assert "2 in the last 2.0s" in lines[0]
    assert lines[1:] == [
        "deadlock at 2026-12-07 10:15:02.481 UTC, process 4101 (aborted): "
        "UPDATE accounts SET balance = balance - 10 WHERE id = 2",
        "deadlock at 2026-12-07 10:15:02.481 UTC, process 4102: UPDATE accounts SET balance = balance + 10 WHERE id = 1"]


def test_the_finding_says_why_the_statements_are_not_shown():
    why = "the server log is not readable by monitor: needs a superuser, or GRANT EXECUTE ON FUNCTION …"
    lines = _finding(gaps={"deadlock_log": why})
    assert lines[1] == f"server log: the statements involved are not shown: {why}"
    empty = _finding(deadlock_log=model.DeadlockLog(file="log/postgresql.log", bytes_read=1048576,
                                                    file_size=9_000_000, reports=[]))
    assert empty[1] == ("server log: no deadlock report in the last 1.0 MB of log/postgresql.log: the statements "
                        "involved are in older log files")
