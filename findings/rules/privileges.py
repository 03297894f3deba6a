"""Privileges a DBA audits on a database handed over: SECURITY DEFINER functions open to search_path
hijacking, untrusted languages installed, schemas where anyone may create objects, row-level
policies that are not enforced, and more superusers than administration needs."""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.quoting import qualified, quote_ident
from ...engines.snapshot import Snapshot
from ..engine import CATALOG_ONLY, Thresholds, catalog_sections, rule
from ..model import Evidence, Finding, Severity
from ..wording import clean

EVIDENCE_LIMIT = 10


@rule(reads=CATALOG_ONLY)
def definer_without_search_path(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "definer_functions")
    functions = catalog.definer_functions if catalog else []
    if not functions:
        return
    yield Finding(
        id="security.definer_search_path", rule="security.definer_search_path", area="security",
        severity=Severity.HIGH,
        title=f"{len(functions)} SECURITY DEFINER function(s) without a fixed search_path",
        evidence=[Evidence(subject=f"{f.schema_name}.{f.name}({clean(f.arguments, 80)})",
                           detail=f"runs as {f.owner or '?'}; no SET search_path") for f in functions[:EVIDENCE_LIMIT]],
        impact="The function runs with its owner's rights but resolves names through the caller's search_path: "
               "a caller who can create an object (a function named like one it calls, an operator) in a schema "
               "earlier on the path runs their code as the owner, often a superuser.",
        fix="Pin the search_path of each (trusted schemas only, pg_temp last) and schema-qualify what they call.",
        statement="\n".join(f"ALTER FUNCTION {qualified(f.schema_name, f.name)}({f.arguments}) "
                            "SET search_path = pg_catalog, pg_temp;  -- add the schemas it needs, before pg_temp"
                            for f in functions[:EVIDENCE_LIMIT]))


@rule(reads=CATALOG_ONLY)
def untrusted_languages(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "untrusted_languages")
    languages = catalog.untrusted_languages if catalog else []
    if not languages:
        return
    yield Finding(
        id="security.untrusted_language", rule="security.untrusted_language", area="security",
        severity=Severity.MEDIUM,
        title=f"Untrusted procedural language(s) installed: {', '.join(clean(n, 40) for n in languages)}",
        evidence=[Evidence(subject=clean(name, 63), detail="pg_language.lanpltrusted = false") for name in languages],
        impact="Functions in an untrusted language run arbitrary code as the operating system user of the server "
               "(files, network, the data directory). Only superusers create them, but any such function with a "
               "bug, or any SQL injection reaching one, is a way out of the database.",
        fix="Drop the language if nothing uses it; otherwise review its functions and who may EXECUTE them.",
        statement="\n".join(f"DROP EXTENSION IF EXISTS {quote_ident(n)};  -- refused while functions use it"
                            for n in languages))


@rule(reads=CATALOG_ONLY)
def public_create_schemas(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "public_create_schemas")
    schemas = catalog.public_create_schemas if catalog else []
    if not schemas:
        return
    yield Finding(
        id="security.public_create", rule="security.public_create", area="security", severity=Severity.MEDIUM,
        title=f"Every role may create objects in schema(s) {', '.join(clean(s, 40) for s in schemas[:5])}",
        evidence=[Evidence(subject=f"schema {clean(s, 63)}", detail="PUBLIC has CREATE") for s in schemas[:EVIDENCE_LIMIT]],
        impact="Any role that can log in can plant a function or operator there that shadows one other roles call "
               "through their search_path, and have it run with their rights (CVE-2018-1058; PostgreSQL 15 "
               "revoked this default for new databases, not for upgraded ones).",
        fix="Revoke CREATE from PUBLIC and grant it to the roles that own the schema's objects.",
        statement="\n".join(f"REVOKE CREATE ON SCHEMA {quote_ident(s)} FROM PUBLIC;" for s in schemas[:EVIDENCE_LIMIT]))


@rule(reads=CATALOG_ONLY)
def policies_not_enforced(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "unenforced_policies")
    tables = catalog.unenforced_policies if catalog else []
    if not tables:
        return
    yield Finding(
        id="security.rls_not_enforced", rule="security.rls_not_enforced", area="security", severity=Severity.HIGH,
        title=f"{len(tables)} table(s) have row-level security policies that are not enforced",
        evidence=[Evidence(subject=f"{p.schema_name}.{p.table}", detail=f"{p.policies} polic{'y' if p.policies == 1 else 'ies'}; "
                                                                         "relrowsecurity = false")
                  for p in tables[:EVIDENCE_LIMIT]],
        impact="CREATE POLICY does nothing until row-level security is enabled on the table: every role with "
               "SELECT sees every row, whatever the policies say. Someone believes these rows are isolated.",
        fix="Enable row-level security (and FORCE it if the table's owner is the application's role); test the "
            "application's queries first: rows it relied on seeing may disappear.",
        statement="\n".join(f"ALTER TABLE {qualified(p.schema_name, p.table)} ENABLE ROW LEVEL SECURITY;"
                            for p in tables[:EVIDENCE_LIMIT]))


@rule(reads=CATALOG_ONLY)
def many_superusers(snapshot: Snapshot, t: Thresholds) -> Iterator[Finding]:
    catalog = catalog_sections(snapshot, "roles")
    supers = [r.name for r in (catalog.roles if catalog else []) if r.superuser and r.can_login]
    if len(supers) <= t.get("security.max_login_superusers", 2):
        return
    yield Finding(
        id="security.many_superusers", rule="security.many_superusers", area="security", severity=Severity.MEDIUM,
        title=f"{len(supers)} roles can log in as superuser",
        evidence=[Evidence(subject=clean(name, 63), detail="rolsuper and rolcanlogin") for name in supers[:EVIDENCE_LIMIT]],
        impact="Each is a full-power key to the server (files and programs included) whose password or "
               "certificate can leak; shared and forgotten ones are how breaches escalate.",
        fix="Keep one or two administrative superusers; give the others the predefined roles they need "
            "(pg_monitor, pg_read_all_data, pg_signal_backend) or ownership of their objects.",
        statement="-- for each that is not an administrator's, once it has what it needs:\n" + "\n".join(
            f"-- ALTER ROLE {quote_ident(name)} NOSUPERUSER;" for name in supers[:EVIDENCE_LIMIT]))
