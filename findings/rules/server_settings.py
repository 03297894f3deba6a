"""Security settings and the role applications connect as."""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter

from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, client_sessions, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean
from ...engines.quoting import quote_ident


@rule
def ssl_off(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = snapshot.server.settings if snapshot.server else {}
    if settings.get("ssl") != "off":
        return
    yield Finding(
        id="security.ssl_off", rule="security.ssl_off", area="security", severity=Severity.MEDIUM,
        title="SSL is off: connections are not encrypted",
        evidence=[Evidence(subject="ssl", detail="off")],
        impact="Every query and result crosses the network in clear text, readable by anyone on the path.",
        fix="Install a certificate and key, set ssl = on, and require hostssl in pg_hba.conf for remote clients.",
        statement="ALTER SYSTEM SET ssl = on;  -- after ssl_cert_file/ssl_key_file are in place\nSELECT pg_reload_conf();")


@rule
def md5_passwords(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    settings = snapshot.server.settings if snapshot.server else {}
    if settings.get("password_encryption") != "md5":
        return
    yield Finding(
        id="security.md5_password_encryption", rule="security.md5_password_encryption", area="security",
        severity=Severity.MEDIUM, title="Passwords are stored as MD5 hashes",
        evidence=[Evidence(subject="password_encryption", detail="md5")],
        impact="MD5 hashes are weak and replayable with the user name; MD5 is deprecated in PostgreSQL 18.",
        fix="Set password_encryption = scram-sha-256, re-set each role's password, then switch pg_hba.conf "
            "rules from md5 to scram-sha-256.",
        statement="ALTER SYSTEM SET password_encryption = 'scram-sha-256';\nSELECT pg_reload_conf();")


@rule(reads=CATALOG_ONLY)
def md5_stored_passwords(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "md5_password_roles")
    roles = (catalog.md5_password_roles or []) if catalog else []
    if not roles:
        return
    yield Finding(
        id="security.md5_stored_password", rule="security.md5_stored_password", area="security",
        severity=Severity.MEDIUM, title=f"{len(roles)} role(s) have their password stored as an MD5 hash",
        evidence=[Evidence(subject=clean(role, 63), detail="pg_authid.rolpassword is an MD5 hash")
                  for role in roles[:10]],
        impact="Whatever password_encryption says now, these passwords are MD5: weak, replayable with the user "
               "name, and refused once PostgreSQL drops MD5 (deprecated in 18).",
        fix="With password_encryption = scram-sha-256, set each role's password again (psql's \\password, so "
            "the password is not written to the server log), then switch pg_hba.conf lines from md5 to "
            "scram-sha-256.",
        statement="\n".join(f"\\password {quote_ident(role)}" for role in roles[:10]))


@rule(reads=("catalog", "clients"))
def application_role_is_superuser(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "roles")
    if catalog is None:
        return
    superusers = {r.name for r in catalog.roles if r.superuser}
    clients = client_sessions(snapshot)
    if superusers.isdisjoint(map(attrgetter("user"), clients)):
        return
    apps: dict[str, set[str]] = {}
    # (user, application) pairs picked in C: a thousand sessions of a superuser on every snapshot
    for user, application in set(map(attrgetter("user", "application"), clients)):
        if user in superusers:
            apps.setdefault(user, set()).add(application or "(no application_name)")
    for user, applications in sorted(apps.items()):
        yield Finding(
            id=f"security.application_superuser:{user}", rule="security.application_superuser", area="security",
            severity=Severity.HIGH,
            title=f"Clients connect as superuser {user}",
            evidence=[Evidence(subject=user, detail="superuser; used by " + ", ".join(
                clean(a, 40) for a in sorted(applications)[:10]))],
            impact="A superuser bypasses every permission and row-level policy: one SQL injection or bug can read, "
                   "change or drop anything, and run programs on the server (COPY … PROGRAM).",
            fix="Create a role with only the privileges the application needs, switch the application to it, and "
                "keep superuser for administration.",
            statement=f"CREATE ROLE app_rw LOGIN PASSWORD '…';\nGRANT CONNECT ON DATABASE … TO app_rw;\n"
                      f"-- then ALTER ROLE {quote_ident(user)} NOSUPERUSER once nothing needs it")
