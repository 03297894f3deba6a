"""MongoDB's rules: the checks of the MongoDB audit this project was built from (authorization, replica
set, lag, connections, disk, memory, locks, oplog window, long operations, collection scans, TLS,
least privilege, backups, end of life). Each reads the snapshot's core and its `mongo` section and
says nothing when the figure it needs was not read."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import resources

from ...engines.snapshot import MongoSection, Snapshot
from ..engine import Thresholds, rule
from ..model import Evidence, Finding, Severity
from ..wording import duration

MONGO = {"mongo"}
PRIVILEGED_ROLES = ("root", "dbOwner", "clusterAdmin")


def _section(snapshot: Snapshot) -> MongoSection | None:
    return snapshot.mongo if snapshot.reachable else None


@rule(engines=MONGO)
def mongo_authorization_disabled(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    cmdline = section.cmdline if section else None
    if cmdline is None or cmdline.authorization is not False:
        return
    yield Finding(
        id="mongo.authorization_disabled", rule="mongo.authorization_disabled", area="security",
        severity=Severity.CRITICAL, title="Authorization is disabled: anyone who reaches the port is an administrator",
        evidence=[Evidence(subject="security.authorization", detail="not enabled (getCmdLineOpts)")],
        impact="Every client that can open a connection can read, change or drop every database.",
        fix="Create an administrator, then set security.authorization: enabled (and a keyFile or x.509 between "
            "members) and restart each member in turn.")


@rule(engines=MONGO)
def mongo_not_replica_set(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if snapshot.server is None or snapshot.server.replica_set is not None:
        return
    yield Finding(
        id="mongo.not_replica_set", rule="mongo.not_replica_set", area="availability", severity=Severity.HIGH,
        title="Not a replica set: a single point of failure",
        evidence=[Evidence(subject="hello", detail="no setName: a standalone mongod")],
        impact="When this server or its disk fails, the service is down until it is rebuilt, and there is no "
               "oplog for point-in-time recovery.",
        fix="Convert it to a three-member replica set (replication.replSetName, rs.initiate(), rs.add()).")


@rule(engines=MONGO)
def mongo_few_voting_members(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    if section is None or section.voting_members is None:
        return
    minimum = int(t.get("mongo.voting_members_min", 3))
    if section.voting_members >= minimum:
        return
    yield Finding(
        id="mongo.few_voting_members", rule="mongo.few_voting_members", area="availability", severity=Severity.HIGH,
        title=f"Only {section.voting_members} voting member(s): the set cannot survive a member's loss",
        evidence=[Evidence(subject="votingMembersCount", detail=f"{section.voting_members} (wanted ≥ {minimum})")],
        impact="With fewer than three voting members, losing one leaves no majority: no primary is elected "
               "and writes stop.",
        fix="Add data-bearing members (or, at least, an arbiter) until three or more vote.")


@rule(engines=MONGO)
def mongo_replication_lag(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    rep = snapshot.replication
    if rep is None:
        return
    limit = t.get("mongo.replication_lag_s", 10)
    lagging = [(s.application or str(s.pid), s.replay_lag_s) for s in rep.standbys
               if s.replay_lag_s is not None and s.replay_lag_s > limit]
    if rep.receiver is not None and rep.receiver.replay_lag_s is not None and rep.receiver.replay_lag_s > limit:
        lagging.append(("this member", rep.receiver.replay_lag_s))
    if not lagging:
        return
    worst = max(lag for _, lag in lagging)
    yield Finding(
        id="mongo.replication_lag", rule="mongo.replication_lag", area="availability",
        severity=Severity.CRITICAL if worst > 6 * limit else Severity.HIGH,
        title=f"Replication lag {duration(worst)} (over {duration(limit)})",
        evidence=[Evidence(subject=name, detail=f"{duration(lag)} behind the primary") for name, lag in lagging[:5]],
        impact="A failover to a lagging member loses the writes it has not applied; reads from it are stale, and "
               "majority writes wait.",
        fix="Look at the secondary's load, disk and network (rs.printSecondaryReplicationInfo()); heavy writes "
            "or an index build on the primary are common causes.")


@rule(engines=MONGO)
def mongo_connections(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    used = snapshot.connections_used
    total = snapshot.server.max_connections if snapshot.server else None
    if used is None or not total:
        return
    ratio = used / total
    if ratio * 100 < t.get("mongo.connections_pct", 80):
        return
    yield Finding(
        id="mongo.connections", rule="mongo.connections", area="capacity",
        severity=Severity.CRITICAL if ratio >= 0.95 else Severity.HIGH,
        title=f"Connections at {ratio:.0%} of the total the server accepts",
        evidence=[Evidence(subject="serverStatus.connections", detail=f"current {used} of {total} (current + available)")],
        impact="When none is left, new clients are refused: the application fails to connect.",
        fix="Find who holds them (currentOp by appName and client); size the drivers' maxPoolSize; raise "
            "net.maxIncomingConnections or the open files limit only with memory to spare.")


@rule(engines=MONGO)
def mongo_disk(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    fraction = section.disk_used_fraction if section else None
    if fraction is None or fraction * 100 < t.get("mongo.disk_pct", 85):
        return
    worst = max((d for d in section.databases or [] if d.fs_used_size is not None and d.fs_total_size),
                key=lambda d: d.fs_used_size / d.fs_total_size)
    yield Finding(
        id="mongo.disk", rule="mongo.disk", area="capacity",
        severity=Severity.CRITICAL if fraction >= 0.95 else Severity.HIGH,
        title=f"Data disk {fraction:.0%} full",
        evidence=[Evidence(subject="dbStats fsUsedSize/fsTotalSize",
                           detail=f"{worst.fs_used_size} of {worst.fs_total_size} bytes (database {worst.name})")],
        impact="When the disk fills, mongod stops accepting writes and may shut down.",
        fix="Grow the volume, or free space (drop unused collections and indexes; compact reclaims only with "
            "care on a secondary first).")


@rule(engines=MONGO)
def mongo_memory(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    if section is None or section.resident_mb is None or not section.host_memory_mb:
        return
    ratio = section.resident_mb / section.host_memory_mb
    if ratio * 100 < t.get("mongo.memory_pct", 90):
        return
    yield Finding(
        id="mongo.memory", rule="mongo.memory", area="capacity", severity=Severity.HIGH,
        title=f"mongod's resident memory is {ratio:.0%} of the host's",
        evidence=[Evidence(subject="mem.resident", detail=f"{section.resident_mb} MB of {section.host_memory_mb} MB")],
        impact="The file system cache is starved and the kernel may kill mongod when memory runs out.",
        fix="Check storage.wiredTiger.engineConfig.cacheSizeGB (default half of RAM minus 1 GB), other processes "
            "on the host, and the connection count (each costs about 1 MB).")


@rule(engines=MONGO)
def mongo_lock_waits(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    queued = section.global_lock.queue_total if section and section.global_lock else None
    waiting = snapshot.blocking.locks
    queue_limit = t.get("mongo.lock_queue", 10)
    if not waiting and (queued is None or queued < queue_limit):
        return
    evidence = [Evidence(subject=f"opid {lock.pid}", detail=f"waits {duration(lock.wait_s)} for a {lock.locktype} "
                                                            f"lock ({lock.mode}) on {lock.relation or '?'}")
                for lock in waiting[:5]]
    if queued is not None:
        evidence.append(Evidence(subject="globalLock.currentQueue.total", detail=str(queued)))
    longest = max((lock.wait_s or 0 for lock in waiting), default=0)
    yield Finding(
        id="mongo.lock_waits", rule="mongo.lock_waits", area="performance",
        severity=Severity.HIGH if longest >= 30 or (queued or 0) >= queue_limit else Severity.MEDIUM,
        title=f"{len(waiting)} operation(s) waiting for a lock" + (f", {queued} queued" if queued else ""),
        evidence=evidence,
        impact="Operations queue behind an exclusive lock (an index build, a collMod, a long write): latency grows "
               "and connections pile up.",
        fix="Find the operation holding the lock in currentOp (an exclusive W lock on the namespace, running "
            "longest) and let it finish or stop it.")


@rule(engines=MONGO)
def mongo_oplog_window(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    window = section.oplog.window_s if section and section.oplog else None
    minimum = t.get("mongo.oplog_window_s", 24 * 3600)
    if window is None or window >= minimum:
        return
    yield Finding(
        id="mongo.oplog_window", rule="mongo.oplog_window", area="availability",
        severity=Severity.CRITICAL if window < minimum / 8 else Severity.HIGH,
        title=f"The oplog holds only {duration(window)} of writes",
        evidence=[Evidence(subject="local.oplog.rs", detail=f"first {section.oplog.first_at:%Y-%m-%d %H:%M}, last "
                                                            f"{section.oplog.last_at:%Y-%m-%d %H:%M}")],
        impact="A secondary down for longer than the window cannot catch up and needs a full initial sync.",
        fix="Grow the oplog (replSetResizeOplog, or storage.oplogMinRetentionHours) on every member.")


@rule(engines=MONGO)
def mongo_long_operations(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    limit = t.get("mongo.long_operation_s", 60)
    query_s = snapshot.query_s
    long = sorted((s for s in snapshot.sessions if s.state == "active" and (query_s(s) or 0) > limit
                   and s.backend_type == "client backend"), key=lambda s: -(query_s(s) or 0))
    if not long:
        return
    yield Finding(
        id="mongo.long_operations", rule="mongo.long_operations", area="performance", severity=Severity.MEDIUM,
        title=f"{len(long)} operation(s) running over {duration(limit)}",
        evidence=[Evidence(subject=f"opid {s.pid}", detail=f"{duration(query_s(s))} on {s.database or '?'} "
                                                           f"({s.application or '?'})") for s in long[:5]],
        impact="Long operations hold resources (cache, tickets, sometimes locks) and often mean a missing index.",
        fix="Look at its plan (explain('executionStats')); add the index it needs, or stop it with killOp.")


@rule(engines=MONGO)
def mongo_collection_scans(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    scans = [s for s in snapshot.statements.entries if s.collection_scan]
    if not scans:
        return
    yield Finding(
        id="mongo.collection_scans", rule="mongo.collection_scans", area="performance", severity=Severity.MEDIUM,
        title=f"{len(scans)} slow operation kind(s) scan a whole collection (COLLSCAN)",
        evidence=[Evidence(subject=s.database or "?", detail=f"{s.calls} call(s), mean {s.mean_time_ms:.0f} ms: "
                                                             f"{(s.query or '')[:120]}") for s in scans[:5]],
        impact="A collection scan reads every document: its cost grows with the collection and evicts the cache.",
        fix="Create an index on the filtered (and sorted) fields; check the plan with explain().")


@rule(engines=MONGO)
def mongo_tls(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    section = _section(snapshot)
    cmdline = section.cmdline if section else None
    if cmdline is None or cmdline.tls_mode not in (None, "disabled"):
        return
    everywhere = cmdline.listens_everywhere
    yield Finding(
        id="mongo.tls", rule="mongo.tls", area="security",
        severity=Severity.HIGH if everywhere else Severity.MEDIUM,
        title="TLS is disabled" + (" and the server listens on every address" if everywhere else ""),
        evidence=[Evidence(subject="net.tls.mode", detail=cmdline.tls_mode or "not set"),
                  Evidence(subject="net.bindIp", detail="bindIpAll" if cmdline.bind_ip_all
                           else ", ".join(cmdline.bind_ip) or "not set")],
        impact="Credentials and data cross the network in clear text" + (
            ", from any network that can reach the host." if everywhere else "."),
        fix="Set net.tls.mode: requireTLS with a certificate (preferTLS first while clients move), and bind only "
            "the addresses clients use.")


@rule(engines=MONGO)
def mongo_privileged_users(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    """Application users: users defined in an application's database, or seen running operations from an
    application (appName other than the shell's), holding root, dbOwner or clusterAdmin."""
    section = _section(snapshot)
    if section is None or section.users is None:
        return
    applications = {s.user for s in snapshot.sessions if s.user and s.application
                    and not s.application.startswith(("mongosh", "MongoDB Shell", "dbtop"))}
    flagged = [u for u in section.users
               if any(role.split("@", 1)[0] in PRIVILEGED_ROLES for role in u.roles)
               and (u.db not in ("admin", "$external") or u.user in applications)]
    if not flagged:
        return
    yield Finding(
        id="mongo.privileged_users", rule="mongo.privileged_users", area="security", severity=Severity.HIGH,
        title=f"{len(flagged)} application user(s) hold root, dbOwner or clusterAdmin",
        evidence=[Evidence(subject=f"{u.user}@{u.db}", detail=", ".join(u.roles)) for u in flagged[:5]],
        impact="A bug or an injection in the application can drop databases, change users or reconfigure the "
               "cluster.",
        fix="Give each application readWrite on its own database (or a custom role), and keep administrative roles "
            "for people.")


@rule(engines=MONGO)
def mongo_no_verified_backup(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    backups = snapshot.backups
    if backups is None:
        return
    where = Evidence(subject="backup inventory", detail=f"{len(backups.entries)} backup(s) in {backups.directory or '?'}")
    age = (snapshot.taken_at - backups.newest_verified_at).total_seconds() if backups.newest_verified_at else None
    if age is not None and age <= backups.rpo_s:
        return
    yield Finding(
        id="mongo.no_verified_backup", rule="mongo.no_verified_backup", area="backup",
        severity=Severity.CRITICAL if age is None else Severity.HIGH,
        title="No verified backup" if age is None else
        f"Newest verified backup is {duration(age)} old, beyond the RPO of {duration(backups.rpo_s)}",
        evidence=[where, Evidence(subject="RPO", detail=duration(backups.rpo_s))],
        impact="Nothing proves this data can be restored after a lost disk, a bad deploy or a dropped collection.",
        fix="Take a backup and verify it (mongorestore --dryRun at least; a restore into a scratch server is the "
            "real proof); schedule both.",
        statement="mongodump --archive=<backup_dir>/<name>-<timestamp>.archive.gz --gzip --oplog")


@cache
def mongo_versions() -> dict:
    text = resources.files("dbtop.findings").joinpath("data/mongo_versions.toml").read_text()
    return tomllib.loads(text)


def _release(major: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in major.split("."))
    except ValueError:
        return (0,)


@rule(engines=MONGO)
def mongo_version_eol(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    if snapshot.server is None:
        return
    major = ".".join(snapshot.server.version.split(".")[:2])
    versions = mongo_versions()["versions"]
    known = versions.get(major)
    oldest = min(versions, key=_release)
    if known is None and _release(major) < _release(oldest):  # older than every release the table lists
        known, when = versions[oldest], f"before {versions[oldest]['eol']:%Y-%m-%d} (when {oldest} did)"
    elif known is not None:
        when = f"on {known['eol']:%Y-%m-%d}"
    if known is None or snapshot.taken_at.date() < known["eol"]:
        return
    yield Finding(
        id="mongo.version_eol", rule="mongo.version_eol", area="technology", severity=Severity.HIGH,
        title=f"MongoDB {major} reached its end of life {when}",
        evidence=[Evidence(subject="buildInfo.version", detail=f"{snapshot.server.version}; EOL {known['eol']}")],
        impact="No more bug or security fixes for this release.",
        fix="Upgrade one major release at a time (feature compatibility version first), secondaries before the "
            "primary.")
