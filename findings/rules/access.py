"""Access: pg_hba rules that trust remote addresses, and remote clients without SSL."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..hba import reaches, unchecked_trust_lines
from ..model import Evidence, Finding, Severity
from ..wording import clean


@rule(reads=CATALOG_ONLY)
def hba_trust_remote(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "hba_rules")
    for hba, judged in reaches(catalog) if catalog else []:
        if hba.auth_method != "trust" or judged.reach != "remote":
            continue
        where = judged.shown
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


@rule(reads=CATALOG_ONLY)
def hba_not_checked(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "hba_rules")
    unchecked = unchecked_trust_lines(catalog) if catalog else []
    if not unchecked:
        return
    numbers = ", ".join(str(hba.line_number) for hba, _ in unchecked)
    yield Finding(
        id="security.hba_not_checked", rule="security.hba_not_checked", area="security", severity=Severity.INFO,
        title=f"pg_hba.conf line{'s' if len(unchecked) > 1 else ''} {numbers} not checked for remote trust",
        evidence=[Evidence(subject=f"pg_hba.conf line {hba.line_number}", detail=clean(judged.why, 200))
                  for hba, judged in unchecked[:10]],
        impact="dbtop cannot tell whether these lines let other machines in without a password; a line the server "
               "could not read also means the file was not loaded at the last reload, so the rules in force may "
               "be older than the file.",
        fix="Read the lines in pg_hba.conf; correct what the server reports as an error and reload.")


@rule(reads=CATALOG_ONLY)
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
