"""How dbtop words figures and untrusted text, for panels, reports and the command line alike: the one
cleaner of text that comes from a database, durations, sizes."""

from __future__ import annotations

import re

ELLIPSIS = "…"
# C0 and C1 controls (ESC starts every terminal escape sequence), DEL, and the bidirectional
# overrides and isolates that can make text display in another order than it is stored.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
LINE_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029\x85]+")


def clean(value: object, limit: int | None = None, one_line: bool = True) -> str:
    """The printable form of untrusted text: control characters shown as U+FFFD or removed,
    whitespace runs folded to one space on a single line, cut at `limit` characters."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # (no line break, control or override character is printable)
        if one_line:
            text = LINE_BREAKS.sub(" ", text)
        else:
            text = text.replace("\r\n", "\n").replace("\t", "    ")
        text = CONTROL.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + ELLIPSIS
    return text


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def uptime(seconds: float | None) -> str:
    """How long a server has been up: to the second in its first minute (just restarted), then to
    the minute, so that a line showing it changes at most once a minute, not with every refresh."""
    if seconds is not None and 60 <= seconds < 3600:
        return f"{int(seconds // 60)}m"
    return duration(seconds)


def size(value: float | None) -> str:
    if value is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


# What the operator can do about a finding, by the id in Finding.addressed_by.
REMEDIES = {
    "action:analyze": "ANALYZE the table",
    "action:backup": "Take a backup",
    "action:cancel-query": "Cancel the query",
    "action:create-index": "Create the index",
    "action:drop-index": "Drop the index",
    "action:drop-slot": "Drop the replication slot",
    "action:pgbackrest-verify": "Verify the stanza's backups (pgbackrest verify)",
    "action:refresh-view": "Refresh the materialized view",
    "action:reindex": "REINDEX the index",
    "action:terminate-session": "Terminate the session",
    "action:vacuum": "VACUUM the table",
    "action:verify-backup": "Verify the backup by restoring it",
    "runbook:archiving-failure": "Runbook: WAL archiving failure",
    "runbook:build-standby": "Runbook: build a standby",
    "runbook:connection-saturation": "Runbook: connection saturation",
    "runbook:enable-archiving": "Runbook: enable WAL archiving",
    "runbook:foreign-key-policy": "Runbook: foreign key policy",
    "runbook:lock-pileup": "Runbook: lock pile-up",
    "runbook:major-upgrade": "Runbook: major version upgrade",
    "runbook:minor-upgrade": "Runbook: minor version upgrade",
    "runbook:replication-lag": "Runbook: replication lag",
    "runbook:sequence-exhaustion": "Runbook: sequence exhaustion",
    "runbook:table-bloat": "Runbook: table bloat",
    "runbook:xid-wraparound": "Runbook: transaction ID wraparound",
}


def remedy(addressed_by: str | None) -> str | None:
    """The human name of the action or runbook that addresses a finding (never its internal id)."""
    if not addressed_by:
        return None
    kind, _, name = addressed_by.partition(":")
    return REMEDIES.get(addressed_by) or f"{'Runbook: ' if kind == 'runbook' else ''}{name.replace('-', ' ')}"
