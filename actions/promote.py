"""promote: make a streaming standby the primary (`pg_promote(wait => true)`), on plain streaming
replication. The plan checks that the target is a standby, that replay is not paused, that replay is
within the profile's `failover_max_lag`, and whether the primary it follows still answers: if it does
(or dbtop cannot tell), promoting makes two primaries, and the plan asks for a second confirmation
(`split-brain`). It also shows, as a manual step never run, how to bring the old primary back as a
standby of the new one with pg_rewind, with what pg_rewind needs checked where dbtop can read it.

A cluster run by a manager (Patroni, repmgr, pg_auto_failover) must be changed through the manager:
`promote_plan` takes that check as its first precondition (`manager`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..engines.errors import ActionFailed, ConnectError
from ..engines.snapshot import ClusterManager
from ..engines.postgres.connect import close_connection, open_connection
from ..engines.quoting import quote_literal
from ..findings.wording import duration, size
from ..profiles.target import Target, TargetError, parse_keyword_string, quote_keyword_value
from .patroni import read_manager
from .pg_common import Facts, utc_now
from .plan import Plan, PlannedStatement, PlanTarget, Precondition, Progress, Scalar

# How long pg_promote waits for the promotion to finish (its own default is 60 s).
PROMOTE_WAIT_S = 60
# How long dbtop waits for the old primary to answer: a dead host must not hold the plan up.
PRIMARY_CONNECT_TIMEOUT_S = 3.0
SPLIT_BRAIN = "split-brain"
DEFAULT_PORT = 5432

# What dbtop found at the old primary's address (OldPrimary.state).
DOWN, PRIMARY, STANDBY, REFUSED, OTHER, STREAMING, UNKNOWN = (
    "down", "primary", "standby", "refused", "other cluster", "streaming", "unknown")


def primary_address(facts: Facts) -> tuple[str, int, str] | None:
    """(host, port, where it was read) of the server the standby follows: the WAL receiver's sender
    while it is connected, else the first host of primary_conninfo; None when neither can be read."""
    if facts.get("sender_host"):
        return facts["sender_host"], int(facts.get("sender_port") or DEFAULT_PORT), "pg_stat_wal_receiver"
    conninfo = facts.get("primary_conninfo")
    if not conninfo:
        return None
    try:
        keys = parse_keyword_string(conninfo)
    except TargetError:
        return None
    host = (keys.get("host") or keys.get("hostaddr") or "").split(",")[0]
    if not host:
        return None
    port = (keys.get("port") or "").split(",")[0]
    return host, int(port) if port.isdigit() else DEFAULT_PORT, "primary_conninfo"


async def read_old_primary(connection: Target, facts: Facts, sql: Callable[[str], str]) -> dict[str, Any]:
    """Connect to the primary the standby follows, with the target's own credentials and a short
    timeout, and read what the plan needs of it (`sql`: the session's query by name). `state` says what
    was found (DOWN, PRIMARY, STANDBY, REFUSED, OTHER, STREAMING, UNKNOWN); `error` why it did not answer."""
    address = primary_address(facts)
    if address is None:
        return {"state": UNKNOWN, "where": None, "source": None,
                "error": "neither pg_stat_wal_receiver's sender nor primary_conninfo can be read by this role "
                         "(needs pg_read_all_stats and pg_read_all_settings, e.g. GRANT pg_monitor)"}
    host, port, source = address
    where = f"{host}:{port}"
    options = {k: v for k, v in connection.options.items() if k != "target_session_attrs"}
    elsewhere = connection.model_copy(update={"hosts": [host], "ports": [port], "options": options,
                                              "connect_timeout_s": PRIMARY_CONNECT_TIMEOUT_S})
    found: dict[str, Any] = {"where": where, "source": source, "host": host, "port": port}
    try:
        conn = await open_connection(elsewhere, statement_timeout_ms=2000, lock_timeout_ms=500)
    except ConnectError as exc:
        if exc.server_answered:
            return {**found, "state": REFUSED, "error": str(exc)}
        state = STREAMING if facts.get("receiver_status") == "streaming" else DOWN
        return {**found, "state": state, "error": str(exc)}
    try:
        row = dict(await conn.fetchrow(sql("action_promote_old_primary")))
    finally:
        await close_connection(conn)
    found.update(row)
    if row["in_recovery"]:
        found["state"] = STANDBY
    else:
        found["state"] = PRIMARY
    return found


def _in_recovery(facts: Facts) -> Precondition:
    description = "the target is a standby (in recovery)"
    seen: dict[str, Scalar] = {"in_recovery": bool(facts["in_recovery"]), "timeline": facts["timeline"]}
    if not facts["in_recovery"]:
        return Precondition(name="in_recovery", description=description, passed=False, seen=seen,
                            detail="pg_is_in_recovery() is false: it is already a primary")
    return Precondition(name="in_recovery", description=description, passed=True, seen=seen,
                        detail=f"pg_is_in_recovery() is true, on timeline {facts['timeline']}")


def _replay_not_paused(facts: Facts) -> Precondition:
    description = "WAL replay is not paused"
    state = facts["pause_state"]
    if state is None:
        return Precondition(name="replay_not_paused", description=description, passed=False,
                            detail="nothing to check: not a standby")
    seen: dict[str, Scalar] = {"pause_state": state}
    if state != "not paused":
        return Precondition(name="replay_not_paused", description=description, passed=False, seen=seen,
                            detail=f"replay is {state} (pg_wal_replay_pause()): WAL received but not replayed would "
                                   "be replayed by the promotion, and whoever paused it may be inspecting this "
                                   "standby; SELECT pg_wal_replay_resume() first")
    return Precondition(name="replay_not_paused", description=description, passed=True, seen=seen,
                        detail="replay is running")


def _replay_lag(facts: Facts, max_lag_s: float) -> Precondition:
    description = f"replay is within failover_max_lag ({duration(max_lag_s)}) of what was received"
    seen: dict[str, Scalar] = {"max_lag_s": max_lag_s}
    if not facts["in_recovery"]:
        return Precondition(name="replay_lag", description=description, passed=False, seen=seen,
                            detail="nothing to check: not a standby")
    behind = facts["unreplayed_bytes"]
    lag = facts["replay_lag_s"]
    if behind is None or facts["received_lsn"] is None:
        return Precondition(name="replay_lag", description=description, passed=False, seen=seen,
                            detail="cannot tell the lag: this standby has received no WAL by streaming "
                                   "(pg_last_wal_receive_lsn() is NULL)")
    if lag is None:
        return Precondition(name="replay_lag", description=description, passed=False, seen=seen,
                            detail=f"{size(behind)} received but not replayed, and no transaction replayed yet: "
                                   "cannot tell how far behind replay is")
    found = (f"replay is {duration(lag)} behind ({size(behind)} received but not replayed; "
             f"replayed up to {facts['replayed_lsn']} of {facts['received_lsn']})")
    if lag > max_lag_s:
        return Precondition(name="replay_lag", description=description, passed=False, seen=seen,
                            detail=f"{found}, over the {duration(max_lag_s)} limit: wait for it to catch up, or "
                                   "raise failover_max_lag in the profile")
    return Precondition(name="replay_lag", description=description, passed=True, seen=seen, detail=found)


def _may_promote(facts: Facts) -> Precondition:
    description = "this role may promote (pg_promote)"
    role = facts["role"]
    seen: dict[str, Scalar] = {"role": role}
    if facts["superuser"]:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} is a superuser")
    if facts["may_promote"]:
        return Precondition(name="privilege", description=description, passed=True, seen=seen,
                            detail=f"{role} may execute pg_promote")
    return Precondition(name="privilege", description=description, passed=False, seen=seen,
                        detail=f"{role} needs a superuser or GRANT EXECUTE ON FUNCTION pg_promote(boolean, integer) "
                               f"TO {role}")


def _old_primary(primary: Mapping[str, Any], system_identifier: str | None) -> tuple[Precondition, str | None]:
    """Whether the primary still answers (never failed: when it does, or when dbtop cannot tell, the
    plan asks for the second confirmation) and the warning that says what promoting would do."""
    state, where = primary["state"], primary.get("where")
    if state == PRIMARY and system_identifier and primary.get("system_identifier") != system_identifier:
        state = OTHER
    seen: dict[str, Scalar] = {"primary": where, "state": state}
    description = "whether the primary this standby follows still answers"
    via = f" (from {primary['source']})" if primary.get("source") else ""
    error = f": {primary['error']}" if primary.get("error") else ""
    if state == DOWN:
        return Precondition(name="old_primary", description=description, passed=True, seen=seen,
                            detail=f"{where}{via} does not answer{error}"), None
    detail, warning = {
        PRIMARY: (f"{where}{via} answers and is a primary (not in recovery)",
                  f"the primary {where} still answers: promoting makes TWO primaries (split brain); writes that "
                  f"still reach {where} are lost to this server. Stop or fence {where} first"),
        STREAMING: (f"{where}{via}: dbtop cannot reach it, but this standby is streaming from it now{error}",
                    f"this standby is still streaming from {where}, so that primary is running: promoting makes "
                    "TWO primaries (split brain)"),
        STANDBY: (f"{where}{via} answers and is itself in recovery (cascading replication)",
                  f"{where} is a standby too: dbtop cannot see whether the primary above it still runs; "
                  "promoting may make two primaries (split brain)"),
        REFUSED: (f"a server answers at {where}{via} but refused dbtop's login{error}",
                  f"a server answers at {where} and dbtop cannot tell whether it is still a primary: promoting "
                  "may make two primaries (split brain)"),
        OTHER: (f"{where}{via} answers but is another cluster (system {primary.get('system_identifier')})",
                f"dbtop cannot tell whether this standby's primary still runs ({where} is another cluster): "
                "promoting may make two primaries (split brain)"),
        UNKNOWN: (f"cannot tell where the primary is{error}",
                  "dbtop cannot tell whether this standby's primary still runs: promoting may make two primaries "
                  "(split brain)"),
    }[state]
    return Precondition(name="old_primary", description=description, passed=True, seen=seen, detail=detail), \
        f"{warning}; type {SPLIT_BRAIN} as well to promote anyway"


def _setting(value: Any) -> str:
    return "unknown (hidden from this role)" if value is None else str(value)


def rewind_steps(facts: Facts, primary: Mapping[str, Any], source_server: str) -> tuple[str, ...]:
    """How to bring the old primary back as a standby of the new one, with pg_rewind's needs checked
    where dbtop can read them and said plainly where it cannot."""
    data_dir = primary.get("data_directory") or "OLD_PRIMARY_DATA_DIR"
    port = primary.get("port") or "OLD_PRIMARY_PORT"
    here = shlex.quote(source_server)
    commands = [
        (f"pg_ctl -D {shlex.quote(data_dir)} stop -m fast",
         "on the old primary: pg_rewind needs a clean shutdown, which dbtop cannot check from here (pg_rewind 13+ "
         "runs crash recovery itself first unless --no-ensure-shutdown is given)"),
        (f"psql {here} -c CHECKPOINT",
         "on this server, once promoted: pg_rewind reads its timeline from the control file, which shows the new "
         "timeline only after a checkpoint; before it, pg_rewind finds nothing to rewind"),
    ]
    slot = facts.get("primary_slot_name")
    if slot:
        create = f"SELECT pg_create_physical_replication_slot({quote_literal(slot)})"
        # A valid slot name is [a-z0-9_]: then the statement reads as one would type it.
        shown = f'"{create}"' if re.fullmatch(r"[a-z0-9_]+", slot) else shlex.quote(create)
        commands.append((f"psql {here} -c {shown}",
                         f"this standby streamed through slot {slot} (primary_slot_name), which pg_rewind copies to "
                         "the old primary: the slot must exist here for it to stream"))
    commands += [
        (f"pg_rewind --target-pgdata={shlex.quote(data_dir)} --source-server={here} -R -P",
         "on the old primary's host, as the operating-system user that owns its data directory"),
        (f"pg_ctl -D {shlex.quote(data_dir)} -o '-p {port}' -w start",
         "it starts as a standby of this server. pg_rewind copied this server's postgresql.conf and "
         "postgresql.auto.conf over the old primary's: check its port and settings before starting it"),
    ]
    steps = ["bring the old primary back as a standby of this one, by hand:"]
    steps += [f"{n}. {command} — {why}" for n, (command, why) in enumerate(commands, 1)]
    if "OLD_PRIMARY_DATA_DIR" in data_dir or "OLD_PRIMARY_PORT" in str(port):
        steps.append("OLD_PRIMARY_DATA_DIR / OLD_PRIMARY_PORT: dbtop could not read them from the old primary "
                      "(it did not answer, or this role may not read data_directory)")
    checks = ["what pg_rewind needs:"]
    if facts["data_checksums"] == "on":
        checks.append("data checksums: on (read here; the old primary is the same cluster, so it has them too): "
                      "wal_log_hints is not needed")
    else:
        hints = primary.get("wal_log_hints")
        answered = primary["state"] in (PRIMARY, STANDBY)
        checks.append(f"data checksums: {_setting(facts['data_checksums'])} (read here, the same on the old primary), "
                      "so the old primary needs wal_log_hints = on: "
                      + (f"it is {_setting(hints)}" + (" — pg_rewind will refuse; it must have been on before the "
                                                       "two servers diverged" if hints == "off" else "")
                         if answered else "cannot check, the old primary did not answer (SHOW wal_log_hints there, "
                                          "or pg_controldata DATA_DIR | grep wal_log_hints)"))
    old_fpw = primary.get("full_page_writes") if primary["state"] in (PRIMARY, STANDBY) else None
    checks.append(f"full_page_writes must be on: {_setting(facts['full_page_writes'])} here"
                  + (f", {_setting(old_fpw)} on the old primary" if old_fpw is not None
                     else " (the old primary's cannot be read from here)")
                  + (" — pg_rewind refuses while it is off" if "off" in (facts["full_page_writes"], old_fpw) else ""))
    checks.append(f"the source role {facts['role']} "
                  + ("is a superuser" if facts["superuser"] else
                     "is not a superuser: pg_rewind needs a superuser, or EXECUTE on pg_ls_dir, pg_stat_file, "
                     "pg_read_binary_file and pg_read_binary_file(text, bigint, bigint, boolean)"))
    return tuple(steps + checks)


def source_server(connection: Target) -> str:
    """The libpq keyword string pg_rewind reaches the new primary with: the host, port, user and database
    dbtop reaches it with, never the password (pg_rewind reads ~/.pgpass or PGPASSWORD)."""
    parts = {"host": (connection.hosts or [""])[0], "port": str((connection.ports or [DEFAULT_PORT])[0]),
             "user": connection.user or "", "dbname": connection.database or ""}
    return " ".join(f"{key}={quote_keyword_value(value)}" for key, value in parts.items() if value)


def confirm_text_for(target: PlanTarget, connection: Target | None) -> str:
    """What the operator types to promote: the standby's profile name, or host:port for a URL."""
    if target.profile:
        return target.profile
    if connection is not None and connection.hosts:
        return f"{connection.hosts[0]}:{(connection.ports or [DEFAULT_PORT])[0]}"
    return target.label


def unmanaged(manager: ClusterManager) -> Precondition:
    """The check that no cluster manager runs this cluster: a raw promotion of a Patroni replica made
    two writable primaries until Patroni rewound it, and the writes made on it were lost; in Patroni's
    pause mode both stayed writable. A managed cluster is changed through its manager."""
    description = "no cluster manager (Patroni, repmgr, pg_auto_failover) runs this cluster"
    seen: dict[str, Scalar] = {"manager": manager.kind}
    if manager.kind == "none":
        return Precondition(name="manager", description=description, passed=True, detail="plain streaming",
                            seen=seen)
    if manager.kind == "patroni":
        detail = (f"Patroni manages it (member {manager.member or '?'}): a raw promotion makes two primaries "
                  "until Patroni rewinds this one, and the writes made on it are lost; use "
                  f"{manager.promote_instead}")
    elif manager.kind == "unknown":
        detail = ("Patroni's fingerprint is on this server but dbtop could not confirm it ("
                  + "; ".join(manager.evidence[-1:]) + "): set the profile's patroni_url, then use dbtop act "
                  "switchover/failover … --candidate …, or patronictl switchover/failover")
    else:
        detail = f"{manager.title} manages it: promote with its own command: {manager.promote_instead}"
    return Precondition(name="manager", description=description, passed=False, detail=detail, seen=seen)


def promote_plan(facts: Facts, primary: Mapping[str, Any], *, target: PlanTarget, confirm_text: str,
                 source: str, max_lag_s: float, manager: Precondition | None = None,
                 planned_at: datetime | None = None) -> Plan:
    """The plan to promote the standby described by `facts` (sql/action_promote_standby), whose
    primary was found as `primary` (read_old_primary). `manager`: the check that no cluster manager
    runs this cluster (a manager's cluster is changed through the manager, never by pg_promote)."""
    preconditions = [manager] if manager is not None else []
    old_primary, split_brain = _old_primary(primary, target.system_identifier)
    preconditions += [_in_recovery(facts), _replay_not_paused(facts), _replay_lag(facts, max_lag_s),
                      _may_promote(facts), old_primary]
    warnings = [split_brain] if split_brain else []
    warnings += ["clients must be pointed at the new primary: dbtop does not move addresses, DNS or poolers",
                 "the old primary cannot follow the new one until it is rewound (pg_rewind) or rebuilt"]
    return Plan(action="promote", target=target,
                summary=f"promote standby {confirm_text} to primary (pg_promote, waiting up to {PROMOTE_WAIT_S} s)",
                params={}, statements=(PlannedStatement(text="SELECT pg_promote(wait => true, wait_seconds => $1)",
                                                        arguments=(PROMOTE_WAIT_S,)),),
                preconditions=tuple(preconditions), risk="disruptive", warnings=tuple(warnings),
                confirm_text=confirm_text, second_confirm_text=SPLIT_BRAIN if split_brain else None,
                manual_steps=rewind_steps(facts, primary, source),
                statement_timeout_ms=(PROMOTE_WAIT_S + 10) * 1000, lock_timeout_ms=1000,
                planned_at=planned_at or utc_now())


class Promote:
    """promote (no parameters: the target dbtop is connected to is the standby)."""

    name = "promote"
    engines = frozenset({"postgres"})

    async def plan(self, session: Any) -> Plan:
        facts = dict(await session.conn.fetchrow(session.sql("action_promote_standby")))
        manager = unmanaged(await read_manager(session))
        if session.connection is None:
            primary: dict[str, Any] = {"state": UNKNOWN, "where": None, "error": "no connection settings to reach it"}
        else:
            primary = await read_old_primary(session.connection, facts, session.sql)
        return promote_plan(facts, primary, target=session.target,
                            confirm_text=confirm_text_for(session.target, session.connection),
                            source=source_server(session.connection) if session.connection else "",
                            max_lag_s=session.policy.failover_max_lag_s, manager=manager)

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        was = next((p.seen.get("timeline") for p in plan.preconditions if p.name == "in_recovery"), None)
        statement = plan.statements[0]
        if not await session.conn.fetchval(statement.text, *statement.arguments):
            raise ActionFailed(f"pg_promote did not finish within {PROMOTE_WAIT_S} s: check the server's log; "
                               "it may still complete", "pg_promote returned false")
        row = await session.conn.fetchrow(session.sql("action_promoted"))
        if row["in_recovery"]:
            raise ActionFailed("pg_promote returned, but the server is still in recovery: check its log")
        return (f"promoted {plan.confirm_text}: pg_is_in_recovery() is false; new timeline {row['timeline']} "
                f"(was {was if was is not None else '?'})")


PROMOTE = Promote()
