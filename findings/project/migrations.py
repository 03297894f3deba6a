"""Migration histories read from the files (parsed with `ast`, never imported): Alembic revision
chains and Django migration graphs, with where they break."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..model import Evidence, Finding, Severity

NUMBER_PREFIX = re.compile(r"^(\d+)([a-z]?)_")


class AlembicRevision(BaseModel):
    model_config = ConfigDict(frozen=True)

    revision: str
    down_revisions: list[str]
    file: str


class AlembicChain(BaseModel):
    """One Alembic history as it is: its revisions, roots and heads, the chain drawn from the root,
    and where it breaks."""

    model_config = ConfigDict(frozen=True)

    directory: str
    revisions: list[AlembicRevision] = Field(default_factory=list)
    roots: list[str] = Field(default_factory=list)
    heads: list[str] = Field(default_factory=list)
    chain: list[str] = Field(default_factory=list, description="one line per path from a root to a head")
    breaks: list[str] = Field(default_factory=list)


def _module_assignments(source: str) -> dict[str, ast.expr]:
    tree = ast.parse(source)
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
    return values


def _strings(node: ast.expr | None) -> list[str] | None:
    """A revision reference: a string, None, or a tuple/list of strings; None when it is none of them."""
    if node is None:
        return []
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def find_alembic_directories(files: list[Path], root: Path) -> list[Path]:
    """`versions/` directories holding Alembic revision files."""
    found = set()
    for path in files:
        if path.parent.name == "versions" and path.suffix == ".py" and path.name != "__init__.py":
            found.add(path.parent)
    return sorted(found)


def read_alembic(directory: Path, root: Path, sources: dict[Path, str]) -> tuple[AlembicChain, list[Finding]]:
    where = str(directory.relative_to(root))
    revisions: list[AlembicRevision] = []
    findings: list[Finding] = []
    for path in sorted(p for p in sources if p.parent == directory):
        rel = str(path.relative_to(root))
        try:
            values = _module_assignments(sources[path])
        except SyntaxError as exc:
            findings.append(_finding("project.alembic.unreadable", f"{rel}", Severity.MEDIUM,
                                     f"Alembic revision file {rel} does not parse", [Evidence(
                                         subject=rel, detail=f"syntax error: {exc.msg}", location=f"{rel}:{exc.lineno}")],
                                     "Alembic cannot load the history; every upgrade fails.", "Fix the file."))
            continue
        revision = _strings(values.get("revision"))
        down = _strings(values.get("down_revision"))
        if not revision or down is None:
            continue  # not a revision file (or revision ids computed at import: cannot be read statically)
        revisions.append(AlembicRevision(revision=revision[0], down_revisions=down, file=rel))

    by_id: dict[str, list[AlembicRevision]] = {}
    for rev in revisions:
        by_id.setdefault(rev.revision, []).append(rev)
    breaks: list[str] = []
    for rev_id, same in by_id.items():
        if len(same) > 1:
            files = ", ".join(r.file for r in same)
            breaks.append(f"revision {rev_id} is defined {len(same)} times: {files}")
            findings.append(_finding(
                "project.alembic.duplicate_revision", rev_id, Severity.CRITICAL,
                f"Alembic revision id {rev_id} is used by {len(same)} files",
                [Evidence(subject=r.file, detail=f"revision = {rev_id!r}", location=r.file) for r in same],
                "Alembic keeps one of them and silently ignores the other: its migration never runs, or runs in "
                "the wrong place, depending on load order.",
                "Give the newer file a fresh revision id (alembic revision generates one) and point its children at it."))
    referenced = {d for rev in revisions for d in rev.down_revisions}
    for rev in revisions:
        for down in rev.down_revisions:
            if down not in by_id:
                breaks.append(f"{rev.file}: down_revision {down!r} names no revision")
                findings.append(_finding(
                    "project.alembic.dangling_down_revision", f"{rev.revision}", Severity.HIGH,
                    f"Alembic revision {rev.revision} follows {down}, which does not exist",
                    [Evidence(subject=rev.file, detail=f"down_revision = {down!r}", location=rev.file)],
                    "The history is cut here: `alembic upgrade head` fails (\"Can't locate revision\") on every "
                    "fresh database.",
                    "Point down_revision at the revision that really precedes it (alembic history shows them), or "
                    "restore the missing file."))
    roots = sorted(r.revision for r in revisions if not r.down_revisions)
    heads = sorted({r.revision for r in revisions} - referenced)
    if len(heads) > 1:
        head_files = [next(r.file for r in revisions if r.revision == h) for h in heads]
        breaks.append(f"{len(heads)} heads: {', '.join(heads)}")
        findings.append(_finding(
            "project.alembic.multiple_heads", where, Severity.HIGH,
            f"Alembic history in {where} has {len(heads)} heads",
            [Evidence(subject=h, detail=f"head revision in {f}", location=f) for h, f in zip(heads, head_files)],
            "`alembic upgrade head` refuses to run (\"Multiple head revisions\"); deployments that run migrations "
            "fail, or someone upgrades one branch and not the other.",
            "Merge the heads (alembic merge heads -m 'merge') after checking the branches do not conflict, or "
            "re-parent one branch onto the other."))
    prefixes: dict[str, list[str]] = {}
    for rev in revisions:
        match = NUMBER_PREFIX.match(Path(rev.file).name)
        if match:
            prefixes.setdefault(match.group(1), []).append(rev.file)
    for number, files in sorted(prefixes.items()):
        if len(files) > 1:
            breaks.append(f"files share the number {number}: {', '.join(Path(f).name for f in files)}")
            findings.append(_finding(
                "project.alembic.shared_prefix", f"{where}/{number}", Severity.MEDIUM,
                f"{len(files)} Alembic files share the number {number}",
                [Evidence(subject=Path(f).name, detail="", location=f) for f in files],
                "Two people added a migration from the same parent: the numbering no longer says the order, and "
                "it usually comes with two heads.",
                "Renumber the later file and make its down_revision the other one (or merge the heads)."))
    chain = _draw(revisions, roots)
    return AlembicChain(directory=where, revisions=revisions, roots=roots, heads=heads, chain=chain,
                        breaks=breaks), findings


def _draw(revisions: list[AlembicRevision], roots: list[str]) -> list[str]:
    children: dict[str, list[str]] = {}
    for rev in revisions:
        for down in rev.down_revisions:
            children.setdefault(down, []).append(rev.revision)
    lines: list[str] = []

    def walk(node: str, path: list[str], seen: set[str]) -> None:
        nexts = sorted(children.get(node, []))
        if not nexts or node in seen or len(lines) >= 50:
            lines.append(" -> ".join(path))
            return
        for nxt in nexts:
            walk(nxt, path + [nxt], seen | {node})

    for root in roots:
        walk(root, [root], set())
    orphans = sorted({r.revision for r in revisions if r.down_revisions and
                      not any(d in {x.revision for x in revisions} for d in r.down_revisions)})
    for orphan in orphans:
        walk(orphan, [f"(missing) -> {orphan}"], set())
    return lines


def read_django(files: list[Path], root: Path, sources: dict[Path, str]) -> list[Finding]:
    """Two or more leaf migrations in one app: `migrate` refuses until they are merged."""
    apps: dict[Path, dict[str, list[str]]] = {}
    for path in files:
        if path.parent.name != "migrations" or path.suffix != ".py" or not re.match(r"^\d{4}_", path.name):
            continue
        try:
            tree = ast.parse(sources[path])
        except SyntaxError:
            continue
        app_label = path.parent.parent.name
        dependencies: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "dependencies" for t in node.targets):
                try:
                    value = ast.literal_eval(node.value)
                except ValueError:
                    continue
                dependencies += [name for app, name in value if app == app_label] if isinstance(value, list) else []
        apps.setdefault(path.parent, {})[path.stem] = dependencies
    findings = []
    for directory, migrations in apps.items():
        depended = {d for deps in migrations.values() for d in deps}
        leaves = sorted(m for m in migrations if m not in depended)
        if len(leaves) > 1:
            rel = str(directory.relative_to(root))
            app = directory.parent.name
            findings.append(_finding(
                "project.django.multiple_leaves", app, Severity.HIGH,
                f"Django app {app} has {len(leaves)} leaf migrations",
                [Evidence(subject=leaf, detail="no later migration depends on it", location=f"{rel}/{leaf}.py")
                 for leaf in leaves],
                "`manage.py migrate` stops with \"Conflicting migrations detected\" until they are merged.",
                "Run `manage.py makemigrations --merge` for the app, check the merged order, commit the merge."))
    return findings


def _finding(rule: str, subject: str, severity: Severity, title: str, evidence: list[Evidence], impact: str,
             fix: str) -> Finding:
    return Finding(id=f"{rule}:{subject}", rule=rule, area="migrations", severity=severity, title=title,
                   evidence=evidence, impact=impact, fix=fix, source="project")
