"""Configuration files read line by line (`.env*`, `alembic.ini`, settings modules, docker-compose files,
Prisma schemas): the literal values they give, the database URLs they hold, and the checks on those URLs
that are about PostgreSQL (driver, TLS)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from ..model import Evidence, Finding, Severity
from .database_urls import DatabaseUrl, find_urls, is_interpolated

ConfigKind = Literal["env", "ini", "settings", "compose", "prisma"]

EXAMPLE_NAME = re.compile(r"(^|[._-])(example|sample|template|dist|tmpl)([._-]|$)", re.IGNORECASE)
COMPOSE_NAME = re.compile(r"(docker-)?compose[\w.-]*\.ya?ml")
SETTINGS_NAME = re.compile(r"(settings|settings_\w+|config)\.py")
SYNC_SCHEMES = frozenset({"postgres", "postgresql", "postgresql+psycopg2", "postgresql+pg8000"})

ENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<value>.*)$")
INI_LINE = re.compile(r"^\s*(?P<name>[A-Za-z_][\w.-]*)\s*[=:]\s*(?P<value>.*)$")
YAML_ITEM = re.compile(r"^\s*-\s*(?P<q>[\"']?)(?P<name>[A-Za-z_][A-Za-z0-9_.]*)=(?P<value>.*?)(?P=q)\s*(#.*)?$")
YAML_KEY = re.compile(r"^\s*[\"']?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*:(?:\s+(?P<value>.*))?$")
PY_LITERAL = r"(?:(?P<q>[\"'])(?P<text>.*?)(?P=q)|(?P<number>\d+)\b)"
PY_PATTERNS = (
    re.compile(rf"^\s*(?P<name>[A-Za-z_]\w*)\s*(?::[^=]+)?=\s*{PY_LITERAL}"),         # NAME = "x" / name: str = "x"
    re.compile(rf"[\"'](?P<name>[A-Za-z_]\w*)[\"']\s*:\s*{PY_LITERAL}"),              # "PASSWORD": "x"
    re.compile(rf"\b(?P<name>[a-z_]\w*)\s*=\s*{PY_LITERAL}\s*[,)]"),                   # pool_size=20 in a call
    re.compile(rf"(?:getenv|environ\.get|env|config)\(\s*[\"'](?P<name>\w+)[\"']\s*,\s*(?:default\s*=\s*)?"
               rf"{PY_LITERAL}"),                                                       # getenv("X", "default")
)
COMMENT_PREFIX: dict[str, str | tuple[str, ...]] = {"env": "#", "ini": ("#", ";"), "settings": "#", "compose": "#", "prisma": "//"}


def config_kind(path: str) -> ConfigKind | None:
    """Which kind of configuration file `path` (relative, posix) is, if any."""
    p = PurePosixPath(path)
    name = p.name
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return "env"
    if name == "alembic.ini":
        return "ini"
    if SETTINGS_NAME.fullmatch(name) or (p.parent.name == "settings" and name.endswith(".py")):
        return "settings"
    if COMPOSE_NAME.fullmatch(name):
        return "compose"
    if name == "schema.prisma":
        return "prisma"
    return None


@dataclass(frozen=True)
class Assignment:
    """A name given a literal value (never `${VAR}`) on one line of a configuration file."""

    name: str
    value: str = field(repr=False)
    location: str
    service: str | None = None  # the docker-compose service it configures


@dataclass(frozen=True)
class UrlMention:
    """A database URL on one line; `commented` when the line is a comment (still a leaked password,
    but not the configuration in use)."""

    url: DatabaseUrl
    location: str
    commented: bool = False
    service: str | None = None


@dataclass
class ComposeServices:
    """What a docker-compose file says about its services: names, replicas, build directories."""

    names: set[str] = field(default_factory=set)
    replicas: dict[str, int] = field(default_factory=dict)
    build_dirs: dict[str, str] = field(default_factory=dict)  # directory relative to the root -> service


@dataclass
class ConfigFile:
    """One configuration file as read: its literal assignments and database URLs."""

    path: str
    kind: ConfigKind
    example: bool
    tracked: bool | None = None  # None: not in a git work tree
    assignments: list[Assignment] = field(default_factory=list)
    urls: list[UrlMention] = field(default_factory=list)
    compose: ComposeServices | None = None


def read_config_file(path: str, kind: ConfigKind, text: str, *, tracked: bool | None) -> ConfigFile:
    config = ConfigFile(path=path, kind=kind, example=bool(EXAMPLE_NAME.search(PurePosixPath(path).name)),
                        tracked=tracked)
    services = _read_compose(path, text, config) if kind == "compose" else {}
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path}:{number}"
        commented = line.lstrip().startswith(COMMENT_PREFIX[kind])
        service = services.get(number)
        config.urls += [UrlMention(url, where, commented, service) for url in find_urls(line)]
        if commented or kind in ("prisma", "compose"):
            continue  # compose assignments come from environment blocks only (_read_compose)
        for name, value in dict(_assignments(kind, line)).items():
            if _is_literal_value(value):
                config.assignments.append(Assignment(name, value, where))
    return config


def _is_literal_value(value: str) -> bool:
    """A non-empty value written out in the file: not filled in elsewhere and not a database URL."""
    return bool(value) and not is_interpolated(value) and not find_urls(value)


def _assignments(kind: ConfigKind, line: str) -> list[tuple[str, str]]:
    if kind == "settings":
        found = []
        for pattern in PY_PATTERNS:
            for m in pattern.finditer(line):
                found.append((m.group("name"), m.group("text") if m.group("q") else m.group("number")))
        return found
    m = (ENV_LINE if kind == "env" else INI_LINE).match(line)
    if not m:
        return []
    return [(m.group("name"), _env_value(m.group("value")) if kind == "env" else m.group("value").strip())]


def _env_value(raw: str) -> str:
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        return raw[1:end] if end > 0 else raw[1:]
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def _read_compose(path: str, text: str, config: ConfigFile) -> dict[int, str]:
    """A careful line reader for docker-compose (no YAML parser is installed): services, their
    `environment:` entries, `deploy.replicas`/`scale` and build directories. Returns line -> service."""
    services = ComposeServices()
    owner: dict[int, str] = {}
    base = PurePosixPath(path).parent
    in_services = False
    service: str | None = None
    service_indent: int | None = None
    env_indent: int | None = None  # indentation of the `environment:` key while inside its block
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if service:
                owner[number] = service
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_services, service, service_indent, env_indent = stripped.startswith("services:"), None, None, None
            continue
        if not in_services:
            continue
        if service_indent is None or indent <= service_indent:
            service_indent, service, env_indent = indent, stripped.rstrip(":").strip("\"'"), None
            services.names.add(service)
            owner[number] = service
            continue
        owner[number] = service
        if env_indent is not None and indent <= env_indent:
            env_indent = None
        key = YAML_KEY.match(line)
        if env_indent is not None:
            entry = YAML_ITEM.match(line) or key
            if entry and entry.group("value"):
                value = _env_value(entry.group("value"))
                if _is_literal_value(value):
                    config.assignments.append(Assignment(entry.group("name"), value, f"{path}:{number}", service))
            continue
        if not key:
            continue
        name, value = key.group("name"), _env_value(key.group("value") or "")
        if name == "environment" and not value:
            env_indent = indent
        elif name in ("replicas", "scale") and value.isdigit():
            services.replicas[service] = int(value)
        elif name in ("build", "context") and value and not is_interpolated(value):
            services.build_dirs[str(base / value).removeprefix("./").rstrip("/") or "."] = service
    config.compose = services
    return owner


def driver_findings(config: ConfigFile) -> list[Finding]:
    """PostgreSQL URLs naming a synchronous driver; the caller runs this only for applications on
    SQLAlchemy's async engine over asyncpg, where those URLs fail or block the event loop."""
    found = []
    for mention in config.urls:
        url = mention.url
        if mention.commented or url.scheme not in SYNC_SCHEMES:
            continue
        found.append(Finding(
            id=f"project.config.sync_url:{mention.location}", rule="project.config.sync_url", area="architecture",
            severity=Severity.HIGH, title=f"Synchronous database URL in an asyncpg application ({mention.location})",
            evidence=[Evidence(subject=url.masked, detail=f"scheme {url.scheme}://, the application runs SQLAlchemy's "
                               "async engine on asyncpg", location=mention.location)],
            impact="The async engine refuses it (\"The loaded 'psycopg2' is not async\"), or a synchronous driver is "
                   "loaded and blocks the event loop on every query.",
            fix="Write postgresql+asyncpg:// for the application's engine; keep a synchronous URL only where "
                "synchronous code (a sync Alembic env.py) reads it.",
            source="project"))
    return found


def tls_findings(config: ConfigFile, private_names: set[str]) -> list[Finding]:
    """PostgreSQL URLs to another machine without a TLS parameter (or with TLS turned off)."""
    found = []
    for mention in config.urls:
        url = mention.url
        if mention.commented or url.is_mongo or url.postgres_tls or url.is_local(private_names) is not False:
            continue
        written = "=".join(param) if (param := url.first_param("sslmode", "ssl", "tls")) else None
        found.append(Finding(
            id=f"project.config.no_tls:{mention.location}", rule="project.config.no_tls", area="security",
            severity=Severity.MEDIUM,
            title=f"Database URL to {', '.join(url.hosts)} without TLS ({mention.location})",
            evidence=[Evidence(subject=url.masked, detail=f"{written} turns TLS off" if written else
                               "no sslmode/ssl parameter", location=mention.location)],
            impact="libpq's default (prefer) falls back to clear text silently and asyncpg's does not verify the "
                   "server: passwords and data can be read or redirected on the way.",
            fix="Add sslmode=verify-full (libpq, psycopg, Prisma) or ssl=verify-full (asyncpg) with the server's CA, "
                "or at least sslmode=require.",
            source="project"))
    return found
