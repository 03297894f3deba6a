"""Connection pool sizes found in configuration and code, per service, summed against the server's
max_connections."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..model import Evidence, Finding, Severity
from .config_files import ConfigFile

# Variables and settings that size a pool. The bare names are matched case-sensitively: MAX_SIZE alone is
# more often an upload limit than a pool.
POOL_VARIABLE = re.compile(r"(?:\w+_)?(POOL_SIZE|POOL_MAX(_SIZE)?|MAX_POOL_SIZE|MAX_OVERFLOW|POOL_MAX_CONNS)",
                           re.IGNORECASE)
POOL_KEYWORDS = frozenset({"pool_size", "max_overflow", "max_size", "maxPoolSize", "connection_limit"})
URL_PARAMETERS = {"connection_limit": "connection_limit", "maxpoolsize": "maxPoolSize"}
POOL_IN_CODE = re.compile(r"\b(?P<name>pool_size|max_overflow|max_size|maxPoolSize)\s*=\s*(?P<value>\d+)\b")
POOL_CONSTRUCTOR = re.compile(r"create_pool|ConnectionPool|AsyncConnectionPool")


class PoolSetting(BaseModel):
    """One pool size found: the service it sizes, the setting, its value for one instance, and how many
    instances of the service docker-compose runs."""

    model_config = ConfigDict(frozen=True)

    service: str
    setting: str
    size: int
    location: str
    engine: Literal["postgresql", "mongodb"] = "postgresql"
    replicas: int = 1


def is_pool_setting(name: str) -> bool:
    return name in POOL_KEYWORDS or POOL_VARIABLE.fullmatch(name) is not None


def _engine(name: str) -> Literal["postgresql", "mongodb"]:
    return "mongodb" if "mongo" in name.lower() or name == "maxPoolSize" else "postgresql"


def pools_in_config(config: ConfigFile, service_for: Callable[[str], str]) -> list[PoolSetting]:
    """Pool sizes in a configuration file: variables, settings, and URL parameters (Prisma's
    connection_limit, MongoDB's maxPoolSize). Example files size nothing."""
    if config.example:
        return []
    found = [PoolSetting(service=a.service or service_for(config.path), setting=a.name, size=int(a.value),
                         location=a.location, engine=_engine(a.name))
             for a in config.assignments if is_pool_setting(a.name) and a.value.isdigit()]
    for mention in config.urls:
        for key, setting in URL_PARAMETERS.items():
            value = mention.url.query.get(key, "")
            if value.isdigit() and not mention.commented:
                found.append(PoolSetting(service=mention.service or service_for(config.path), setting=setting,
                                         size=int(value), location=mention.location,
                                         engine="mongodb" if mention.url.is_mongo else "postgresql"))
    return found


def pools_in_code(path: str, text: str, service: str) -> list[PoolSetting]:
    """Literal pool sizes passed to create_engine / create_async_engine / asyncpg.create_pool /
    MongoClient. `max_size` counts only in files that build a pool (create_pool, psycopg's ConnectionPool)."""
    builds_pool = POOL_CONSTRUCTOR.search(text) is not None
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for m in POOL_IN_CODE.finditer(line):
            if m.group("name") == "max_size" and not builds_pool:
                continue
            found.append(PoolSetting(service=service, setting=m.group("name"), size=int(m.group("value")),
                                     location=f"{path}:{number}", engine=_engine(m.group("name"))))
    return found


def with_replicas(pools: list[PoolSetting], replicas: dict[str, int]) -> list[PoolSetting]:
    return [p.model_copy(update={"replicas": replicas.get(p.service, 1)}) for p in pools]


def per_instance(settings: list[PoolSetting]) -> tuple[int, str]:
    """The most connections one instance may open, and how that figure is made: pool_size + max_overflow, or a
    ceiling (max_size, connection_limit, POOL_MAX) when larger. Each kind counts once, at its largest, because one
    pool is often sized in several places (.env, compose, code, .env.production)."""
    largest: dict[str, PoolSetting] = {}
    for s in settings:
        kind = "max_overflow" if "overflow" in s.setting.lower() else \
            "max" if re.search(r"max|limit", s.setting, re.IGNORECASE) else "pool_size"
        if kind not in largest or s.size > largest[kind].size:
            largest[kind] = s
    base = largest.get("pool_size")
    overflow = largest.get("max_overflow")
    ceiling = largest.get("max")
    grown = (base.size if base else 0) + (overflow.size if overflow else 0)
    if ceiling and ceiling.size >= grown:
        return ceiling.size, f"{ceiling.setting} {ceiling.size}"
    parts = [f"{s.setting} {s.size}" for s in (base, overflow) if s]
    return grown, " + ".join(parts)


def pool_findings(pools: list[PoolSetting], max_connections: int | None) -> list[Finding]:
    """Pools summed over services against max_connections. max_connections is PostgreSQL's (that is what a
    dbtop audit reads), so MongoDB pools are summed only in a project that has no PostgreSQL pool."""
    if max_connections is None or not pools:
        return []
    engine = "postgresql" if any(p.engine == "postgresql" for p in pools) else "mongodb"
    by_service: dict[str, list[PoolSetting]] = {}
    for p in pools:
        if p.engine == engine:
            by_service.setdefault(p.service, []).append(p)
    shares = []
    for service, settings in by_service.items():
        size, how = per_instance(settings)
        replicas = settings[0].replicas
        how += f" per instance × {replicas} replicas" if replicas > 1 else ""
        shares.append((service, size * replicas, how, max(settings, key=lambda s: s.size).location))
    total = sum(share[1] for share in shares)
    if total <= max_connections:
        return []
    return [Finding(
        id="project.config.pool_oversubscribed", rule="project.config.pool_oversubscribed", area="capacity",
        severity=Severity.HIGH,
        title=f"Connection pools add up to {total}, over max_connections {max_connections}",
        evidence=[Evidence(subject=service, detail=f"{how} = {size} connections ({size * 100 // max_connections}% of "
                           f"max_connections)", location=where)
                  for service, size, how, where in sorted(shares, key=lambda s: (-s[1], s[0]))],
        impact="Under load the pools ask for more connections than the server accepts: requests fail with \"too "
               "many clients already\", and only the superuser's reserved slots are left to investigate.",
        fix="Size each pool to its share of max_connections (leaving room for administration, replication and "
            "migrations), or put PgBouncer in transaction mode in front and point the pools at it.",
        source="project")]
