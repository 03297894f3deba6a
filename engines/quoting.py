"""SQL identifiers (and string constants) written as PostgreSQL's quote_ident() (quote_literal()) writes them: for the statements dbtop runs and
the ones it shows to copy. One quoter for the collector, the rules and the actions; no driver import."""

from __future__ import annotations

import re


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL's quote_ident() writes it: bare when it is a plain lower-case name
    that is not a key word it quotes."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def quote_literal(value: str) -> str:
    """A string constant as PostgreSQL's quote_literal() writes it, for statements shown to copy:
    quotes doubled, and backslashes doubled in an E'' string when there are any."""
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


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
