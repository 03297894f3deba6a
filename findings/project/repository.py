"""The static audit of an application's repository: files are read, never run or imported."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..model import Finding
from .migrations import AlembicChain, find_alembic_directories, read_alembic, read_django
from .settings_files import PoolSetting, compose_services, is_settings_file, pool_findings, scan_settings

SKIP_DIRECTORIES = {".git", "node_modules", ".venv", "venv", "env", "__pycache__", "dist", "build", ".tox",
                    ".mypy_cache", ".pytest_cache", "site-packages"}
MAX_FILES = 5000
MAX_FILE_BYTES = 1_000_000
DEPENDENCY_FILES = ("requirements", "pyproject.toml", "Pipfile", "setup.cfg", "setup.py", "poetry.lock")
ASYNC_CODE = re.compile(r"^\s*(import asyncpg|from asyncpg\b)|create_async_engine|async_engine_from_config|"
                        r"postgresql\+asyncpg", re.MULTILINE)
POOL_IN_CODE = re.compile(r"\b(pool_size|max_overflow|max_size)\s*=\s*\d+")


class ProjectAudit(BaseModel):
    model_config = ConfigDict(frozen=True)

    root: str
    files_read: int
    findings: list[Finding] = Field(default_factory=list)
    alembic: list[AlembicChain] = Field(default_factory=list)
    pools: list[PoolSetting] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    in_git: bool = Field(default=False, description="a git work tree: committed secrets could be told apart")


def _walk(root: Path) -> tuple[list[Path], bool]:
    files: list[Path] = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRECTORIES)
        for name in sorted(names):
            files.append(Path(directory) / name)
            if len(files) >= MAX_FILES:
                return files, True
    return files, False


def _tracked(root: Path) -> set[str] | None:
    """Files git tracks, relative to root; None when root is not in a git work tree."""
    try:
        result = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--full-name", "."],
                                capture_output=True, timeout=10)
        top = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0 or top.returncode != 0:
        return None
    prefix = Path(top.stdout.strip())
    tracked = set()
    for name in result.stdout.decode(errors="replace").split("\0"):
        if name:
            try:
                tracked.add(str((prefix / name).relative_to(root.resolve())))
            except ValueError:
                pass
    return tracked


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(errors="replace")
    except OSError:
        return None


def audit_repository(root: Path, *, max_connections: int | None = None) -> ProjectAudit:
    root = root.resolve()
    files, capped = _walk(root)
    notes = [f"only the first {MAX_FILES} files were read"] if capped else []
    tracked = _tracked(root)
    if tracked is None:
        notes.append("not a git work tree: committed secrets could not be told from local ones")
    wanted = [p for p in files if p.suffix == ".py" or is_settings_file(p) or p.name.startswith(DEPENDENCY_FILES)]
    sources = {p: text for p in wanted if (text := _read(p)) is not None}

    async_app = any(("asyncpg" in text) for p, text in sources.items() if p.name.startswith(DEPENDENCY_FILES)) or \
        any(ASYNC_CODE.search(text) for p, text in sources.items() if p.suffix == ".py" and "versions" not in p.parts)
    async_migrations = any(p.name == "env.py" and re.search(r"async_engine_from_config|create_async_engine|run_async", t)
                           for p, t in sources.items())
    compose_names: set[str] = set()
    for p, text in sources.items():
        if "compose" in p.name and p.suffix in (".yml", ".yaml"):
            compose_names |= {s for s in compose_services(text).values() if s != "compose"}

    findings: list[Finding] = []
    pools: list[PoolSetting] = []
    chains: list[AlembicChain] = []
    for directory in find_alembic_directories(list(sources), root):
        chain, found = read_alembic(directory, root, sources)
        if chain.revisions:
            chains.append(chain)
        findings += found
    findings += read_django(list(sources), root, sources)
    for path, text in sources.items():
        rel = str(path.relative_to(root))
        service = rel.split("/", 1)[0] if "/" in rel else root.name
        if is_settings_file(path):
            scan = scan_settings(path, rel, text, tracked=(rel in tracked) if tracked is not None else None,
                                 async_app=async_app, async_migrations=async_migrations,
                                 compose_names=compose_names, service=service)
            findings += scan.findings
            pools += scan.pools
        elif path.suffix == ".py" and POOL_IN_CODE.search(text):
            for number, line in enumerate(text.splitlines(), 1):
                for match in POOL_IN_CODE.finditer(line):
                    name, _, value = match.group(0).partition("=")
                    pools.append(PoolSetting(service=service, setting=name.strip(), size=int(value.strip()),
                                             location=f"{rel}:{number}"))
    findings += pool_findings(pools, max_connections)
    unique = {f.id: f for f in findings}
    return ProjectAudit(root=str(root), files_read=len(sources), findings=sorted(unique.values(), key=Finding.sort_key),
                        alembic=chains, pools=pools, notes=notes, in_git=tracked is not None)
