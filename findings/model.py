"""What a rule finds: a typed finding with its evidence, impact and fix.

Rules are pure functions that return these; the panel, `dbtop audit` and the scores read them.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


class Severity(IntEnum):
    """Ordered so that `max()` and sorting put the worst first when reversed."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.capitalize()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"{text!r} is not a severity: use one of {names}") from None


def _severity(value: Any) -> Any:
    return Severity.parse(value) if isinstance(value, str) else value


# In JSON a severity is its lower-case name ("high"), which scripts can read without a table.
SeverityField = Annotated[Severity, BeforeValidator(_severity), PlainSerializer(lambda s: s.name.lower(), return_type=str)]

Area = Literal[
    "technology",        # technology and version
    "architecture",      # architecture and topology
    "performance",
    "schema",            # schema and design
    "migrations",
    "backup",            # backup and recovery
    "availability",      # high availability and disaster recovery
    "monitoring",        # monitoring and observability
    "security",          # security and access
    "capacity",          # capacity and scaling
]

AREA_TITLES: dict[str, str] = {
    "technology": "Technology and version",
    "architecture": "Architecture and topology",
    "performance": "Performance",
    "schema": "Schema and design",
    "migrations": "Migrations",
    "backup": "Backup and recovery",
    "availability": "High availability and disaster recovery",
    "monitoring": "Monitoring and observability",
    "security": "Security and access",
    "capacity": "Capacity and scaling",
}


class Evidence(BaseModel):
    """One object or figure that triggered a finding: `subject` names it, `detail` says what of it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    subject: str
    detail: str = ""
    location: str | None = None  # file:line for a static finding


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str = Field(description="stable: the rule's id, plus the object for per-object findings")
    rule: str
    area: Area
    severity: SeverityField
    title: str
    evidence: list[Evidence] = Field(default_factory=list)
    impact: str
    fix: str
    statement: str | None = Field(default=None, description="the SQL to run or the command to copy, when there is one")
    addressed_by: str | None = Field(default=None, description="the dbtop action or runbook that addresses it")
    action_params: dict[str, str | int | tuple[int, ...]] = Field(
        default_factory=dict, description="what the action of addressed_by is planned with (table, index, view, "
                                          "slot, pids …), when it names one")
    source: Literal["database", "project"] = "database"

    def sort_key(self) -> tuple:
        return (-int(self.severity), self.area, self.id)
