"""How findings word figures and objects: durations, sizes, shortened text, quoted identifiers."""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def seconds(value: float | None) -> str:
    if value is None:
        return "?"
    value = max(0.0, value)
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} days"


def size(value: float | None) -> str:
    if value is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def shorten(text: object, limit: int) -> str:
    """Untrusted text on one line, control characters removed, cut at `limit`."""
    if text is None:
        return ""
    flat = " ".join(CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL's quote_ident() writes it: bare when it is a plain lower-case name
    that is not a key word it quotes."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


# The key words PostgreSQL's quote_ident() quotes: every one that is not "unreserved" (reserved,
# reserved but usable as a function or type name, and unusable as a function or type name), as
# pg_get_keywords() lists them in PostgreSQL 15, plus system_user (reserved from 16).
RESERVED = frozenset("""all analyse analyze and any array as asc asymmetric authorization between bigint binary bit
boolean both case cast char character check coalesce collate collation column concurrently constraint create cross
current_catalog current_date current_role current_schema current_time current_timestamp current_user dec decimal
default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze from full
grant greatest group grouping having ilike in initially inner inout int integer intersect interval into is isnull
join lateral leading least left like limit localtime localtimestamp national natural nchar none normalize not
notnull null nullif numeric offset on only or order out outer overlaps overlay placing position precision primary
real references returning right row select session_user setof similar smallint some substring symmetric
system_user table tablesample then time timestamp to trailing treat trim true union unique user using values
varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest
xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable""".split())


# What the operator can do about a finding, by the id in Finding.addressed_by.
REMEDIES = {
    "action:analyze": "ANALYZE the table",
    "action:backup": "Take a backup",
    "action:cancel-query": "Cancel the query",
    "action:create-index": "Create the index",
    "action:drop-index": "Drop the index",
    "action:drop-slot": "Drop the replication slot",
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
