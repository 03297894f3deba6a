"""Access: pg_hba rules that trust remote addresses, and remote clients without SSL."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ...engines.snapshot import HbaRule, Snapshot
from ..engine import Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity


def _local_only(hba: HbaRule) -> bool:
    address = (hba.address or "").strip()
    if hba.type == "local" or address in ("samehost", "localhost"):
        return True
    try:
        network = ipaddress.ip_network(address if "/" in address or not hba.netmask else
                                       f"{address}/{hba.netmask}", strict=False)
    except ValueError:
        return False  # a host name or samenet: other machines
    return network.is_loopback


@rule
def hba_trust_remote(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "hba_rules")
    for hba in catalog.hba_rules if catalog else []:
        if hba.auth_method != "trust" or hba.error or _local_only(hba):
            continue
        where = f"{hba.address or '?'}" + (f" {hba.netmask}" if hba.netmask else "")
        yield Finding(
            id=f"security.hba_trust_remote:{hba.line_number}", rule="security.hba_trust_remote", area="security",
            severity=Severity.CRITICAL,
            title=f"pg_hba.conf line {hba.line_number} trusts {where} without a password",
            evidence=[Evidence(subject=f"pg_hba.conf line {hba.line_number}",
                               detail=f"{hba.type} {','.join(hba.database)} {','.join(hba.user_name)} {where} trust")],
            impact="Anyone who can reach the server from those addresses logs in as any role it names, superusers "
                   "included, with no password.",
            fix="Replace trust with scram-sha-256 (and hostssl) for every non-local line, then reload.",
            statement="-- in pg_hba.conf: change `trust` to `scram-sha-256` on that line, then:\nSELECT pg_reload_conf();")


@rule
def insecure_connections(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "insecure_connections")
    clients = catalog.insecure_connections if catalog else []
    if not clients:
        return
    yield Finding(
        id="security.insecure_connection", rule="security.insecure_connection", area="security",
        severity=Severity.HIGH,
        title=f"{len(clients)} client(s) from other machines connected without SSL",
        evidence=[Evidence(subject=f"pid {c.pid}", detail=f"{c.user or '?'} from {c.client or '?'} "
                                                          f"({c.application or 'no application_name'})")
                  for c in clients[:10]],
        impact="Their queries, results and (with md5 or password auth) credentials cross the network in clear text.",
        fix="Turn ssl on and use hostssl lines (and hostnossl … reject) in pg_hba.conf; set sslmode=require or "
            "verify-full in the clients.")
