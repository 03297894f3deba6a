"""switchover, failover, pause, resume: a Patroni cluster changed through Patroni's REST API.

A managed cluster is changed only through its manager: a raw promotion of a Patroni replica made two
writable primaries, and Patroni then rewound the node and lost what was written on it
(../shared/recipes/ha-and-backup.md). So these actions send Patroni the request (`POST /switchover`,
`POST /failover`, `PATCH /config {"pause": …}`) after checking what the operator saw: Patroni manages
the server, the candidate is a replica that streams and is within the profile's `failover_max_lag`
(bytes and seconds, read on the leader), and for a switchover the cluster is not paused. After a
switchover or failover, `/cluster` is polled until the roles settle (it is eventually consistent: a
node shows "stopped" with no timeline for a few seconds), then each node's own `pg_is_in_recovery()`
is read and the new timeline reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..engines.errors import ActionFailed, ActionRefused, ConnectError
from ..engines.postgres.managers import (PatroniUnanswered, detect_manager, patroni_base_url, patroni_request,
                                         read_on_member, read_patroni_cluster)
from ..engines.snapshot import ClusterManager, PatroniCluster
from ..findings.wording import duration, size
from .pg_common import utc_now
from .plan import Plan, PlannedRequest, PlanTarget, Precondition, Progress, ProgressUpdate

# How long a REST API request may take: Patroni answers a switchover once it is done (2-3 s here).
REQUEST_TIMEOUT_S = 30.0
# How long the roles may take to settle after Patroni answered, and how often /cluster is read.
SETTLE_LIMIT_S = 60.0
SETTLE_EVERY_S = 0.5
DETECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class CandidateLag:
    """The candidate's walsender on the leader (sql/action_standby_lag); `error` when it could not be read."""

    state: str | None = None
    seconds: float | None = None
    bytes: int | None = None
    error: str | None = None


def _manager_precondition(manager: ClusterManager) -> Precondition:
    if manager.kind == "patroni":
        return Precondition(name="managed_by_patroni", description="Patroni manages this server and its REST API "
                                                                   "answers", passed=True,
                            detail=f"member {manager.member or '?'}, REST API {manager.api_url}",
                            seen={"api_url": manager.api_url})
    said = "; ".join(manager.evidence) or manager.title
    return Precondition(name="managed_by_patroni", description="Patroni manages this server and its REST API answers",
                        passed=False, detail=f"the cluster's manager is {manager.title}: {said}"
                                             + (f" ({manager.error})" if manager.error else ""))


def _request(action: str, api_url: str, leader: str | None, candidate: str | None) -> PlannedRequest:
    if action == "switchover":
        return PlannedRequest(method="POST", url=f"{api_url}/switchover",
                              body={"leader": leader or "", "candidate": candidate or ""})
    if action == "failover":
        return PlannedRequest(method="POST", url=f"{api_url}/failover", body={"candidate": candidate or ""})
    return PlannedRequest(method="PATCH", url=f"{api_url}/config", body={"pause": action == "pause"})


def move_leader_plan(action: str, candidate: str, manager: ClusterManager, lag: CandidateLag | None, *,
                     max_lag_s: float, target: PlanTarget, fallback_url: str,
                     planned_at: datetime | None = None) -> Plan:
    """The plan of a switchover (planned) or failover (unplanned) to `candidate`, from the manager as
    detected now and the candidate's walsender on the leader (None: not read, the leader is not known)."""
    cluster = manager.patroni_cluster
    preconditions = [_manager_precondition(manager)]
    leader = cluster.leader if cluster else None
    member = cluster.member(candidate) if cluster else None
    if manager.kind == "patroni":
        if cluster is None:
            preconditions.append(Precondition(name="cluster_read", description="Patroni's view of the cluster was "
                                              "read (GET /cluster)", passed=False, detail=manager.error))
        else:
            names = ", ".join(m.name for m in cluster.members) or "none"
            is_replica = member is not None and not member.is_leader
            preconditions.append(Precondition(
                name="candidate_member", description=f"{candidate} is a replica member of the cluster",
                passed=is_replica,
                detail=(f"leader {leader.name if leader else 'none'}, timeline "
                        f"{leader.timeline if leader else '?'}" if is_replica else
                        f"{candidate} is the leader already" if member is not None else
                        f"{candidate} is not a member (members: {names})"),
                seen={"candidate": candidate, "leader": leader.name if leader else None}))
            if member is not None and not member.is_leader:
                streams = member.streaming and (lag is None or lag.state == "streaming")
                said = f"Patroni says {member.state or '?'}"
                if lag is not None:
                    said += f"; the leader's walsender says {lag.state or 'none'}" if not lag.error else \
                        f"; the leader's walsender could not be read: {lag.error}"
                preconditions.append(Precondition(name="candidate_streaming", description=f"{candidate} streams "
                                                  "from the leader", passed=streams, detail=said))
                preconditions.append(_lag_precondition(candidate, lag, max_lag_s))
            if action == "switchover":
                preconditions.append(Precondition(
                    name="not_paused", description="the cluster is not paused (maintenance mode)",
                    passed=not cluster.paused,
                    detail="Patroni is paused: resume it first (dbtop act resume), or use failover"
                    if cluster.paused else None))
    what = "switch the leader over" if action == "switchover" else "fail the leader over"
    warnings = [f"the leader ({leader.name if leader else 'none'}) stops accepting writes and restarts as a replica; "
                "sessions on it are cut off and applications must reconnect to the new leader"]
    if action == "failover":
        warnings.append("a failover does not wait for the leader to hand over cleanly: what it did not send "
                        "to the candidate is lost")
    return Plan(action=action, target=target, summary=f"{what} to {candidate} through Patroni",
                params={"candidate": candidate},
                request=_request(action, manager.api_url or fallback_url, leader.name if leader else None, candidate),
                preconditions=tuple(preconditions), risk="disruptive", warnings=tuple(warnings),
                confirm_text=candidate, planned_at=planned_at or utc_now())


def _lag_precondition(candidate: str, lag: CandidateLag | None, max_lag_s: float) -> Precondition:
    description = f"{candidate} is within {duration(max_lag_s)} of the leader (profile failover_max_lag)"
    if lag is None or lag.error or lag.bytes is None:
        reason = lag.error if lag and lag.error else f"the leader shows no walsender for {candidate}"
        return Precondition(name="candidate_lag", description=description, passed=False,
                            detail=f"its lag could not be read: {reason}")
    seconds = lag.seconds if lag.seconds is not None else (0.0 if lag.bytes <= 0 else None)
    if seconds is None:
        return Precondition(name="candidate_lag", description=description, passed=False,
                            detail=f"{size(lag.bytes)} behind, lag in seconds not measured yet: try again")
    return Precondition(name="candidate_lag", description=description, passed=seconds <= max_lag_s,
                        detail=f"{size(max(0, lag.bytes))} and {duration(seconds)} behind")


def pause_plan(action: str, manager: ClusterManager, *, target: PlanTarget, fallback_url: str,
               planned_at: datetime | None = None) -> Plan:
    """The plan to pause (maintenance mode: Patroni stops failing over) or resume a Patroni cluster."""
    cluster = manager.patroni_cluster
    preconditions = [_manager_precondition(manager)]
    if manager.kind == "patroni":
        paused = cluster.paused if cluster else None
        wanted = action == "resume"
        preconditions.append(Precondition(
            name="pause_state", description=f"the cluster is {'paused' if wanted else 'not paused'}",
            passed=paused is wanted,
            detail=("Patroni's cluster could not be read" if paused is None else
                    None if paused is wanted else f"it is {'paused' if paused else 'not paused'} already")))
    if action == "pause":
        summary = "pause Patroni (maintenance mode): it stops failing over and restarting PostgreSQL"
        warnings = ("while paused, a failed leader is not replaced: the cluster has no automatic failover",)
    else:
        summary = "resume Patroni: it fails over and manages PostgreSQL again"
        warnings = ("on resuming, Patroni acts on what it finds: a node promoted behind its back is demoted and "
                    "rewound, and the writes made on it are lost",)
    return Plan(action=action, target=target, summary=summary, request=_request(action, manager.api_url or
                                                                                 fallback_url, None, None),
                preconditions=tuple(preconditions), risk="reversible", warnings=warnings,
                planned_at=planned_at or utc_now())


async def send_request(request: PlannedRequest) -> str:
    """Send the planned request; Patroni's answer in one line, or ActionFailed with its reason (an
    HTTP 412, 503 or 400 carries Patroni's message)."""
    base, _, path = request.url.partition("://")
    host, slash, rest = path.partition("/")
    try:
        answer = await patroni_request(f"{base}://{host}", request.method, f"/{rest}" if slash else "",
                                       body=dict(request.body) or None, timeout_s=REQUEST_TIMEOUT_S)
    except PatroniUnanswered as exc:
        raise ActionFailed(f"Patroni did not answer: {exc}; check with patronictl list whether it took effect",
                           str(exc)) from None
    if not answer.ok:
        raise ActionFailed(f"Patroni refused it (HTTP {answer.status}): {answer.message or 'no reason given'}",
                           f"HTTP {answer.status}: {answer.message}")
    return answer.message


def settled(cluster: PatroniCluster, candidate: str) -> bool:
    """The candidate leads and every other member streams on its timeline."""
    leader = cluster.leader
    if leader is None or leader.name != candidate or leader.timeline is None or leader.state != "running":
        return False
    return all(m.streaming and m.timeline == leader.timeline for m in cluster.members if m is not leader)


async def read_manager(session: Any) -> ClusterManager:
    """Who manages the cluster of the action session's server (engines.postgres.managers), read now."""
    host = session.connection.hosts[0] if session.connection and session.connection.hosts else None
    return await detect_manager(session.conn, host=host, patroni_url=session.policy.patroni_url,
                                timeout_s=DETECT_TIMEOUT_S, target=session.policy.profile or session.target.label)


class PatroniAction:
    """One of switchover, failover, pause, resume."""

    engines = frozenset({"postgres"})

    def __init__(self, name: str):
        self.name = name

    def _fallback_url(self, session: Any) -> str:
        host = session.connection.hosts[0] if session.connection and session.connection.hosts else None
        return patroni_base_url(session.policy.patroni_url, host)

    async def plan(self, session: Any, *, candidate: str | None = None) -> Plan:
        manager = await read_manager(session)
        if self.name in ("pause", "resume"):
            return pause_plan(self.name, manager, target=session.target, fallback_url=self._fallback_url(session))
        if not candidate:
            raise ActionRefused(f"{self.name} needs a candidate: the Patroni member to lead (--candidate NAME)")
        cluster = manager.patroni_cluster
        lag = None
        if manager.kind == "patroni" and cluster is not None and cluster.leader is not None:
            lag = await self._candidate_lag(session, manager, candidate)
        return move_leader_plan(self.name, candidate, manager, lag, max_lag_s=session.policy.failover_max_lag_s,
                                target=session.target, fallback_url=self._fallback_url(session))

    async def _candidate_lag(self, session: Any, manager: ClusterManager, candidate: str) -> CandidateLag:
        leader = manager.patroni_cluster.leader
        try:
            if leader.name == manager.member:
                row = await session.conn.fetchrow(session.sql("action_standby_lag"), candidate)
            else:
                row = await read_on_member(session.connection, leader, "action_standby_lag", candidate)
        except (ConnectError, asyncpg.PostgresError, OSError, asyncio.TimeoutError) as exc:
            return CandidateLag(error=f"on the leader {leader.name}: {' '.join(str(exc).split())}")
        if row is None:
            return CandidateLag(error=f"the leader {leader.name} shows no walsender for {candidate}")
        return CandidateLag(state=row["state"], seconds=row["replay_lag_s"], bytes=row["replay_lag_bytes"])

    async def run(self, session: Any, plan: Plan, progress: Progress | None) -> str:
        assert plan.request is not None
        said = await send_request(plan.request)
        if self.name in ("pause", "resume"):
            # PATCH /config answers with the whole configuration: what counts is the cluster's state
            return await self._pause_state(plan.request.url.rsplit("/", 1)[0], self.name == "pause")
        candidate = str(plan.params["candidate"])
        if progress is not None:
            progress(ProgressUpdate(phase=f"Patroni answered; waiting for {candidate} to lead"))
        api_url = plan.request.url.rsplit("/", 1)[0]
        cluster = await self._settle(api_url, candidate)
        states = await self._recovery_states(session, cluster)
        return f"{said or self.name + ' done'}; " + states

    async def _pause_state(self, api_url: str, paused: bool) -> str:
        await self._await_cluster(api_url, lambda cluster: cluster.paused is paused,
                                  lambda last: f"its cluster did not show it after {SETTLE_LIMIT_S:g} s")
        if paused:
            return "Patroni paused (maintenance mode): it neither fails over nor restarts PostgreSQL until resumed"
        return "Patroni resumed: it fails over and manages PostgreSQL again"

    async def _settle(self, api_url: str, candidate: str) -> PatroniCluster:
        def unsettled(last: PatroniCluster | None) -> str:
            seen = ", ".join(f"{m.name} {m.role} {m.state}" for m in last.members) if last else "no answer"
            return f"the roles had not settled after {SETTLE_LIMIT_S:g} s ({seen})"

        return await self._await_cluster(api_url, lambda cluster: settled(cluster, candidate), unsettled)

    async def _await_cluster(self, api_url: str, done: Callable[[PatroniCluster], bool],
                             not_yet: Callable[[PatroniCluster | None], str]) -> PatroniCluster:
        """Poll /cluster (eventually consistent) until `done`, at most SETTLE_LIMIT_S; past it the
        action failed, `not_yet` saying what was missing in the last answer."""
        deadline = time.monotonic() + SETTLE_LIMIT_S
        last: PatroniCluster | None = None
        while True:
            try:
                last = await read_patroni_cluster(api_url, timeout_s=2.0)
                if done(last):
                    return last
            except PatroniUnanswered:
                pass
            if time.monotonic() > deadline:
                raise ActionFailed(f"Patroni accepted the {self.name}, but {not_yet(last)}: check with patronictl list")
            await asyncio.sleep(SETTLE_EVERY_S)

    async def _recovery_states(self, session: Any, cluster: PatroniCluster) -> str:
        """Each member's own pg_is_in_recovery(), beside Patroni's role, and the new timeline."""
        said = []
        agree = True
        for member in cluster.members:
            try:
                row = await read_on_member(session.connection, member, "action_in_recovery")
                in_recovery = bool(row["in_recovery"])
                said.append(f"{member.name} {'in recovery' if in_recovery else 'not in recovery'}")
                agree &= in_recovery != member.is_leader
            except (ConnectError, asyncpg.PostgresError, OSError, asyncio.TimeoutError) as exc:
                said.append(f"{member.name} not read ({' '.join(str(exc).split())[:80]})")
                agree = False
        leader = cluster.leader
        line = (f"{leader.name} leads on timeline {leader.timeline}; pg_is_in_recovery(): " + ", ".join(said))
        if not agree:
            raise ActionFailed(f"Patroni reports {leader.name} as the leader, but the servers do not all agree: "
                               + line)
        return line


SWITCHOVER = PatroniAction("switchover")
FAILOVER = PatroniAction("failover")
PAUSE = PatroniAction("pause")
RESUME = PatroniAction("resume")
