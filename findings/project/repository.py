"""Kept for `dbtop audit` (tui/audit_command.py), written against the first version of this package, which
returned every Alembic history as a list: new code calls `audit.audit_project`."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..model import Finding
from .alembic import AlembicChain
from .audit import audit_project


class RepositoryAudit(NamedTuple):
    """The first version's result: every Alembic history as a list."""

    findings: list[Finding]
    alembic: list[AlembicChain]
    in_git: bool
    notes: list[str]


def audit_repository(root: Path, *, max_connections: int | None = None) -> RepositoryAudit:
    audit = audit_project(root, max_connections=max_connections)
    return RepositoryAudit(audit.findings, [audit.alembic] if audit.alembic else [], audit.in_git, audit.notes)
