"""The guarded-action protocol's types: plan -> preview -> confirm -> run -> journal.

An action first builds a `Plan`: what it will run (the exact statements or command line), on which
target (down to the server's system identifier), the preconditions it checked and what it found,
its risk, and what the operator must type to confirm. The plan is shown whole, confirmed, and
handed back to the engine's `run`, which plans again on its own connection and runs only if
nothing the plan rests on has changed (act on what was seen). `run` answers with an `Outcome`.
Both are immutable and round-trip through JSON, for the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# A value an action takes or a precondition records: what JSON carries unchanged (a tuple of ints,
# such as several sessions' pids, comes back from JSON as the same tuple).
Scalar = str | int | float | bool | None | tuple[int, ...]

Risk = Literal["read-only", "reversible", "disruptive", "destructive"]
RISKS: tuple[Risk, ...] = ("read-only", "reversible", "disruptive", "destructive")
# Risks at which the operator types the object's name; below, a confirmation key is enough.
TYPED_CONFIRM: frozenset[Risk] = frozenset({"disruptive", "destructive"})


class PlanModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class PlanTarget(PlanModel):
    """Which server a plan is for. `system_identifier` (PostgreSQL's pg_control_system(); a
    replica set's id for MongoDB) tells a rebuilt or failed-over server from the one planned on."""

    engine: str
    label: str = Field(description="the target as shown, never with a password")
    profile: str | None = None
    host: str | None = None
    database: str | None = None
    system_identifier: str | None = None


class PlannedStatement(PlanModel):
    """One statement exactly as it is sent, with its bound arguments ($1, $2 …)."""

    text: str
    arguments: tuple[Scalar, ...] = ()

    def shown(self) -> str:
        """The statement with its arguments spelled out after it, for the preview and the journal."""
        if not self.arguments:
            return self.text
        bound = ", ".join(f"${n} = {value!r}" for n, value in enumerate(self.arguments, 1))
        return f"{self.text}  -- {bound}"


class PlannedRequest(PlanModel):
    """One HTTP request to a cluster manager's REST API (Patroni's), exactly as it is sent: the
    method, the URL (never with credentials) and the JSON body."""

    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    url: str
    body: dict[str, Scalar] = Field(default_factory=dict)

    def shown(self) -> str:
        return f"{self.method} {self.url}" + (f" {json.dumps(self.body, sort_keys=True)}" if self.body else "")


class Precondition(PlanModel):
    """One thing checked before the plan may run, and what was found. `seen` holds the values it
    rests on (a backend's start time, a view's oid …); they are compared again just before running."""

    name: str = Field(description="stable key, e.g. 'same_query'")
    description: str = Field(description="what is checked, for the operator")
    passed: bool
    detail: str | None = Field(default=None, description="what was found, one line")
    seen: dict[str, Scalar] = Field(default_factory=dict)


class Plan(PlanModel):
    """What an action will do, built before anything runs."""

    action: str
    target: PlanTarget
    summary: str = Field(description="one line: what it does to what")
    params: dict[str, Scalar] = Field(default_factory=dict,
                                      description="the action's parameters, to plan again before running")
    statements: tuple[PlannedStatement, ...] = ()
    command: tuple[str, ...] = Field(default=(), description="argv of an external command (never a secret)")
    request: PlannedRequest | None = Field(default=None, description="an HTTP request to the cluster's manager")
    preconditions: tuple[Precondition, ...] = ()
    risk: Risk
    warnings: tuple[str, ...] = ()
    confirm_text: str | None = Field(default=None, description="what the operator must type to confirm")
    second_confirm_text: str | None = Field(
        default=None, description="a second text to type, for a plan whose warnings say it does something the "
                                  "operator must accept on its own (promoting while the primary answers: 'split-brain')")
    manual_steps: tuple[str, ...] = Field(default=(), description="what the operator does by hand afterwards; "
                                                                  "shown, never run")
    statement_timeout_ms: int | None = Field(default=None, gt=0)
    lock_timeout_ms: int | None = Field(default=None, gt=0)
    planned_at: AwareDatetime

    @model_validator(mode="after")
    def _complete(self) -> Plan:
        if not self.statements and not self.command and self.request is None:
            raise ValueError("a plan names the statements, the command or the request it runs")
        if self.risk in TYPED_CONFIRM and not self.confirm_text:
            raise ValueError(f"a {self.risk} plan needs the text the operator types to confirm")
        if self.second_confirm_text is not None and self.confirm_text is None:
            raise ValueError("a second confirmation comes after a first one: give confirm_text too")
        return self

    @property
    def runs(self) -> list[str]:
        """What it runs, one line each, as shown and journaled: statements, the command, the request."""
        return ([s.shown() for s in self.statements] + ([" ".join(self.command)] if self.command else [])
                + ([self.request.shown()] if self.request else []))

    @property
    def ready(self) -> bool:
        """Every precondition passed: the plan may be confirmed."""
        return all(p.passed for p in self.preconditions)

    @property
    def failed(self) -> tuple[Precondition, ...]:
        return tuple(p for p in self.preconditions if not p.passed)

    def confirmed_by(self, typed: str, second: str | None = None) -> bool:
        """Whether what the operator typed confirms this plan (anything, when no text is asked), and
        `second` its second confirmation when it asks for one."""
        if self.second_confirm_text is not None and (second or "").strip() != self.second_confirm_text:
            return False
        return self.confirm_text is None or typed.strip() == self.confirm_text

    def changes_since(self, fresh: Plan) -> list[str]:
        """What differs in `fresh` (the same action planned again just before running) from this
        plan as confirmed, one line each; empty when the plan may run as confirmed."""
        changes = []
        if fresh.target != self.target:
            changes.append(f"the target changed: {_identity(self.target)} is now {_identity(fresh.target)}")
        if fresh.second_confirm_text != self.second_confirm_text:
            changes.append(f"the second confirmation it needs changed: {fresh.second_confirm_text or 'none'} "
                           f"(confirmed with {self.second_confirm_text or 'none'})")
        if (fresh.statements, fresh.command, fresh.request) != (self.statements, self.command, self.request):
            changes.append("what would run changed: " + "; ".join(fresh.runs))
        before = {p.name: p for p in self.preconditions}
        for now in fresh.preconditions:
            then = before.pop(now.name, None)
            if then is None or then.seen != now.seen or (then.passed and not now.passed):
                changes.append(f"{now.description}: {now.detail or ('passed' if now.passed else 'failed')}")
        changes.extend(f"{gone.description}: no longer checked" for gone in before.values())
        return changes


def _identity(target: PlanTarget) -> str:
    return f"{target.label} (system {target.system_identifier or 'unknown'})"


Status = Literal["done", "failed", "refused", "cancelled"]


class Outcome(PlanModel):
    """What running a plan did. `refused`: nothing ran (a precondition failed or changed);
    `failed`: it ran and the server or the command failed; `cancelled`: stopped while running."""

    action: str
    target: PlanTarget
    status: Status
    detail: str = Field(description="one line for the operator")
    error: str | None = None
    preconditions: tuple[Precondition, ...] = Field(default=(), description="as checked just before running")
    started_at: AwareDatetime
    finished_at: AwareDatetime

    @property
    def duration_s(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class ProgressUpdate(PlanModel):
    """How far a long action is: `done` of `total` `unit`s (blocks, bytes …) in `phase`."""

    phase: str
    done: float | None = None
    total: float | None = None
    unit: str | None = None

    @property
    def fraction(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return min(1.0, self.done / self.total)


# Called by `run` from the event loop as a long action advances; must not block.
Progress = Callable[[ProgressUpdate], None]


class ActionRunner(Protocol):
    """The engine side of the protocol: plans and runs actions on a connection of its own, never
    the monitoring one. Both raise ActionRefused (engines.errors) for an action it does not know
    or a plan that is not its target's; `run` reports everything else in the Outcome."""

    async def plan(self, action: str, **params: Scalar) -> Plan:
        """The plan for `action` with `params`, its preconditions checked now; nothing is changed."""
        ...

    async def run(self, plan: Plan, progress: Progress | None = None) -> Outcome:
        """Plan again; if nothing the confirmed plan rests on changed, run it."""
        ...

