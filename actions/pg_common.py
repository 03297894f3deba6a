"""What the PostgreSQL actions share: reading the object an action names ("schema.name"), the
preconditions every relation action checks (it is still the object seen, with the same oid; the role
may act on it), and reading a long statement's progress. Each action's plan is a pure function of what
these read, so it is tested without a server."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..engines.quoting import qualified
from .plan import Precondition, ProgressUpdate, Scalar

Facts = Mapping[str, Any]

# What each kind of relation is called, by pg_class.relkind.
KINDS = {"r": "table", "p": "partitioned table", "m": "materialized view", "i": "index",
         "I": "partitioned index", "v": "view", "S": "sequence", "f": "foreign table", "t": "TOAST table"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def split_name(text: str) -> tuple[str | None, str]:
    """("schema", "name") from "schema.name" as the panels show it (raw names, split at the first
    dot), or from SQL with double-quoted identifiers ('"My Schema"."T"'); (None, name) alone."""
    text = text.strip()
    if '"' not in text:
        schema, dot, name = text.partition(".")
        return (schema, name) if dot else (None, schema)
    parts, current, quoted, i = [], "", False, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1:i + 2] == '"':
                current, i = current + '"', i + 1
            elif ch == '"':
                quoted = False
            else:
                current += ch
        elif ch == '"':
            quoted = True
        elif ch == ".":
            parts.append(current)
            current = ""
        else:
            current += ch.lower()
        i += 1
    parts.append(current)
    return (parts[0], ".".join(parts[1:])) if len(parts) > 1 else (None, parts[0])


async def read_relation(session, text: str) -> dict[str, Any] | None:
    """The relation named `text`, with what the acting role may do to it (sql/action_relation)."""
    schema, name = split_name(text)
    row = await session.conn.fetchrow(session.sql("action_relation"), schema, name)
    return dict(row) if row is not None else None


def shown(facts: Facts) -> str:
    """schema.name as the panels show it, and as the operator types it to confirm."""
    return f"{facts['schema_name']}.{facts['name']}"


def quoted(facts: Facts) -> str:
    return qualified(facts["schema_name"], facts["name"])


def same_relation(facts: Facts | None, asked: str, kinds: str, word: str) -> Precondition:
    """The relation is still the one seen (same oid) and of the kind the action acts on."""
    name = "same_" + word.split()[-1]
    description = f"{word} {asked} exists and is the one seen (same oid)"
    if facts is None:
        return Precondition(name=name, description=description, passed=False, detail=f"there is no {word} {asked}")
    seen = {"oid": facts["oid"], word.split()[-1]: shown(facts)}
    if facts["relkind"] not in kinds:
        return Precondition(name=name, description=description, passed=False, seen=seen,
                            detail=f"{shown(facts)} is a {KINDS.get(facts['relkind'], facts['relkind'])}, not a {word}")
    return Precondition(name=name, description=description, passed=True, seen=seen,
                        detail=f"{shown(facts)}, oid {facts['oid']}, owned by {facts['owner']}")


def may_maintain(facts: Facts | None, verb: str, *, database_owner: bool = False,
                 maintain: bool = True) -> Precondition:
    """The acting role may `verb` the relation: before PostgreSQL 17 its owner (a member of the
    owning role) or a superuser, and for VACUUM and ANALYZE the database's owner too; from 17 the
    MAINTAIN privilege when `maintain` (REFRESH, VACUUM, ANALYZE, REINDEX), else ownership."""
    description = f"this role may {verb} it"
    if facts is None:
        return Precondition(name="privilege", description=description, passed=False, detail="nothing to check")
    role, name = facts["role"], shown(facts)
    seen: dict[str, Scalar] = {"role": role}
    if facts["superuser"]:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} is a superuser")
    if facts["owns"]:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} owns {name} (owner {facts['owner']})")
    if maintain and facts["maintain"]:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} has the MAINTAIN privilege on {name}")
    if database_owner and facts["owns_database"] and not facts["shared"] and facts["maintain"] is None:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} owns the database")
    if maintain and facts["maintain"] is not None:
        needs = (f"needs the MAINTAIN privilege on {name} (GRANT MAINTAIN ON {quoted(facts)} TO {role}) "
                 f"or ownership (owner {facts['owner']})")
    else:
        needs = f"needs ownership of {name} (owner {facts['owner']}: a member of that role) or a superuser"
    return Precondition(name="privilege", description=description, passed=False, seen=seen, detail=f"{role} {needs}")


def progress_reader(query: str, unit: str | None = None):
    """A ReadProgress (engines.postgres.runner) for one pg_stat_progress_* query of a backend pid."""

    async def read(conn, pid: int) -> ProgressUpdate | None:
        row = await conn.fetchrow(query, pid)
        if row is None:
            return None
        return ProgressUpdate(phase=row["phase"], done=row["done"], total=row["total"],
                              unit=row.get("unit") or unit)

    return read


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def lock_holders_text(rows) -> str:
    """'session 6650 (reporting, idle in transaction since 15:11:02)', for each holder (the
    application name is the server's text: plans and outcome lines are cleaned where shown)."""
    holders = []
    for row in rows:
        application = " ".join(str(row["application_name"] or "").split())
        what = ", ".join(x for x in (application or row["usename"], row["state"]) if x)
        since = f" since {row['since']:%H:%M:%S}" if row["since"] is not None else ""
        holders.append(f"session {row['pid']}" + (f" ({what}{since})" if what or since else ""))
    return ", ".join(holders)
