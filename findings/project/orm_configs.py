"""What the ORMs and drivers are told outside database URLs: connection objects (Django's DATABASES,
Knex's knexfile, Sequelize's config.json, TypeORM's data sources) with a host and no TLS or a weak
password, and settings that change the schema or lose data when the application starts or deploys:
TypeORM `synchronize: true`, Sequelize `sync({ force: true })`, Prisma `db push --accept-data-loss`
or `migrate reset`, SQLAlchemy `echo=True` (statements and their parameters in the logs)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..model import Evidence, Finding, Severity
from .database_urls import DatabaseUrl, is_interpolated
from .secrets import shown, weakness

JS_SOURCE = re.compile(r".*\.(js|cjs|mjs|ts|cts|mts)$")
NOT_SOURCE = re.compile(r".*\.(min\.js|d\.ts)$")
ORM_FILE = re.compile(r"ormconfig\.(json|js|ts|ya?ml)|knexfile\.\w+|package\.json|Dockerfile[\w.-]*|Procfile|"
                      r"[\w.-]+\.sh|config\.json|database\.json")
CI_FILE = re.compile(r"\.(github/workflows|circleci|gitlab-ci)")

# A connection object's keys, in JS/TS/JSON (`host: "x"`, `"host": "x"`) or Python (`"HOST": "x"`).
KEY = r"[\"']?(?P<key>{names})[\"']?\s*[:=]\s*(?P<q>[\"'`])(?P<value>[^\"'`]*)(?P=q)"
HOST = re.compile(KEY.format(names="host|HOST"))
PASSWORD = re.compile(KEY.format(names="password|PASSWORD"))
USER = re.compile(KEY.format(names="user|username|USER"))
MAX_KEYS = 50
OBJECT_REACH = 4000  # characters either side of a key searched for its object's braces
POSTGRES_MARK = re.compile(r"postgres|\bpg\b|[\"']pg[\"']|django\.db\.backends\.postgresql", re.IGNORECASE)
TLS_MARK = re.compile(r"\bssl\w*|sslmode|\btls\b", re.IGNORECASE)

SYNCHRONIZE = re.compile(r"[\"']?synchronize[\"']?\s*:\s*true\b|TYPEORM_SYNCHRONIZE\s*=\s*[\"']?true", re.IGNORECASE)
SEQUELIZE_SYNC = re.compile(r"\.sync\(\s*\{[^}]*\b(?P<what>force|alter)\s*:\s*true")
PRISMA_LOSS = re.compile(r"prisma\s+(db\s+push\b[^\n\"']*--accept-data-loss|migrate\s+reset\b|db\s+push\b[^\n\"']*"
                         r"--force-reset)")
SQLALCHEMY_ECHO = re.compile(r"create_(async_)?engine\([^)]*\becho\s*=\s*True")


def is_js_source(rel: str) -> bool:
    """A JavaScript/TypeScript source file that is not itself an ORM's configuration (knexfile, ormconfig)."""
    name = PurePosixPath(rel).name
    return bool(JS_SOURCE.fullmatch(name) and not NOT_SOURCE.fullmatch(name) and not ORM_FILE.fullmatch(name))


def is_orm_file(rel: str) -> bool:
    """Files this module reads besides the Python ones the audit reads anyway."""
    p = PurePosixPath(rel)
    return bool(is_js_source(rel) or ORM_FILE.fullmatch(p.name) or (CI_FILE.search(rel) and p.suffix in (".yml", ".yaml")))


def is_test_source(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool({"tests", "test", "__tests__", "spec"} & set(p.parts[:-1])) or bool(
        re.search(r"(^test_|\.(test|spec)\.\w+$|^conftest\.py$)", p.name))


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _is_python_settings(rel: str, text: str) -> bool:
    return rel.endswith(".py") and "DATABASES" in text


def _enclosing(text: str, offset: int) -> tuple[int, int]:
    """The span of the innermost {…} around `offset`, looked for within OBJECT_REACH characters
    (brackets inside strings are not told apart: a heuristic for configuration objects, which are
    small and rarely hold any)."""
    depth, start = 0, max(0, offset - OBJECT_REACH)
    for i in range(offset - 1, max(-1, offset - OBJECT_REACH - 1), -1):
        if text[i] == "}":
            depth += 1
        elif text[i] == "{":
            if depth == 0:
                start = i
                break
            depth -= 1
    depth, end = 0, min(len(text), offset + OBJECT_REACH)
    for i in range(offset, end):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            if depth == 0:
                end = i + 1
                break
            depth -= 1
    return start, end


def _objects(text: str, offset: int) -> tuple[str, str]:
    """The object around `offset`, and that object with its parent (where Knex names the client)."""
    start, end = _enclosing(text, offset)
    parent = _enclosing(text, start) if start > 0 else (start, end)
    return text[start:end], text[parent[0]:parent[1]]


def connection_object_findings(rel: str, text: str, private_names: set[str]) -> list[Finding]:
    """Connection objects with a literal host on another machine and no TLS key; literal passwords
    in them that are defaults or short."""
    if not POSTGRES_MARK.search(text):
        return []
    lines = text.splitlines()
    found: list[Finding] = []
    # each key scans its enclosing object: a bundled file with thousands of `host:` keys is not configuration
    for m in list(HOST.finditer(text))[:MAX_KEYS]:
        number = _line(text, m.start())
        own, window = _objects(text, m.start())
        if not POSTGRES_MARK.search(window) or lines[number - 1].lstrip().startswith(("#", "//")):
            continue
        host = m.group("value").strip().lower()
        where = f"{rel}:{number}"
        url = DatabaseUrl(scheme="postgresql", username=None, password=None, hosts=(host,), query={},
                          masked=f"{m.group('key')}: {host}")
        if host and not is_interpolated(host) and url.is_local(private_names) is False and not TLS_MARK.search(own):
            found.append(Finding(
                id=f"project.config.no_tls:{where}", rule="project.config.no_tls", area="security",
                severity=Severity.MEDIUM, title=f"Connection settings for {host} without TLS ({where})",
                evidence=[Evidence(subject=url.masked, detail="a connection object with no ssl/sslmode key",
                                   location=where)],
                impact="Without a TLS setting the driver connects in clear text (node-postgres, Knex, Sequelize, "
                       "TypeORM) or falls back to it silently (libpq's prefer, Django): passwords and data can be "
                       "read or redirected on the way.",
                fix="Add the TLS setting with the server's CA: `ssl: { ca: …, rejectUnauthorized: true }` (node), "
                    "`'OPTIONS': {'sslmode': 'verify-full'}` (Django).",
                source="project"))
    for m in list(PASSWORD.finditer(text))[:MAX_KEYS]:
        password = m.group("value")
        number = _line(text, m.start())
        own, window = _objects(text, m.start())
        if not password or is_interpolated(password) or not POSTGRES_MARK.search(window):
            continue
        user = USER.search(own)
        why = weakness(password, user.group("value") if user else None)
        if why is None:
            continue
        where = f"{rel}:{number}"
        found.append(Finding(
            id=f"project.config.weak_password:{where}", rule="project.config.weak_password", area="security",
            severity=Severity.CRITICAL, title=f"Weak database password, {why} ({where})",
            evidence=[Evidence(subject=m.group("key"), detail=f"{shown(password)}, {why}", location=where)],
            impact="A default or short password is the first thing tried against a reachable database: it is a login.",
            fix="Generate a long random password, keep it in a secret store or the deployment's environment (not in "
                "the repository), and rotate the current one.",
            source="project"))
    return found


def _finding(rule: str, rel: str, text: str, offset: int, severity: Severity, title: str, detail: str,
             impact: str, fix: str, area: str = "migrations") -> Finding:
    where = f"{rel}:{_line(text, offset)}"
    return Finding(id=f"{rule}:{where}", rule=rule, area=area, severity=severity, title=f"{title} ({where})",
                   evidence=[Evidence(subject=PurePosixPath(rel).name, detail=detail, location=where)],
                   impact=impact, fix=fix, source="project")


def schema_at_startup_findings(rel: str, text: str) -> list[Finding]:
    """Settings that alter or drop the schema when the application starts or deploys."""
    if is_test_source(rel):
        return []
    found = []
    for m in SYNCHRONIZE.finditer(text):
        found.append(_finding(
            "project.orm.typeorm_synchronize", rel, text, m.start(), Severity.HIGH,
            "TypeORM synchronize is on", "synchronize: true",
            "At every start TypeORM alters the database to match the entities: a renamed property drops its column "
            "and its data, and the ALTERs take ACCESS EXCLUSIVE locks on live tables, unreviewed.",
            "Set synchronize: false outside local development and change the schema through migrations "
            "(typeorm migration:generate, reviewed, run at deploy)."))
    for m in SEQUELIZE_SYNC.finditer(text):
        force = m.group("what") == "force"
        found.append(_finding(
            "project.orm.sequelize_sync", rel, text, m.start(), Severity.HIGH if force else Severity.MEDIUM,
            f"Sequelize sync({{ {m.group('what')}: true }}) in application code", f"{m.group('what')}: true",
            "force drops and recreates every table the models name, with their rows, each time it runs; alter "
            "rewrites tables to match the models, dropping columns the models lost, under exclusive locks.",
            "Remove it from code that runs outside tests; use migrations (sequelize-cli db:migrate)."))
    for m in PRISMA_LOSS.finditer(text):
        found.append(_finding(
            "project.orm.prisma_data_loss", rel, text, m.start(), Severity.HIGH,
            "Prisma command that can drop data in a script or deploy step", m.group(0)[:80],
            "db push --accept-data-loss applies schema changes even when they drop columns or tables; migrate reset "
            "drops the whole database and recreates it. In a start script, Dockerfile or CI deploy step it runs "
            "against whatever DATABASE_URL points at, production included.",
            "Deploy with prisma migrate deploy (applies reviewed migrations, never resets); keep push and reset "
            "for local databases."))
    return found


def echo_findings(rel: str, text: str) -> list[Finding]:
    if is_test_source(rel):
        return []
    return [_finding(
        "project.orm.sqlalchemy_echo", rel, text, m.start(), Severity.LOW,
        "SQLAlchemy engine created with echo=True", "echo=True",
        "Every statement is logged with its parameters: personal data, password hashes and tokens end up in the "
        "application's logs and wherever they are shipped.",
        "Remove echo=True (or tie it to a debug setting that is off in production); if statements must be logged, "
        "pass hide_parameters=True.", area="security") for m in SQLALCHEMY_ECHO.finditer(text)]


def orm_findings(texts: dict[str, str], private_names: set[str]) -> list[Finding]:
    """The findings for the files read: `texts` by relative path (the audit's Python files and those
    `is_orm_file` selects)."""
    found: list[Finding] = []
    for rel, text in sorted(texts.items()):
        if is_test_source(rel):
            continue
        if not rel.endswith(".py") or _is_python_settings(rel, text):
            found += connection_object_findings(rel, text, private_names)
        if rel.endswith(".py"):
            found += echo_findings(rel, text)
        else:
            found += schema_at_startup_findings(rel, text)
    return found
