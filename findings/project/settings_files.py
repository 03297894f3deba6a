"""Environment and configuration files: database passwords, secrets committed to git, connection
URLs (driver, TLS), pool sizes, MongoDB URIs. Secrets are never copied into a finding: a finding says
where a secret is and how long it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict

from ..model import Area, Evidence, Finding, Severity

DEFAULT_PASSWORDS = {"change_me", "changeme", "change-me", "postgres", "password", "passw0rd", "secret", "admin",
                     "root", "123456", "12345678", "test", "example", "mysecretpassword", "pass", "dbpass"}
MIN_PASSWORD_LENGTH = 12
EXAMPLE_FILE = re.compile(r"\.(example|sample|template|dist|tmpl)$|example", re.IGNORECASE)
URL = re.compile(r"(?P<url>(?:postgres(?:ql)?(?:\+[a-z0-9_]+)?|mongodb(?:\+srv)?)://[^\s'\"<>`]+)", re.IGNORECASE)
ASSIGNMENT = re.compile(r"^\s*(?:-\s*)?(?:export\s+)?[\"']?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)[\"']?\s*[:=]\s*"
                        r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s#,]*)")
DICT_PASSWORD = re.compile(r"[\"']PASSWORD[\"']\s*:\s*(?P<value>\"[^\"]*\"|'[^']*')")
PASSWORD_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|PWD)$", re.IGNORECASE)
SECRET_NAME = re.compile(r"(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|SECRET_KEY|PRIVATE_KEY)$", re.IGNORECASE)
INDIRECT = re.compile(r"^\$\{?|^<|^%\(|^env\(|^os\.environ|^os\.getenv|^\{\{|^\*+$|^$")
POOL_SETTING = re.compile(r"\b(?P<name>pool_size|max_overflow|max_size|POOL_SIZE|POOL_MAX|DB_POOL_SIZE|DB_POOL_MAX|"
                          r"DATABASE_POOL_SIZE|MAX_POOL_SIZE|SQLALCHEMY_POOL_SIZE|SQLALCHEMY_MAX_OVERFLOW)"
                          r"[\"']?\s*[:=]\s*[\"']?(?P<value>\d+)")
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0", "host.docker.internal"}


class PoolSetting(BaseModel):
    """A connection pool size found in a file, for the service that file configures."""

    model_config = ConfigDict(frozen=True)

    service: str
    setting: str
    size: int
    location: str


@dataclass
class SettingsScan:
    findings: list[Finding] = field(default_factory=list)
    pools: list[PoolSetting] = field(default_factory=list)
    uses_asyncpg: bool = False


def is_settings_file(path: Path) -> bool:
    name = path.name
    return (name == ".env" or name.startswith(".env.") or name.endswith(".env") or name == "alembic.ini"
            or name == "settings.py" or name.startswith("settings_") and name.endswith(".py")
            or re.fullmatch(r"(docker-)?compose[\w.-]*\.ya?ml", name) is not None or name == "schema.prisma")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _mask_url(url: str) -> tuple[str, str | None]:
    """The URL with its password replaced by ***, and the password (for checks, never shown)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl(), parts.password


def _host(url: str) -> str:
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    hosts = netloc.rsplit("@", 1)[-1]
    first = hosts.split(",")[0]
    if first.startswith("["):
        return first.split("]")[0] + "]"
    return first.split(":")[0].lower()


def compose_services(text: str) -> dict[int, str]:
    """The compose service each line belongs to (by indentation under `services:`)."""
    owner: dict[int, str] = {}
    in_services, service_indent, current = False, None, "compose"
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            owner[number] = current
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_services = stripped.startswith("services:")
            service_indent, current = None, "compose"
        elif in_services and (service_indent is None or indent == service_indent) and stripped.endswith(":"):
            service_indent, current = indent, stripped[:-1].strip("'\"")
        owner[number] = current
    return owner


def scan_settings(path: Path, rel: str, text: str, *, tracked: bool | None, async_app: bool,
                  async_migrations: bool, compose_names: set[str], service: str) -> SettingsScan:
    scan = SettingsScan()
    example = bool(EXAMPLE_FILE.search(path.name))
    services = compose_services(text) if "compose" in path.name else {}
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{number}"
        line_service = services.get(number, service)
        for match in URL.finditer(line):
            _check_url(scan, match.group("url").rstrip(",;)"), where, path, example, tracked, async_app,
                       async_migrations, compose_names)
        assignment = ASSIGNMENT.match(line)
        candidates = []
        if assignment and not URL.search(assignment.group("value")):
            candidates.append((assignment.group("name"), _unquote(assignment.group("value"))))
        for match in DICT_PASSWORD.finditer(line):
            candidates.append(("PASSWORD", _unquote(match.group("value"))))
        for name, value in candidates:
            if INDIRECT.search(value):
                continue
            if PASSWORD_NAME.search(name):
                _check_password(scan, name, value, where, example)
            if SECRET_NAME.search(name) and tracked and not example:
                scan.findings.append(_secret_finding(name, value, where))
        for match in POOL_SETTING.finditer(line):
            scan.pools.append(PoolSetting(service=line_service, setting=match.group("name"),
                                          size=int(match.group("value")), location=where))
    return scan


def _check_password(scan: SettingsScan, name: str, value: str, where: str, example: bool) -> None:
    weak = value.lower() in DEFAULT_PASSWORDS
    short = len(value) < MIN_PASSWORD_LENGTH
    if not (weak or short):
        return
    why = "a well-known default" if weak else f"shorter than {MIN_PASSWORD_LENGTH} characters"
    scan.findings.append(Finding(
        id=f"project.config.weak_password:{where}", rule="project.config.weak_password", area="security",
        severity=Severity.MEDIUM if example else Severity.CRITICAL,
        title=f"{'Example file sets' if example else 'Weak database password in'} {name} ({why})"
              + ("" if example else f" at {where}"),
        evidence=[Evidence(subject=name, detail=f"*** ({len(value)} characters, {why})", location=where)],
        impact=("Copied into real environments, example defaults become real passwords." if example else
                "A default or short password is the first thing an attacker tries; with network access to the "
                "database it is a login."),
        fix="Generate a long random password, keep it in a secret store (not in the repository), and rotate the "
            "current one.",
        source="project"))


def _secret_finding(name: str, value: str, where: str) -> Finding:
    return Finding(
        id=f"project.secrets.committed:{where}", rule="project.secrets.committed", area="security",
        severity=Severity.HIGH,
        title=f"Secret {name} is committed to the repository ({where})",
        evidence=[Evidence(subject=name, detail=f"*** ({len(value)} characters) in a file tracked by git",
                           location=where)],
        impact="Everyone with the repository (and its history, forks and CI logs) has the secret.",
        fix="Rotate the secret now, remove it from the file (read it from the environment or a secret store), and "
            "add the file to .gitignore; the old value stays in git history.",
        source="project")


def _check_url(scan: SettingsScan, url: str, where: str, path: Path, example: bool, tracked: bool | None,
               async_app: bool, async_migrations: bool, compose_names: set[str]) -> None:
    masked, password = _mask_url(url)
    scheme = url.split("://", 1)[0].lower()
    host = _host(url)
    try:
        query = {k.lower(): v for k, v in parse_qs(urlsplit(url).query).items()}
    except ValueError:
        query = {}
    local = host in LOCAL_HOSTS or host.startswith("/") or host in compose_names or host.startswith("$")
    if password is not None and not INDIRECT.search(password):
        _check_password(scan, "a database URL", password, where, example)
        if tracked and not example:
            scan.findings.append(_secret_finding("password in URL", password, where))
    if scheme.startswith("mongodb"):
        _check_mongo(scan, masked, scheme, url, query, where, local)
        return
    sync = scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "postgresql+pg8000")
    checks_async = async_app and (path.name != "alembic.ini" or async_migrations)
    if sync and checks_async:
        scan.findings.append(Finding(
            id=f"project.config.sync_url:{where}", rule="project.config.sync_url", area="architecture",
            severity=Severity.HIGH,
            title=f"Synchronous database URL in an asyncpg application ({where})",
            evidence=[Evidence(subject=masked, detail=f"scheme {scheme}://, the application uses asyncpg",
                               location=where)],
            impact="SQLAlchemy's async engine refuses it (\"The loaded 'psycopg2' is not async\"), or a sync "
                   "driver gets loaded and blocks the event loop on every query.",
            fix="Use postgresql+asyncpg:// for the application's engine (keep a sync URL only where sync code, "
                "such as a sync Alembic env.py, needs it).",
            source="project"))
    if not local and not ({"sslmode", "ssl", "tls"} & set(query)):
        scan.findings.append(Finding(
            id=f"project.config.no_tls:{where}", rule="project.config.no_tls", area="security",
            severity=Severity.MEDIUM,
            title=f"Database URL to {host} sets no TLS mode ({where})",
            evidence=[Evidence(subject=masked, detail="no sslmode/ssl parameter", location=where)],
            impact="libpq's default (prefer) falls back to clear text silently, and asyncpg's does not verify the "
                   "server: credentials and data can be read or redirected on the path.",
            fix="Add sslmode=verify-full (libpq) or ssl=verify-full (asyncpg) with the CA, or at least "
                "sslmode=require.",
            source="project"))


def _check_mongo(scan: SettingsScan, masked: str, scheme: str, url: str, query: dict, where: str, local: bool) -> None:
    parts = urlsplit(url)
    if parts.username is None and "authsource" not in query and "authmechanism" not in query:
        scan.findings.append(Finding(
            id=f"project.mongo.no_credentials:{where}", rule="project.mongo.no_credentials", area="security",
            severity=Severity.HIGH, title=f"MongoDB URI without credentials ({where})",
            evidence=[Evidence(subject=masked, detail="no user in the URI", location=where)],
            impact="Either the server runs without authentication, or the application cannot log in.",
            fix="Enable authentication on the server and give the application its own user (from a secret store).",
            source="project"))
    tls = scheme == "mongodb+srv" or any(query.get(k, [""])[0].lower() == "true" for k in ("tls", "ssl"))
    if not tls and not local:
        scan.findings.append(Finding(
            id=f"project.mongo.no_tls:{where}", rule="project.mongo.no_tls", area="security", severity=Severity.MEDIUM,
            title=f"MongoDB URI to a remote host without TLS ({where})",
            evidence=[Evidence(subject=masked, detail="no tls=true", location=where)],
            impact="Queries, documents and credentials cross the network in clear text.",
            fix="Add tls=true (and the CA) to the URI.", source="project"))
    if "maxpoolsize" not in query:
        scan.findings.append(Finding(
            id=f"project.mongo.pool_unset:{where}", rule="project.mongo.pool_unset", area="capacity",
            severity=Severity.LOW, title=f"MongoDB URI leaves maxPoolSize at the driver default ({where})",
            evidence=[Evidence(subject=masked, detail="no maxPoolSize", location=where)],
            impact="Each client process may open 100 connections per server: many processes add up to the "
                   "server's connection limit.",
            fix="Set maxPoolSize to what one process needs, knowing how many processes run.", source="project"))


def pool_findings(pools: list[PoolSetting], max_connections: int | None, area: Area = "capacity") -> list[Finding]:
    """Pool sizes summed over the services that share the database, against its max_connections."""
    if max_connections is None or not pools:
        return []
    by_service: dict[str, int] = {}
    for pool in pools:  # pool_size + max_overflow is what one service may open
        by_service[pool.service] = by_service.get(pool.service, 0) + pool.size
    total = sum(by_service.values())
    if total <= max_connections:
        return []
    return [Finding(
        id="project.config.pool_oversubscribed", rule="project.config.pool_oversubscribed", area=area,
        severity=Severity.HIGH,
        title=f"Connection pools add up to {total}, over the database's max_connections {max_connections}",
        evidence=[Evidence(subject=service, detail=f"up to {size} connections",
                           location=next(p.location for p in pools if p.service == service))
                  for service, size in sorted(by_service.items(), key=lambda i: -i[1])],
        impact="Under load the pools open more connections than the server accepts: requests fail with "
               "\"too many clients\", and the operator's own superuser slots are the only way in.",
        fix="Size each pool to its share of max_connections (leaving room for admin and replication), or put "
            "PgBouncer in front and point the pools at it.",
        source="project")]
