"""False alarms and contradictions (issue 16): each case is a regression test on a snapshot built here,
and the default-cluster case is also checked on a real server."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from dbtop.engines.snapshot import Catalog, HbaRule, PartStatus, ServerInfo, Snapshot
from dbtop.findings.engine import Thresholds, evaluate
from dbtop.findings.hba import prefix_length
from dbtop.findings.model import Severity
from dbtop.findings.scores import AuditContext, score

NOW = datetime.now(timezone.utc)
FULL_MASK_V6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def server(**settings: str) -> ServerInfo:
    return ServerInfo(engine="postgres", version="15.18", version_num=150018, database="d", current_user="u",
                      settings=settings)


def snapshot(catalog: Catalog | None = None, **fields) -> Snapshot:
    fields.setdefault("server", server())
    return Snapshot(sequence=1, taken_at=NOW, target="t", engine="postgres", reachable=True, catalog=catalog,
                    parts={"sessions": PartStatus()}, **fields)


def catalog(**sections) -> Catalog:
    return Catalog(read_at=NOW, objects_cap=2000, **sections)


def findings(snap: Snapshot, **thresholds: float) -> dict[str, object]:
    found, failures = evaluate(snap, Thresholds({k.replace("__", "."): v for k, v in thresholds.items()}))
    assert not failures, failures
    return {f.id: f for f in found}


def checklist(snap: Snapshot, **thresholds: float) -> dict[str, object]:
    found, _ = evaluate(snap, Thresholds({k.replace("__", "."): v for k, v in thresholds.items()}))
    return {item.item: item for area in score(found, AuditContext(snapshot=snap)).areas for item in area.checklist}


def host(line: int, address: str | None, netmask: str | None = None, method: str = "trust", **extra) -> HbaRule:
    return HbaRule(line_number=line, type="host", database=["all"], user_name=["all"], address=address,
                   netmask=netmask, auth_method=method, **extra)


# pg_hba_file_rules of a cluster made by `initdb` with its defaults (trust everywhere), as PostgreSQL 15 prints it
INITDB_DEFAULT = [
    HbaRule(line_number=89, type="local", database=["all"], user_name=["all"], auth_method="trust"),
    host(91, "127.0.0.1", "255.255.255.255"),
    host(93, "::1", FULL_MASK_V6),
    HbaRule(line_number=96, type="local", database=["replication"], user_name=["all"], auth_method="trust"),
    host(97, "127.0.0.1", "255.255.255.255"),
    host(98, "::1", FULL_MASK_V6),
]


def hba_ids(snap: Snapshot) -> list[str]:
    return [i for i in findings(snap) if i.startswith("security.hba")]


# -- pg_hba: netmasks, loopback, the server's own addresses, lines that cannot be read ----------

def test_initdb_default_loopback_lines_raise_nothing():
    snap = snapshot(catalog(hba_rules=INITDB_DEFAULT))
    assert hba_ids(snap) == []
    item = checklist(snap)["No trust authentication for remote addresses"]
    assert item.status == "done"


@pytest.mark.parametrize(("address", "netmask", "shown"), [
    ("10.0.0.0", "255.0.0.0", "10.0.0.0/8"),
    ("0.0.0.0", "0.0.0.0", "0.0.0.0/0"),
    ("192.168.1.0", "255.255.255.0", "192.168.1.0/24"),
    ("2001:db8::", "ffff:ffff::", "2001:db8::/32"),
    ("::", "::", "::/0"),
    ("fe80::1", "ffff:ffff:ffff:ffff::", "fe80::1/64"),   # link-local: other machines on the link
    ("0.0.0.0/0", None, "0.0.0.0/0"),                      # a prefix in the address, as written in the file
    ("10.0.0.0", "255.0.255.0", "10.0.0.0 mask 255.0.255.0"),  # not contiguous, and the server takes it
    ("all", None, "all"),
    ("samenet", None, "samenet"),
    (".example.com", None, ".example.com"),
    ("db-client.example.com", None, "db-client.example.com"),
])
def test_remote_trust_in_every_form_the_server_prints_is_critical(address, netmask, shown):
    snap = snapshot(catalog(hba_rules=[*INITDB_DEFAULT, host(100, address, netmask)]))
    assert hba_ids(snap) == ["security.hba_trust_remote:100"]
    finding = findings(snap)["security.hba_trust_remote:100"]
    assert finding.severity == Severity.CRITICAL and f"trusts {shown} " in finding.title


@pytest.mark.parametrize(("address", "netmask"), [
    ("127.0.0.1", "255.255.255.255"),
    ("127.0.0.0", "255.0.0.0"),
    ("127.0.0.0", "255.0.0.255"),                # not contiguous, yet every address it admits is 127.x.x.x
    ("::1", FULL_MASK_V6),
    ("::1", "128"),
    ("::ffff:127.0.0.1", FULL_MASK_V6),          # IPv4 loopback as an IPv6 socket sees it
    ("::1/128", None),
    ("samehost", None),
    ("localhost", None),
])
def test_loopback_in_every_form_is_local(address, netmask):
    assert hba_ids(snapshot(catalog(hba_rules=[host(100, address, netmask)]))) == []


def test_the_servers_own_address_is_local():
    line = host(100, "10.1.2.3", "255.255.255.255")
    reached = snapshot(catalog(hba_rules=[line], server_addresses=["10.1.2.3", "localhost"]))
    assert hba_ids(reached) == []
    elsewhere = snapshot(catalog(hba_rules=[line], server_addresses=["*", "10.1.2.4"]))
    assert hba_ids(elsewhere) == ["security.hba_trust_remote:100"]
    # the whole subnet of the server's address admits other machines
    subnet = snapshot(catalog(hba_rules=[host(100, "10.1.2.0", "255.255.255.0")], server_addresses=["10.1.2.3"]))
    assert hba_ids(subnet) == ["security.hba_trust_remote:100"]


@pytest.mark.parametrize("line", [
    host(100, "10.0.0.1", "255.255.0.x"),
    host(100, "10.0.0.1", FULL_MASK_V6),         # an IPv6 mask on an IPv4 address
    host(100, "not a host!", None),
    host(100, "10.0.0.1", None),
    HbaRule(line_number=100, type="", error='invalid CIDR mask in address "10.0.0.1/33"'),
])
def test_a_line_that_cannot_be_read_is_not_checked_never_critical(line):
    snap = snapshot(catalog(hba_rules=[*INITDB_DEFAULT, line]))
    found = findings(snap)
    assert not [i for i in found if i.startswith("security.hba_trust_remote")]
    info = found["security.hba_not_checked"]
    assert info.severity == Severity.INFO and "line 100" in info.title
    item = checklist(snap)["No trust authentication for remote addresses"]
    assert item.status == "not checked" and "pg_hba.conf line 100" in item.note


def test_a_line_that_cannot_be_read_with_another_method_is_not_reported():
    snap = snapshot(catalog(hba_rules=[host(100, "10.0.0.1", "garbage", method="scram-sha-256")]))
    assert hba_ids(snap) == []
    assert checklist(snap)["No trust authentication for remote addresses"].status == "done"


def test_netmasks_become_prefix_lengths():
    assert prefix_length("255.255.255.255", 4) == 32
    assert prefix_length("255.255.240.0", 4) == 20
    assert prefix_length("0.0.0.0", 4) == 0
    assert prefix_length(FULL_MASK_V6, 6) == 128
    assert prefix_length("ffff:ffff:ffff:ffff::", 6) == 64
    assert prefix_length("::", 6) == 0
    assert prefix_length("24", 4) == 24
    assert prefix_length("255.0.255.0", 4) is None     # not contiguous
    assert prefix_length("33", 4) is None
    assert prefix_length(FULL_MASK_V6, 4) is None      # wrong family


async def test_a_cluster_made_with_initdb_defaults_raises_no_pg_hba_finding(start_cluster):
    from .test_rules_catalog import catalog_snapshot

    cluster = start_cluster(initdb_auth=True)
    hba = (cluster.data_dir / "pg_hba.conf").read_text()
    assert "::1/128                 trust" in hba  # what the issue saw: initdb's IPv6 loopback line, trusted
    snap = await catalog_snapshot(cluster, "postgres")
    assert "hba_rules" not in snap.postgres.catalog.gaps and len(snap.postgres.catalog.hba_rules) >= 6
    assert "127.0.0.1" in snap.postgres.catalog.server_addresses  # listen_addresses of the suite's clusters
    assert hba_ids(snap) == []
    item = checklist(snap)["No trust authentication for remote addresses"]
    assert item.status == "done"


# -- checklists agree with the findings, whatever area a finding is filed under ------------------

def test_a_superuser_application_undoes_the_architecture_item_and_counts_there():
    from dbtop.engines.snapshot import RoleFacts, Session

    snap = snapshot(catalog(roles=[RoleFacts(name="app", superuser=True, can_login=True)]),
                    sessions=[Session(pid=7, user="app", application="web", backend_type="client backend")])
    found = findings(snap)
    assert found["security.application_superuser:app"].area == "security"
    areas = {a.area: a for a in score(list(found.values()), AuditContext(snapshot=snap)).areas}
    [item] = [i for i in areas["architecture"].checklist if i.item == "Applications use a non-superuser role"]
    assert item.status == "not done" and "security.application_superuser" in item.note
    assert "Security and access" in item.note
    assert areas["architecture"].level == 2  # the High finding decides here too, not a 5 beside an open box
    assert "security.application_superuser:app" in areas["architecture"].finding_ids


def test_level_once_fixed_counts_findings_filed_under_other_areas():
    from dbtop.engines.snapshot import RoleFacts, Session, TableFacts
    from dbtop.findings.scores import level_without

    scratch = TableFacts(schema_name="public", name="scratch", size_bytes=8192, live_rows=1, dead_rows=0,
                         has_primary_key=True, index_count=1, unlogged=True)
    snap = snapshot(catalog(roles=[RoleFacts(name="app", superuser=True, can_login=True)], tables=[scratch]),
                    sessions=[Session(pid=7, user="app", backend_type="client backend")])
    found = list(findings(snap).values())
    unlogged = next(f for f in found if f.rule == "schema.unlogged_table")
    assert unlogged.area == "architecture"
    # fixing the unlogged table leaves the architecture item a superuser application undoes
    assert level_without(found, unlogged, AuditContext(snapshot=snap)) == 2


SCRAM = "Passwords are hashed with SCRAM"


def test_scram_item_is_not_done_while_a_stored_password_is_md5():
    snap = snapshot(catalog(md5_password_roles=["legacy"]), server=server(password_encryption="scram-sha-256"))
    found = findings(snap)
    md5 = found["security.md5_stored_password"]
    assert md5.severity == Severity.MEDIUM and md5.evidence[0].subject == "legacy"
    assert "\\password legacy" in md5.statement
    item = checklist(snap)[SCRAM]
    assert item.status == "not done" and "security.md5_stored_password" in item.note


def test_scram_item_is_not_checked_on_the_setting_alone():
    unread = snapshot(catalog(), server=server(password_encryption="scram-sha-256"))
    item = checklist(unread)[SCRAM]
    assert item.status == "not checked" and "stored password hashes were not read" in item.note
    why = "reading stored password hashes (pg_authid) needs a superuser"
    denied = snapshot(catalog(gaps={"md5_password_roles": why}), server=server(password_encryption="scram-sha-256"))
    assert checklist(denied)[SCRAM].note == why and checklist(denied)[SCRAM].status == "not checked"
    clean = snapshot(catalog(md5_password_roles=[]), server=server(password_encryption="scram-sha-256"))
    assert checklist(clean)[SCRAM].status == "done"
    assert "security.md5_stored_password" not in findings(clean)


def test_an_info_finding_does_not_lift_an_area_above_what_was_checked():
    snap = snapshot(catalog(hba_rules=[host(100, "10.0.0.1", "garbage")]))
    security = next(a for a in score(list(findings(snap).values()), AuditContext(snapshot=snap)).areas
                    if a.area == "security")
    assert "security.hba_not_checked" in security.finding_ids
    assert security.level == 4  # an item is not checked: 4 at best, Info finding or not


async def test_stored_md5_password_on_a_real_server(start_cluster):
    from .test_rules_catalog import catalog_snapshot

    cluster = start_cluster()
    cluster.psql("SET password_encryption = 'md5'; CREATE ROLE legacy LOGIN PASSWORD 'old-secret';"
                 "SET password_encryption = 'scram-sha-256'; CREATE ROLE modern LOGIN PASSWORD 'new-secret';"
                 "CREATE ROLE watcher LOGIN IN ROLE pg_monitor")
    snap = await catalog_snapshot(cluster, "postgres")
    assert snap.server.settings["password_encryption"] == "scram-sha-256"
    assert snap.postgres.catalog.md5_password_roles == ["legacy"]
    assert findings(snap)["security.md5_stored_password"].evidence[0].subject == "legacy"
    assert checklist(snap)[SCRAM].status == "not done"
    limited = await catalog_snapshot(cluster, "postgres", user="watcher")
    assert limited.postgres.catalog.md5_password_roles is None and "superuser" in limited.postgres.catalog.gaps["md5_password_roles"]
    assert checklist(limited)[SCRAM].status == "not checked"


# -- a session waiting on a lock is counted under its root blocker, not as a long query ------------

def lock_pileup() -> Snapshot:
    from dbtop.engines.blocking import build_blocking
    from dbtop.engines.snapshot import Lock, Session

    sessions = [
        Session(pid=1, user="batch", state="idle in transaction", state_s=10, xact_s=200, query_s=200,
                backend_type="client backend", query="UPDATE items SET v = 1 WHERE id = 1"),
        Session(pid=2, user="web", state="active", wait_event_type="Lock", wait_event="transactionid",
                query_s=120, blocked_by=[1], backend_type="client backend", query="UPDATE items SET v = 2 WHERE id = 1"),
        Session(pid=3, user="web", state="active", wait_event_type="Lock", wait_event="tuple",
                query_s=90, blocked_by=[2], backend_type="client backend", query="UPDATE items SET v = 3 WHERE id = 1"),
        Session(pid=4, user="report", state="active", query_s=95, backend_type="client backend",
                query="SELECT count(*) FROM big"),
    ]
    # the waits began 5 s ago (the queries ran for a while before they reached the row)
    locks = [Lock(pid=1, locktype="transactionid", mode="ExclusiveLock", granted=True),
             Lock(pid=2, locktype="transactionid", mode="ShareLock", granted=False, wait_s=5),
             Lock(pid=3, locktype="tuple", mode="ExclusiveLock", granted=False, wait_s=4)]
    return snapshot(sessions=sessions, blocking=build_blocking(sessions, locks))


def test_a_session_waiting_on_a_lock_is_not_a_long_query_to_cancel():
    found = findings(lock_pileup())
    long_query = found["connections.long_query"]
    assert [e.subject for e in long_query.evidence] == ["pid 4"]
    assert long_query.statement == "SELECT pg_cancel_backend(4);"
    assert "1 query running" in long_query.title


def test_lock_waiters_over_the_long_query_limit_are_counted_under_their_root_blocker():
    found = findings(lock_pileup())  # waits of 5 s: under the 30 s blocking threshold, queries over 60 s
    blocker = found["connections.root_blocker:1"]
    assert blocker.statement == "SELECT pg_terminate_backend(1);"
    assert "blocked 2 session(s)" in blocker.title
    subjects = [e.subject for e in blocker.evidence]
    assert subjects[:3] == ["pid 1", "pid 2", "pid 3"]
    assert "waiting behind pid 1, in its query for 2m00s" in blocker.evidence[1].detail
    # nothing over either threshold: nothing to say
    assert "connections.root_blocker:1" not in findings(lock_pileup(), connections__long_query_s=600)


async def test_lock_waiters_on_a_real_server_point_at_the_blocker(pg, sessions):
    from .conftest import open_lock_chain
    from .test_rules_live import snapshot_of

    chain = await open_lock_chain(sessions, "waiters_probe")
    try:
        await asyncio.sleep(1.2)
        snap = await snapshot_of(pg, "postgres")
        found, failures = evaluate(snap, Thresholds({"connections.long_query_s": 1}))
        assert not failures
        by_id = {f.id: f for f in found}
        waiters = {f"pid {chain.pid('middle')}", f"pid {chain.pid('tail')}"}
        long_query = by_id.get("connections.long_query")
        assert long_query is None or not waiters & {e.subject for e in long_query.evidence}
        blocker = by_id[f"connections.root_blocker:{chain.pid('holder')}"]
        assert waiters <= {e.subject for e in blocker.evidence}
        assert blocker.statement == f"SELECT pg_terminate_backend({chain.pid('holder')});"
    finally:
        await chain.release()


# -- a fix statement never recreates the failure it reports ----------------------------------------

def invalid_index(**fields) -> Snapshot:
    from dbtop.engines.snapshot import IndexFacts

    values = dict(schema_name="public", table="accounts", name="accounts_email_key", method="btree",
                  definition="CREATE UNIQUE INDEX accounts_email_key ON public.accounts USING btree "
                             "(tenant, lower(email)) WHERE (deleted_at IS NULL)",
                  key_columns=[2, 0], has_expressions=True, predicate="(deleted_at IS NULL)", is_unique=True,
                  is_primary=False, is_valid=False, size_bytes=8192, key_expressions=["tenant", "lower(email)"])
    values.update(fields)
    return snapshot(catalog(indexes=[IndexFacts(**values)]))


def executable(statement: str) -> list[str]:
    return [line for line in statement.splitlines() if line.strip() and not line.lstrip().startswith("--")]


def test_rebuilding_an_invalid_unique_index_first_lists_the_duplicate_keys():
    finding = findings(invalid_index())["indexes.invalid:public.accounts_email_key"]
    [query] = executable(finding.statement)
    assert query.startswith("SELECT tenant, lower(email), count(*) AS copies FROM public.accounts WHERE ")
    assert "(tenant) IS NOT NULL AND (lower(email)) IS NOT NULL AND ((deleted_at IS NULL))" in query
    assert "GROUP BY 1, 2 HAVING count(*) > 1" in query
    assert "-- CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key" in finding.statement
    assert "duplicate keys" in finding.fix


def test_an_invalid_unique_index_without_its_key_expressions_still_does_not_rebuild():
    finding = findings(invalid_index(key_expressions=None))["indexes.invalid:public.accounts_email_key"]
    assert executable(finding.statement) == []


def test_nulls_not_distinct_duplicates_include_nulls_and_a_plain_index_is_rebuilt():
    definition = "CREATE UNIQUE INDEX k ON public.accounts USING btree (tenant) NULLS NOT DISTINCT"
    [query] = executable(findings(invalid_index(name="k", definition=definition, key_expressions=["tenant"],
                                                predicate=None))["indexes.invalid:public.k"].statement)
    assert " WHERE " not in query
    plain = findings(invalid_index(name="i", is_unique=False, predicate=None, key_expressions=None,
                                   definition="CREATE INDEX i ON public.accounts USING btree (tenant)"))
    assert executable(plain["indexes.invalid:public.i"].statement) == [
        "DROP INDEX CONCURRENTLY public.i;", "CREATE INDEX CONCURRENTLY i ON public.accounts USING btree (tenant);"]


async def test_running_the_whole_fix_of_an_invalid_unique_index_builds_no_invalid_index(pg):
    from dbtop.engines.postgres.cluster import ClusterError

    from .test_rules_catalog import catalog_snapshot

    db = "false_alarms_invalid"
    pg.psql(f"DROP DATABASE IF EXISTS {db}")
    pg.psql(f"CREATE DATABASE {db}")
    try:
        pg.psql("CREATE TABLE accounts (id int, tenant int, email text, deleted_at timestamptz);"
                "INSERT INTO accounts VALUES (1, 1, 'A@x', NULL), (2, 1, 'a@x', NULL), (3, 1, 'a@x', now()),"
                " (4, NULL, 'b@x', NULL), (5, NULL, 'b@x', NULL), (6, 2, 'a@x', NULL);", db)
        with pytest.raises(ClusterError):
            pg.psql("CREATE UNIQUE INDEX CONCURRENTLY accounts_email_key ON accounts (tenant, lower(email)) "
                    "WHERE deleted_at IS NULL", db)
        invalid = "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
        assert pg.psql(invalid, db) == "1"
        snap = await catalog_snapshot(pg, db)
        finding = findings(snap)["indexes.invalid:public.accounts_email_key"]
        out = pg.psql(finding.statement, db)  # the whole text, as an operator would paste it
        assert out.splitlines() == ["1|a@x|2"]  # the duplicate key; not the NULL tenants, not the deleted row
        assert pg.psql(invalid, db) == "1"  # no second INVALID index, no error
    finally:
        pg.psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
