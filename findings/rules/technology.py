"""Technology and version: the major version's community end of life and missed minor releases."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import date
from functools import cache
from importlib import resources

from ...engines.snapshot import Snapshot
from ..engine import Thresholds, rule
from ..model import Evidence, Finding, Severity


@cache
def postgres_versions() -> dict:
    """The data file: {"as_of": date, "versions": {"15": {"released", "eol", "newest_minor"}}}."""
    text = resources.files("dbtop.findings").joinpath("data/postgres_versions.toml").read_text()
    return tomllib.loads(text)


def version_findings(version_num: int, today: date, table: dict) -> Iterator[Finding]:
    major, minor = version_num // 10000, version_num % 10000
    known = table["versions"].get(str(major))
    if known is None:
        return
    eol = known["eol"]
    current = f"{major}.{minor}"
    if today >= eol:
        newest = max(int(v) for v in table["versions"])
        yield Finding(
            id="technology.eol", rule="technology.eol", area="technology", severity=Severity.HIGH,
            title=f"PostgreSQL {major} reached its community end of life on {eol:%Y-%m-%d}",
            evidence=[Evidence(subject="server_version_num", detail=f"{version_num} ({current}); EOL {eol}")],
            impact="No more bug or security fixes: known vulnerabilities and data-corruption bugs stay unfixed.",
            fix=f"Plan a major upgrade (pg_upgrade --link, or logical replication for little downtime) to "
                f"PostgreSQL {newest - 1} or {newest}.",
            addressed_by="runbook:major-upgrade")
    elif (eol - today).days <= 365:
        yield Finding(
            id="technology.eol_soon", rule="technology.eol_soon", area="technology", severity=Severity.MEDIUM,
            title=f"PostgreSQL {major} reaches end of life on {eol:%Y-%m-%d}",
            evidence=[Evidence(subject="server_version_num", detail=f"{version_num} ({current}); EOL {eol}")],
            impact="After that date no fixes are released; an upgrade takes planning and testing.",
            fix="Schedule the major upgrade now.", addressed_by="runbook:major-upgrade")
    newest_minor = known["newest_minor"]
    if minor < newest_minor:
        yield Finding(
            id="technology.minor_behind", rule="technology.minor_behind", area="technology",
            severity=Severity.MEDIUM if newest_minor - minor >= 3 else Severity.LOW,
            title=f"PostgreSQL {current} is {newest_minor - minor} minor release(s) behind {major}.{newest_minor}",
            evidence=[Evidence(subject="server version", detail=f"{current}; newest known to dbtop {major}.{newest_minor} "
                                                                 f"(as of {table['as_of']})")],
            impact="Minor releases carry security and data-corruption fixes only; not applying them keeps known bugs.",
            fix=f"Install {major}.{newest_minor} (same major: replace the binaries and restart, no dump/restore).",
            addressed_by="runbook:minor-upgrade")


@rule
def server_version(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if snapshot.server is None or snapshot.engine != "postgres":
        return
    yield from version_findings(snapshot.server.version_num, snapshot.taken_at.date(), postgres_versions())
