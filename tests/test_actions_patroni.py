"""The Patroni actions' plans as pure functions of what was read: no server."""

from __future__ import annotations

from dbtop.actions.patroni import CandidateLag, move_leader_plan, pause_plan, settled
from dbtop.actions.plan import Plan, PlanTarget
from dbtop.actions.promote import unmanaged
from dbtop.engines.postgres.managers import PG_AUTO_FAILOVER_PROMOTE, REPMGR_PROMOTE
from dbtop.engines.snapshot import ClusterManager

from . import fakes as f

TARGET = PlanTarget(engine="postgres", label="ops@db1:5432/app", system_identifier="7000")
API = "http://10.0.1.1:8008"
CAUGHT_UP = CandidateLag(state="streaming", seconds=0.2, bytes=0)


def plan(action="switchover", candidate="node2", manager=None, lag=CAUGHT_UP, max_lag_s=10.0) -> Plan:
    return move_leader_plan(action, candidate, manager or f.patroni_manager(), lag, max_lag_s=max_lag_s,
                            target=TARGET, fallback_url="http://db1:8008")


def failed(p: Plan) -> dict[str, str | None]:
    return {c.name: c.detail for c in p.failed}


def test_a_switchover_to_a_streaming_caught_up_replica_is_ready():
    p = plan()
    assert p.ready and p.risk == "disruptive" and p.confirm_text == "node2"
    assert p.request.shown() == f'POST {API}/switchover {{"candidate": "node2", "leader": "node1"}}'
    assert p.runs == [p.request.shown()] and p.statements == () and p.command == ()
    assert Plan.model_validate_json(p.model_dump_json()) == p  # the journal's round trip


def test_a_failover_names_only_the_candidate():
    p = plan("failover")
    assert p.ready and p.request.body == {"candidate": "node2"}
    assert any("is lost" in w for w in p.warnings)


def test_a_candidate_behind_the_threshold_is_refused():
    p = plan(lag=CandidateLag(state="streaming", seconds=42.0, bytes=5_000_000), max_lag_s=10.0)
    assert failed(p) == {"candidate_lag": "4.8 MB and 42s behind"}


def test_a_lag_in_seconds_not_yet_measured_is_refused_when_bytes_are_behind():
    p = plan(lag=CandidateLag(state="streaming", seconds=None, bytes=8192))
    assert "lag in seconds not measured yet" in failed(p)["candidate_lag"]
    assert plan(lag=CandidateLag(state="streaming", seconds=None, bytes=0)).ready  # caught up and idle


def test_a_candidate_that_does_not_stream_or_is_not_a_replica_is_refused():
    stopped = f.patroni_manager(members=[f.patroni_member("node1"), f.patroni_member("node2", "replica",
                                                                                      state="stopped")])
    assert set(failed(plan(manager=stopped, lag=CandidateLag(error="the leader node1 shows no walsender")))) == {
        "candidate_streaming", "candidate_lag"}
    assert failed(plan(candidate="node1"))["candidate_member"] == "node1 is the leader already"
    assert failed(plan(candidate="node9"))["candidate_member"] == "node9 is not a member (members: node1, node2)"


def test_a_switchover_is_refused_while_paused_a_failover_is_not():
    paused = f.patroni_manager(paused=True)
    assert "resume it first" in failed(plan(manager=paused))["not_paused"]
    assert plan("failover", manager=paused).ready


def test_a_cluster_patroni_does_not_manage_is_refused_with_what_was_seen():
    repmgr = ClusterManager(kind="repmgr", evidence=("schema 'repmgr' exists",))
    p = plan(manager=repmgr, lag=None)
    assert failed(p) == {"managed_by_patroni": "the cluster's manager is repmgr: schema 'repmgr' exists"}
    assert p.request.url == "http://db1:8008/switchover"


def test_a_leader_that_changed_since_the_plan_stops_the_run():
    seen = plan()
    moved = f.patroni_manager(members=[f.patroni_member("node1", "replica"), f.patroni_member("node3"),
                                       f.patroni_member("node2", "replica")])
    changes = seen.changes_since(plan(manager=moved))
    assert any("node2 is a replica member" in c for c in changes) and any("what would run changed" in c
                                                                          for c in changes)


def test_pause_and_resume():
    pause = pause_plan("pause", f.patroni_manager(), target=TARGET, fallback_url="x")
    assert pause.ready and pause.confirm_text is None and pause.risk == "reversible"
    assert pause.request.shown() == f'PATCH {API}/config {{"pause": true}}'
    assert failed(pause_plan("resume", f.patroni_manager(), target=TARGET, fallback_url="x")) == {
        "pause_state": "it is not paused already"}
    assert pause_plan("resume", f.patroni_manager(paused=True), target=TARGET, fallback_url="x").ready


def test_roles_settle_when_the_candidate_leads_and_the_rest_stream_on_its_timeline():
    def cluster(*members):
        return f.patroni_manager(members=list(members)).patroni_cluster

    assert settled(cluster(f.patroni_member("node2", timeline=4), f.patroni_member("node1", "replica", timeline=4)),
                   "node2")
    # just after a switchover Patroni shows the old leader stopped, with no timeline
    assert not settled(cluster(f.patroni_member("node2", timeline=4),
                               f.patroni_member("node1", "replica", state="stopped", timeline=None)), "node2")
    assert not settled(cluster(f.patroni_member("node1", timeline=3), f.patroni_member("node2", "replica")), "node2")


def test_a_raw_promotion_is_refused_on_a_managed_cluster_naming_the_manager_s_way():
    patroni = unmanaged(f.patroni_manager("node2", promote_instead="dbtop act switchover prod --candidate node2"))
    assert not patroni.passed and "writes made on it are lost" in patroni.detail
    assert patroni.detail.endswith("use dbtop act switchover prod --candidate node2")
    repmgr = unmanaged(ClusterManager(kind="repmgr", promote_instead=REPMGR_PROMOTE))
    assert not repmgr.passed and "repmgr standby promote" in repmgr.detail
    autofailover = unmanaged(ClusterManager(kind="pg_auto_failover", promote_instead=PG_AUTO_FAILOVER_PROMOTE))
    assert not autofailover.passed and "pg_autoctl perform failover" in autofailover.detail
    unknown = unmanaged(ClusterManager(kind="unknown", evidence=("Patroni fingerprint but no REST API answered at "
                                                                 "http://db1:8008",)))
    assert not unknown.passed and "patroni_url" in unknown.detail and "http://db1:8008" in unknown.detail
    assert unmanaged(ClusterManager(kind="none")).passed
