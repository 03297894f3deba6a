"""Showing untrusted text literally, and the figures panels print.

Query text, application, user, database and object names and server error messages come from the
database. They are shown as the characters they contain: never parsed as markup, never allowed to
send terminal control sequences, reorder text (bidi overrides) or break a table row.
"""

from __future__ import annotations

from rich.text import Text

from ..findings.wording import ELLIPSIS, clean, duration, size as byte_size, uptime  # noqa: F401 - the panels' text helpers

def literal(value: object, limit: int | None = None, one_line: bool = True, style: str = "") -> Text:
    """Untrusted text as a Rich Text that is never parsed as markup."""
    return Text(clean(value, limit, one_line), style=style, no_wrap=one_line, overflow="ellipsis")


def size(n: float | None) -> str:
    return "-" if n is None else byte_size(float(n))


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,.{digits}f}"


def milliseconds(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.1f}ms"
    return duration(ms / 1000)
