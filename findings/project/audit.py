"""The static audit of an application repository: its files are read, never run or imported."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from ...engines.snapshot import Catalog
from ..engine import Thresholds
from ..model import Finding
from .alembic import AlembicChain, is_versions_directory, read_alembic_history
from .config_files import UrlMention, config_kind, driver_findings, read_config_file, tls_findings
from .django import django_findings, is_django_migration
from .migration_safety import migration_safety_findings
from .mongo_clients import auto_index_findings, client_calls, options_for_configured_urls
from .mongo_uris import mongo_findings, mongo_url_findings
from .orm_configs import is_js_source, is_orm_file, is_test_source, orm_findings
from .pools import PoolSetting, pool_findings, pools_in_code, pools_in_config, with_replicas
from .secrets import committed_secret_findings, weak_password_findings

SKIP_DIRECTORIES = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", "dist", "build", ".tox",
                              ".mypy_cache", ".pytest_cache", "site-packages"})
MAX_FILES = 5000
MAX_FILE_BYTES = 1_000_000
GIT_TIMEOUT_SECONDS = 10
DEPENDENCY_FILE = re.compile(r"requirements[\w.-]*\.(txt|in)|pyproject\.toml|Pipfile|setup\.cfg")
ASYNCPG_IN_CODE = re.compile(r"^\s*(import asyncpg|from asyncpg\b)|postgresql\+asyncpg", re.MULTILINE)
ASYNC_ENGINE = re.compile(r"create_async_engine|async_engine_from_config|sqlalchemy\.ext\.asyncio")
# Code that turns whatever URL it is given into an asyncpg one (`url.replace("postgresql://",
# "postgresql+asyncpg://")`, `make_url(url).set(drivername="postgresql+asyncpg")`): sync URLs are then fine.
URL_CONVERSION = re.compile(r"\.(replace|set)\(.*asyncpg|drivername\s*=\s*[\"']postgresql\+asyncpg")
ENV_PY_OWN_URL = re.compile(r"set_main_option\(\s*[\"']sqlalchemy\.url|create_async_engine\(|create_engine\(")


class ProjectAudit(BaseModel):
    """What the static audit of an application repository found: the findings, the files read, the Alembic
    history as it is, the pool sizes, and notes on what could not be read or judged."""

    model_config = ConfigDict(frozen=True)

    root: str
    findings: list[Finding] = Field(default_factory=list)
    files_read: list[str] = Field(default_factory=list, description="relative paths")
    alembic: AlembicChain | None = None
    pools: list[PoolSetting] = Field(default_factory=list)
    capped: bool = Field(default=False, description=f"more than {MAX_FILES} files to read: the rest were not read")
    in_git: bool = Field(default=False, description="a git work tree: committed secrets could be told apart")
    notes: list[str] = Field(default_factory=list)


def _wanted(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name.endswith(".py") or config_kind(rel) is not None or DEPENDENCY_FILE.fullmatch(name) is not None \
        or is_orm_file(rel)


def _walk(root: Path) -> tuple[list[str], dict[str, set[str]]]:
    """Files worth reading (relative, posix), and every directory's file names."""
    wanted: list[str] = []
    listing: dict[str, set[str]] = {}
    for directory, dirs, names in os.walk(root):
        # A virtualenv under any name (env/, .env311/) is recognised by its pyvenv.cfg.
        dirs[:] = [d for d in dirs if d not in SKIP_DIRECTORIES and not os.path.exists(os.path.join(directory, d,
                                                                                                     "pyvenv.cfg"))]
        rel_dir = Path(directory).relative_to(root).as_posix()
        listing[rel_dir] = set(names)
        wanted += [rel for name in names if _wanted(rel := str(PurePosixPath(rel_dir) / name))]
    # Configuration and dependency files first, so that a cap falls on Python files, then on JS/TS sources.
    return sorted(wanted, key=lambda rel: (is_js_source(rel) and config_kind(rel) is None,
                                           rel.endswith(".py") and config_kind(rel) is None, rel)), listing


def _tracked(root: Path) -> set[str] | None:
    """Files git tracks, relative to root; None when root is not in a git work tree (or git cannot tell)."""
    try:
        result = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True,
                                timeout=GIT_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return {name for name in result.stdout.decode(errors="replace").split("\0") if name}


def _read(root: Path, rel: str) -> str | None:
    path = root / rel
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(errors="replace")
    except OSError:
        return None


def _versions_directory(rel: str, listing: dict[str, set[str]]) -> str | None:
    for parent in PurePosixPath(rel).parents:
        if parent.name == "versions":
            return str(parent) if is_versions_directory(parent, listing.get(str(parent.parent), set())) else None
    return None


def _is_test(rel: str) -> bool:
    p = PurePosixPath(rel)
    return bool({"tests", "test"} & set(p.parts[:-1])) or p.name.startswith("test_") or p.name == "conftest.py"


def audit_project(root: Path, *, max_connections: int | None = None, catalog: Catalog | None = None,
                  thresholds: Thresholds | None = None) -> ProjectAudit:
    """Audit the application repository at `root` (read only). `max_connections` is the PostgreSQL server's:
    given, the pools found are summed against it. `catalog` is the audited database's: given, the migrations
    it has not applied are judged with their tables' live sizes."""
    root = root.resolve()
    candidates, listing = _walk(root)
    capped = len(candidates) > MAX_FILES
    notes = [f"{len(candidates)} files to read, over the cap of {MAX_FILES}: configuration files were read first, "
             f"then Python files in path order; {len(candidates) - MAX_FILES} were not read"] if capped else []
    texts: dict[str, str] = {}
    too_large: list[str] = []
    for rel in candidates[:MAX_FILES]:
        if (text := _read(root, rel)) is not None:
            texts[rel] = text
        elif (root / rel).is_file() and (root / rel).stat().st_size > MAX_FILE_BYTES:
            too_large.append(rel)
    if too_large:
        notes.append(f"{len(too_large)} files over {MAX_FILE_BYTES // 1_000_000} MB were not read: "
                     + ", ".join(too_large[:5]) + (", ..." if len(too_large) > 5 else ""))
    tracked = _tracked(root)
    if tracked is None:
        notes.append("not a git work tree: whether secrets are committed was not checked")
    python = {rel: text for rel, text in texts.items() if rel.endswith(".py")}

    findings: list[Finding] = []
    histories: dict[str, dict[str, str]] = {}
    for rel, text in python.items():
        if (directory := _versions_directory(rel, listing)) is not None:
            histories.setdefault(directory, {})[rel] = text
    in_versions = {rel for files in histories.values() for rel in files}
    chains: list[AlembicChain] = []
    chain_files: list[tuple[AlembicChain, dict[str, str]]] = []
    for directory, files in sorted(histories.items()):
        chain, found = read_alembic_history(directory, files)
        findings += found
        if chain.revisions:
            chains.append(chain)
            chain_files.append((chain, files))
    django_files = {rel: text for rel, text in python.items() if is_django_migration(rel)}
    findings += django_findings(django_files)
    found, migration_notes = migration_safety_findings(chain_files, django_files, catalog, thresholds or Thresholds())
    findings += found
    notes += migration_notes

    configs = [read_config_file(rel, kind, text, tracked=None if tracked is None else rel in tracked)
               for rel, text in texts.items() if (kind := config_kind(rel)) is not None]
    compose = [c.compose for c in configs if c.compose is not None]
    private_names = {name for c in compose for name in c.names}  # compose services: reachable on its network only
    build_dirs = {d: service for c in compose for d, service in c.build_dirs.items()}
    replicas = {name: n for c in compose for name, n in c.replicas.items()}

    def service_for(rel: str) -> str:
        """The compose service a file belongs to (by build directory, or a top directory named like the
        service); without docker-compose the repository is one service, so no figure counts twice."""
        for parent in PurePosixPath(rel).parents:
            if str(parent) in build_dirs and str(parent) != ".":
                return build_dirs[str(parent)]
        top = PurePosixPath(rel).parts[0]
        return top if top in private_names else root.name

    uses_asyncpg = any(re.search(r"\basyncpg\b", t) for rel, t in texts.items()
                       if DEPENDENCY_FILE.fullmatch(PurePosixPath(rel).name)) \
        or any(ASYNCPG_IN_CODE.search(t) for t in python.values()) \
        or any(m.url.scheme == "postgresql+asyncpg" for c in configs for m in c.urls)
    async_sqlalchemy = uses_asyncpg and any(ASYNC_ENGINE.search(t) for t in python.values()) \
        and not any(URL_CONVERSION.search(t) for t in python.values())
    # alembic.ini's URL matters only to an async env.py that does not build its own URL: a sync env.py
    # rightly reads a sync URL.
    env_pys = [python[p] for h in histories if (p := str(PurePosixPath(h).parent / "env.py")) in python]
    check_alembic_ini = not env_pys or any(ASYNC_ENGINE.search(t) and not ENV_PY_OWN_URL.search(t) for t in env_pys)

    sources = {rel: text for rel, text in texts.items() if (rel.endswith(".py") or is_js_source(rel))
               and config_kind(rel) is None and not _is_test(rel) and not is_test_source(rel) and rel not in in_versions}
    mongo_clients = [call for rel, text in sorted(sources.items()) for call in client_calls(rel, text)]
    code_options = options_for_configured_urls(mongo_clients)
    findings += mongo_url_findings([UrlMention(call.applied_to(call.url), call.location) for call in mongo_clients
                                    if call.url is not None], private_names)
    findings += auto_index_findings({rel: text for rel, text in sources.items() if is_js_source(rel)})

    pools: list[PoolSetting] = []
    for config in configs:
        findings += weak_password_findings(config) + committed_secret_findings(config)
        findings += tls_findings(config, private_names) + mongo_findings(config, private_names, code_options)
        if async_sqlalchemy and config.kind != "prisma" and (config.kind != "ini" or check_alembic_ini):
            findings += driver_findings(config)
        pools += pools_in_config(config, service_for)
    for rel, text in python.items():
        if config_kind(rel) is None and not _is_test(rel) and rel not in in_versions:
            pools += pools_in_code(rel, text, service_for(rel))
    pools = with_replicas(pools, replicas)
    findings += orm_findings({rel: text for rel, text in texts.items() if rel.endswith(".py") or is_orm_file(rel)},
                             private_names)
    findings += pool_findings(pools, max_connections)

    chain = max(chains, key=lambda c: len(c.revisions)) if chains else None
    if len(chains) > 1:
        notes.append(f"{len(chains)} Alembic histories ({', '.join(c.directory for c in chains)}): the report draws "
                     f"{chain.directory}; the findings cover all of them")
    unique = {f.id: f for f in findings}
    return ProjectAudit(root=str(root), findings=sorted(unique.values(), key=Finding.sort_key),
                        files_read=sorted(texts), alembic=chain, pools=pools, capped=capped,
                        in_git=tracked is not None, notes=notes)
