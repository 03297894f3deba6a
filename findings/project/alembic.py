"""Alembic histories read from the revision files with `ast` (never imported): duplicate ids, several heads,
down_revisions that name nothing, files sharing a number; and the chain as it is, drawn from the root."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from ..model import Evidence, Finding, Severity

# "0024_add_x.py" and "0024b_fix.py" share 0024. The name must go on with a letter, so that date-based
# templates ("2024_01_31_1200-ab12_x.py") are not taken for numbering.
NUMBER_PREFIX = re.compile(r"^(\d+)[a-z]?_(?=[A-Za-z])")
MAX_CHAIN_LINES = 200


class AlembicRevision(BaseModel):
    """One revision file: its id, the ids it follows (two or more for a merge, none for a root)."""

    model_config = ConfigDict(frozen=True)

    revision: str
    down_revisions: list[str]
    file: str
    line: int

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


class AlembicChain(BaseModel):
    """One Alembic history as it is: revisions ordered from the root, roots and heads, one line per branch
    (`a -> b -> c (head)`; a branch starts at its fork), and where it breaks."""

    model_config = ConfigDict(frozen=True)

    directory: str
    revisions: list[AlembicRevision] = Field(default_factory=list)
    roots: list[str] = Field(default_factory=list)
    heads: list[str] = Field(default_factory=list)
    chain: list[str] = Field(default_factory=list)
    breaks: list[str] = Field(default_factory=list)


def is_versions_directory(directory: PurePosixPath, siblings: set[str]) -> bool:
    """`alembic/versions`, or a `versions/` directory next to Alembic's env.py, script.py.mako or alembic.ini
    (`siblings`: the names of the files in its parent)."""
    return directory.name == "versions" and (
        directory.parent.name == "alembic" or bool({"env.py", "script.py.mako", "alembic.ini"} & siblings))


def _revision_values(source: str) -> dict[str, tuple[ast.expr, int]]:
    values: dict[str, tuple[ast.expr, int]] = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = (node.value, node.lineno)  # type: ignore[union-attr]
    return values


def _ids(node: ast.expr) -> list[str] | None:
    """A revision reference: a string, None, or a tuple/list of strings; None when it is none of those."""
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


def read_alembic_history(directory: str, files: dict[str, str]) -> tuple[AlembicChain, list[Finding]]:
    """The history in `directory` from its revision files (`files`: relative path -> text)."""
    revisions: list[AlembicRevision] = []
    findings: list[Finding] = []
    for path, text in sorted(files.items()):
        try:
            values = _revision_values(text)
        except SyntaxError as exc:
            findings.append(_finding(
                "project.alembic.unreadable", path, Severity.HIGH, f"Alembic revision file {path} does not parse",
                [Evidence(subject=path, detail=f"syntax error: {exc.msg}", location=f"{path}:{exc.lineno}")],
                "Alembic imports every file in versions/: the whole history fails to load, and so does every upgrade.",
                "Fix the syntax error."))
            continue
        if "revision" not in values:
            continue  # a helper module, not a revision
        revision, line = _ids(values["revision"][0]), values["revision"][1]
        down = _ids(values["down_revision"][0]) if "down_revision" in values else []
        if not revision or len(revision) != 1 or down is None:
            continue  # computed at import time: cannot be read without running it
        revisions.append(AlembicRevision(revision=revision[0], down_revisions=down, file=path, line=line))

    by_id: dict[str, list[AlembicRevision]] = {}
    for rev in revisions:
        by_id.setdefault(rev.revision, []).append(rev)
    breaks: list[str] = []
    for rev_id, same in by_id.items():
        if len(same) > 1:
            breaks.append(f"revision {rev_id} is defined in {len(same)} files: {', '.join(r.file for r in same)}")
            findings.append(_finding(
                "project.alembic.duplicate_revision", rev_id, Severity.CRITICAL,
                f"Alembic revision id {rev_id} is used by {len(same)} files",
                [Evidence(subject=rev_id, detail=f"revision = {rev_id!r} in {r.file}", location=r.location)
                 for r in same],
                "Alembic keeps one of the files and ignores the other without a word: that migration never runs, or "
                "runs in the wrong place, depending on the order the files load in.",
                "Give the newer file a fresh id (`alembic revision` makes one), point its children at it, and check "
                "which of the two databases already ran."))
    for rev in revisions:
        for down in rev.down_revisions:
            if down not in by_id:
                breaks.append(f"{rev.file}: revision {rev.revision} follows {down}, which no file defines")
                findings.append(_finding(
                    "project.alembic.dangling_down_revision", rev.file, Severity.HIGH,
                    f"Alembic revision {rev.revision} follows {down}, which does not exist",
                    [Evidence(subject=rev.revision, detail=f"down_revision = {down!r}: no such revision",
                              location=rev.location)],
                    "The history is cut here: `alembic upgrade head` stops with \"Can't locate revision\" on every "
                    "database, and a fresh one cannot be built.",
                    "Point down_revision at the revision that really comes before (`alembic history`), or restore "
                    "the missing file."))
    referenced = {d for rev in revisions for d in rev.down_revisions}
    heads = sorted(by_id.keys() - referenced)
    if len(heads) > 1:
        breaks.append(f"{len(heads)} heads: {', '.join(heads)}")
        findings.append(_finding(
            "project.alembic.multiple_heads", directory, Severity.HIGH,
            f"Alembic history in {directory} has {len(heads)} heads",
            [Evidence(subject=h, detail=f"head revision in {r.file}", location=r.location)
             for h in heads for r in by_id[h]],
            "`alembic upgrade head` refuses to run (\"Multiple head revisions are present\"): deployments that "
            "migrate fail, or someone upgrades one branch and not the other.",
            "Check the branches do not conflict, then `alembic merge heads -m merge` (or re-parent one branch onto "
            "the other if it was never deployed)."))
    by_number: dict[str, list[AlembicRevision]] = {}
    for rev in revisions:
        if m := NUMBER_PREFIX.match(PurePosixPath(rev.file).name):
            by_number.setdefault(m.group(1), []).append(rev)
    for number, same in sorted(by_number.items()):
        if len(same) > 1:
            names = ", ".join(PurePosixPath(r.file).name for r in same)
            breaks.append(f"files share the number {number}: {names}")
            findings.append(_finding(
                "project.alembic.shared_prefix", f"{directory}/{number}", Severity.MEDIUM,
                f"{len(same)} Alembic files share the number {number}",
                [Evidence(subject=PurePosixPath(r.file).name, detail=f"revision {r.revision}", location=r.location)
                 for r in same],
                "Two migrations were written from the same parent: the numbers no longer give the order, and two "
                "heads usually follow.",
                "Renumber the later file and make it follow the other (or merge the heads)."))
    ordered, chain, unreachable = _draw(revisions, by_id, heads)
    if unreachable:
        breaks.append(f"not reachable from a root (a cycle?): {', '.join(unreachable)}")
    roots = sorted(r.revision for r in revisions if not r.down_revisions)
    return AlembicChain(directory=directory, revisions=ordered, roots=roots, heads=heads, chain=chain,
                        breaks=breaks), findings


def _draw(revisions: list[AlembicRevision], by_id: dict[str, list[AlembicRevision]],
          heads: list[str]) -> tuple[list[AlembicRevision], list[str], list[str]]:
    """Revisions in order from the roots, the chain one line per branch, and what no root reaches."""
    head_set = set(heads)

    def label(rev: AlembicRevision) -> str:
        name = f"{rev.revision} [{PurePosixPath(rev.file).name}]" if len(by_id[rev.revision]) > 1 else rev.revision
        missing = [d for d in rev.down_revisions if d not in by_id]
        notes = ["head"] * (rev.revision in head_set) + [f"also follows missing {', '.join(missing)}"] * (
            bool(missing) and len(missing) < len(rev.down_revisions))
        return name + (f" ({'; '.join(notes)})" if notes else "")

    children: dict[str, list[AlembicRevision]] = {}
    for rev in revisions:
        for down in rev.down_revisions:
            children.setdefault(down, []).append(rev)
    starts = [(None, r) for r in revisions if not r.down_revisions]
    starts += [(f"(missing {r.down_revisions[0]})", r) for r in revisions
               if r.down_revisions and not any(d in by_id for d in r.down_revisions)]
    drawn: set[str] = set()  # files
    ordered: list[AlembicRevision] = []
    lines: list[str] = []
    pending = list(reversed(starts))
    while pending and len(lines) < MAX_CHAIN_LINES:
        fork, rev = pending.pop()
        line = [fork] if fork else []
        while True:
            if rev.file in drawn:
                line.append(f"{rev.revision} (merge, above)")
                break
            drawn.add(rev.file)
            ordered.append(rev)
            line.append(label(rev))
            nexts = sorted({c.file: c for c in children.get(rev.revision, [])}.values(), key=lambda c: c.file)
            if not nexts:
                break
            pending += [(rev.revision, c) for c in reversed(nexts[1:])]
            rev = nexts[0]
        lines.append(" -> ".join(line))
    undrawn = [r for r in revisions if r.file not in drawn]
    return ordered + undrawn, lines, [r.revision for r in undrawn]


def _finding(rule: str, subject: str, severity: Severity, title: str, evidence: list[Evidence], impact: str,
             fix: str) -> Finding:
    return Finding(id=f"{rule}:{subject}", rule=rule, area="migrations", severity=severity, title=title,
                   evidence=evidence, impact=impact, fix=fix, source="project")
