"""step-down and freeze-member: MongoDB's replSetStepDown of the primary (with a catch-up period, only
when a secondary that can be elected is within the profile's `failover_max_lag`) and replSetFreeze of
the member dbtop watches (it does not seek election for a while). Both run on the server the target
names: point dbtop at the member to freeze."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.errors import AutoReconnect, NotPrimaryError, PyMongoError

from .pg_common import utc_now
from .plan import Plan, PlanTarget, Precondition, Progress, Scalar

STEP_DOWN_S = 60  # the old primary does not stand for election for this long
CATCH_UP_S = 10  # secondaryCatchUpPeriodSecs: how long it waits for a secondary to catch up
FREEZE_S = 60
FREEZE_MAX_S = 24 * 3600
MAX_TIME_MS = 5000
ELECTION_WAIT_S = 30.0  # after the step-down, how long dbtop waits to see a new primary
STATE_PRIMARY, STATE_SECONDARY = 1, 2


def _as_utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def electable(status: dict[str, Any], config: dict[str, Any] | None, max_lag_s: float) -> tuple[list[str], list[str]]:
    """(the secondaries that can be elected within `max_lag_s` of the primary, each with its lag;
    why each other member cannot), from replSetGetStatus and replSetGetConfig's members."""
    members = status.get("members") or []
    primary = next((m for m in members if m.get("state") == STATE_PRIMARY), None)
    primary_at = _as_utc((primary or {}).get("optimeDate"))
    configured = {m.get("host"): m for m in ((config or {}).get("config") or {}).get("members") or []}
    good, bad = [], []
    for member in members:
        if member is primary:
            continue
        name = str(member.get("name"))
        conf = configured.get(member.get("name"), {})
        at = _as_utc(member.get("optimeDate"))
        lag = (primary_at - at).total_seconds() if at and primary_at else None
        if member.get("state") != STATE_SECONDARY or not member.get("health"):
            bad.append(f"{name} is {member.get('stateStr') or 'not a healthy secondary'}")
        elif conf.get("arbiterOnly") or conf.get("hidden") or conf.get("priority", 1) == 0 or conf.get("votes", 1) == 0:
            why = "hidden" if conf.get("hidden") else ("an arbiter" if conf.get("arbiterOnly") else
                                                       "priority 0" if conf.get("priority", 1) == 0 else "non-voting")
            bad.append(f"{name} cannot be elected ({why})")
        elif lag is None:
            bad.append(f"{name}'s lag is unknown")
        elif lag > max_lag_s:
            bad.append(f"{name} is {lag:g} s behind (over {max_lag_s:g} s)")
        else:
            good.append(f"{name} ({max(lag, 0):g} s behind)")
    if config is None:
        bad.append("the set's configuration (priorities, votes, hidden) could not be read")
    return good, bad


def step_down_plan(hello: dict[str, Any], status: dict[str, Any] | None, config: dict[str, Any] | None, *,
                   target: PlanTarget, max_lag_s: float, catch_up_s: int = CATCH_UP_S,
                   step_down_s: int = STEP_DOWN_S, planned_at: datetime | None = None) -> Plan:
    """The plan to step down the primary `hello` describes, given the set's status and configuration."""
    from ..engines.mongo.runner import command_statement

    set_name = hello.get("setName")
    me = hello.get("me") or target.host or target.label
    is_primary = bool(set_name) and bool(hello.get("isWritablePrimary", hello.get("ismaster")))
    primary = Precondition(
        name="is_primary", description="the target is the replica set's primary", passed=is_primary,
        seen={"set": set_name, "primary": me},
        detail=(f"{me} is primary of {set_name}" if is_primary else
                "not a replica set: there is nothing to step down to" if not set_name else
                f"{me} is not the primary (it is {'a secondary' if hello.get('secondary') else 'not writable'}); "
                f"the primary is {hello.get('primary') or 'unknown'}: point dbtop at it"))
    good, bad = electable(status or {}, config, max_lag_s) if status is not None else ([], ["replSetGetStatus unread"])
    secondary = Precondition(
        name="electable_secondary",
        description=f"a secondary that can be elected is within {max_lag_s:g} s of the primary (failover_max_lag)",
        passed=bool(good),
        detail=("; ".join(good) if good else "none: " + ("; ".join(bad) or "the set has no other member")))
    document = {"replSetStepDown": step_down_s, "secondaryCatchUpPeriodSecs": catch_up_s,
                "maxTimeMS": (catch_up_s + 30) * 1000}
    return Plan(
        action="step-down", target=target, summary=f"step down {me}, primary of {set_name or '-'}, for {step_down_s} s",
        params={}, statements=(command_statement(document),), preconditions=(primary, secondary), risk="disruptive",
        warnings=(f"writes fail from the moment it steps down until a new primary is elected (usually seconds; "
                  f"it waits up to {catch_up_s} s for a secondary to catch up first)",
                  "drivers reconnect to the new primary; an application without retryable writes sees errors",
                  f"{me} will not stand for election for {step_down_s} s"),
        confirm_text=str(set_name or me), planned_at=planned_at or utc_now())


def freeze_plan(hello: dict[str, Any], seconds: int, *, target: PlanTarget,
                planned_at: datetime | None = None) -> Plan:
    """The plan to freeze (or, with 0 seconds, unfreeze) the member `hello` describes."""
    from ..engines.mongo.runner import command_statement

    set_name = hello.get("setName")
    me = hello.get("me") or target.host or target.label
    is_secondary = bool(set_name) and bool(hello.get("secondary"))
    member = Precondition(
        name="is_secondary", description="the target is a secondary of a replica set", passed=is_secondary,
        seen={"set": set_name, "member": me},
        detail=(f"{me} is a secondary of {set_name}" if is_secondary else
                "not a replica set: there is no election to keep it out of" if not set_name else
                f"{me} is not a secondary (a primary is stepped down, not frozen)"))
    what = (f"let {me} seek election again (unfreeze)" if seconds == 0 else
            f"keep {me} from seeking election for {seconds} s")
    return Plan(
        action="freeze-member", target=target, summary=f"{what} ({set_name or '-'})", params={"seconds": seconds},
        statements=(command_statement({"replSetFreeze": seconds, "maxTimeMS": MAX_TIME_MS}),),
        preconditions=(member,), risk="reversible",
        warnings=(("while frozen, this member cannot become primary: a failover must elect another",
                   "undo: dbtop act freeze TARGET 0 (replSetFreeze 0)") if seconds else ()),
        confirm_text=str(me), planned_at=planned_at or utc_now())


def seconds_of(value: Scalar, default: int, most: int) -> int:
    if value is None:
        return default
    try:
        seconds = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"seconds: {value!r} is not a number of seconds") from None
    if not 0 <= seconds <= most or isinstance(value, bool):
        raise ValueError(f"seconds: give 0 to {most}")
    return seconds


class StepDown:
    name = "step-down"
    engines = frozenset({"mongo"})

    async def plan(self, session: Any, **params: Scalar) -> Plan:
        hello = await session.command({"hello": 1})
        status = config = None
        if hello.get("setName"):
            status = await session.command({"replSetGetStatus": 1})
            try:
                config = await session.command({"replSetGetConfig": 1})
            except PyMongoError:
                config = None  # said in the precondition: a member's priority is unknown
        return step_down_plan(hello, status, config, target=session.target,
                              max_lag_s=session.policy.failover_max_lag_s)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        old = next(p for p in plan.preconditions if p.name == "is_primary").seen["primary"]
        try:
            await session.send(plan.statements[0])
        except (AutoReconnect, NotPrimaryError):
            pass  # a primary stepping down may close the connection that asked it to
        started = asyncio.get_running_loop().time()
        new = await wait_for_new_primary(session, str(old))
        waited = asyncio.get_running_loop().time() - started
        if new is None:
            return (f"{old} stepped down; no new primary was seen within {ELECTION_WAIT_S:g} s: "
                    "check the set (rs.status()) now")
        return f"{old} stepped down; {new} is primary now (elected within {waited:.1f} s)"


async def wait_for_new_primary(session: Any, old: str, wait_s: float = ELECTION_WAIT_S) -> str | None:
    """The set's new primary, once one other than `old` answers this session's client as primary (a
    client on the set follows the election); a client connected to `old` alone takes `old`'s word
    for who the primary is now. None after `wait_s`."""
    direct = session.client.topology_description.topology_type_name == "Single"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        try:
            hello = await session.command({"hello": 1})
        except PyMongoError:
            hello = {}  # no primary yet (an election), or the old primary closed the connection
        writable = hello.get("isWritablePrimary", hello.get("ismaster"))
        if writable and hello.get("me") and hello.get("me") != old:
            return str(hello["me"])
        if direct and hello.get("primary") and hello.get("primary") != old:
            return str(hello["primary"])
        await asyncio.sleep(0.25)
    return None


class FreezeMember:
    name = "freeze-member"
    engines = frozenset({"mongo"})

    async def plan(self, session: Any, *, seconds: Scalar = None) -> Plan:
        wanted = seconds_of(seconds, FREEZE_S, FREEZE_MAX_S)
        return freeze_plan(await session.command({"hello": 1}), wanted, target=session.target)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        await session.send(plan.statements[0])
        member = next(p for p in plan.preconditions if p.name == "is_secondary").seen["member"]
        seconds = int(plan.params["seconds"])  # type: ignore[arg-type]
        if seconds == 0:
            return f"{member} may seek election again (unfrozen)"
        until = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        return f"{member} will not seek election for {seconds} s (until {until:%H:%M:%S} UTC)"


STEP_DOWN = StepDown()
FREEZE_MEMBER = FreezeMember()
