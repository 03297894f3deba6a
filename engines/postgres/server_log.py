"""Deadlock reports in the tail of PostgreSQL's server log (the stderr format), whatever the
log_line_prefix: each line's severity marker (`ERROR:  `, `DETAIL:  `, …) is found after the prefix,
and a message's further lines are the ones the server starts with a tab. A report looks like

    <prefix>ERROR:  deadlock detected
    <prefix>DETAIL:  Process 1234 waits for ShareLock on transaction 5678; blocked by process 1235.
    \tProcess 1235 waits for ShareLock on transaction 5677; blocked by process 1234.
    \tProcess 1234: UPDATE t SET v = v + 1 WHERE id = 2
    \tProcess 1235: UPDATE t SET v = v + 1 WHERE id = 1
    <prefix>HINT:  See server log for query details.
    <prefix>CONTEXT:  while updating tuple (0,1) in relation "t"
    <prefix>STATEMENT:  UPDATE t SET v = v + 1 WHERE id = 2

The server writes one report in one piece, so other sessions' lines do not come between its lines.
The tail starts anywhere: its first, partial line is dropped, and a report whose ERROR line was cut
off is skipped. Statements are redacted here, where they are read; messages in another language
than English (lc_messages) are not recognised."""

from __future__ import annotations

import re

from ..redact import redact
from ..snapshot import DeadlockProcess, DeadlockReport

# The severity marker after the prefix: the first "WORD:  " with two spaces, the server's own layout.
_MARKER = re.compile(r"\b(DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|"
                     r"LOCATION|STATEMENT):  ")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: ?(?:[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?))?")
_WAITS = re.compile(r"Process (\d+) waits for (.*)")
_STATEMENT = re.compile(r"Process (\d+): (.*)", re.DOTALL)
# log_error_verbosity = verbose puts the SQLSTATE before the message.
_DEADLOCK = re.compile(r"(?:40P01: )?deadlock detected")
_FOLLOWING = ("DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT")


def _messages(text: str, cut_at_start: bool) -> list[tuple[str, str, str]]:
    """(prefix, severity, message) for each message, its tab-started lines joined back with newlines."""
    lines = text.split("\n")
    if cut_at_start:
        lines = lines[1:]
    messages: list[tuple[str, str, str]] = []
    for line in lines:
        if line.startswith("\t"):
            if messages:
                prefix, severity, message = messages[-1]
                messages[-1] = (prefix, severity, message + "\n" + line[1:])
            continue
        found = _MARKER.search(line)
        if found is None:
            messages.append(("", "", line))  # not a server message line (a program's output): ends any report
            continue
        messages.append((line[:found.start()], found.group(1), line[found.end():]))
    return messages


def _processes(detail: str) -> list[DeadlockProcess]:
    waits: dict[int, str | None] = {}  # every process, in the order the DETAIL names them
    statements: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in detail.split("\n"):
        waiting = _WAITS.fullmatch(line)
        stating = None if waiting else _STATEMENT.fullmatch(line)
        if waiting:
            waits[int(waiting.group(1))] = waiting.group(2)
            current = None
        elif stating:
            pid = int(stating.group(1))
            waits.setdefault(pid, None)
            current = statements.setdefault(pid, [])
            current.append(stating.group(2))
        elif current is not None:
            current.append(line)  # a statement of several lines
    return [DeadlockProcess(pid=pid, waits_for=waited,
                            statement=redact("\n".join(statements[pid])) if pid in statements else None)
            for pid, waited in waits.items()]


def deadlock_reports(text: str, *, cut_at_start: bool, keep: int = 5) -> list[DeadlockReport]:
    """The newest `keep` deadlock reports in `text`, oldest first. `cut_at_start`: `text` begins
    anywhere in the file (its first line is partial)."""
    first = text.find("deadlock detected")
    if first < 0:
        return []  # the common case, without splitting a MB into lines
    start = text.rfind("\n", 0, first) + 1
    if start:  # from the whole line the first report may start on
        text, cut_at_start = text[start:], False
    messages = _messages(text, cut_at_start)
    reports: list[DeadlockReport] = []
    for i, (prefix, severity, message) in enumerate(messages):
        if severity != "ERROR" or not _DEADLOCK.fullmatch(message.strip()):
            continue
        processes: list[DeadlockProcess] = []
        statement = None
        for _, following, body in messages[i + 1:]:
            if following not in _FOLLOWING:
                break
            if following == "DETAIL" and not processes:
                processes = _processes(body)
            elif following == "STATEMENT":
                statement = redact(body)
        logged_at = _TIME.search(prefix)
        reports.append(DeadlockReport(logged_at=logged_at.group(0) if logged_at else None, processes=processes,
                                      statement=statement))
    return reports[-keep:] if keep else []
