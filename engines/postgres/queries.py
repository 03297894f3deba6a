"""The SQL the PostgreSQL engine runs, one `.sql` file per query, chosen by server version.

A file named `activity@14.sql` serves servers from 14 on; `activity@12.sql` serves 12 and 13.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

FILE_NAME = re.compile(r"^(?P<name>[a-z_]+)@(?P<since>\d+)\.sql$")
# Every query dbtop sends starts with this, so its own statements can be told apart in
# pg_stat_statements (which keeps comments) and in pg_stat_activity.
MARKER = "/* dbtop */"


@cache
def _library() -> dict[str, list[tuple[int, str]]]:
    library: dict[str, list[tuple[int, str]]] = {}
    for entry in resources.files(__package__).joinpath("sql").iterdir():
        match = FILE_NAME.match(entry.name)
        if match:
            library.setdefault(match["name"], []).append((int(match["since"]), f"{MARKER}\n{entry.read_text()}"))
    for versions in library.values():
        versions.sort(reverse=True)
    return library


def sql(name: str, major: int) -> str:
    """The text of query `name` for a server of major version `major`."""
    for since, text in _library()[name]:
        if since <= major:
            return text
    raise LookupError(f"no {name} query for PostgreSQL {major}")


def statements_sql(extension_version: str) -> str:
    """pg_stat_statements' columns follow the extension's version, which can lag the server's
    (an extension not updated after pg_upgrade), so choose by the extension."""
    major, _, minor = extension_version.partition(".")
    version = (int(major), int(minor or 0))
    shipped_with = 14 if version >= (1, 9) else 13 if version >= (1, 8) else 12
    return sql("statements", shipped_with)
