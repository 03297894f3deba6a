"""Django migration graphs read with `ast` (never imported): an app with two leaf migrations cannot migrate."""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from ..model import Evidence, Finding, Severity

MIGRATION_NAME = re.compile(r"\d{4}_\w+\.py")


def is_django_migration(path: str) -> bool:
    p = PurePosixPath(path)
    return p.parent.name == "migrations" and MIGRATION_NAME.fullmatch(p.name) is not None


def migration_class(text: str) -> tuple[ast.ClassDef, dict[str, ast.expr]] | None:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            values = {t.id: stmt.value for stmt in node.body if isinstance(stmt, ast.Assign)
                      for t in stmt.targets if isinstance(t, ast.Name)}
            return node, values
    return None


def migration_pairs(node: ast.expr | None) -> list[tuple[str, str]]:
    """("app", "0003_x") entries of a list; entries that are calls (swappable_dependency) are skipped."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return []
    pairs = []
    for element in node.elts:
        try:
            value = ast.literal_eval(element)
        except ValueError:
            continue
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
            pairs.append(value)
    return pairs


def django_findings(files: dict[str, str]) -> list[Finding]:
    """Apps (migrations directories) with more than one leaf; `files`: relative path -> text of migration files."""
    apps: dict[str, dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]], int]]] = {}
    for path, text in files.items():
        found = migration_class(text)
        if found is None:
            continue
        cls, values = found
        p = PurePosixPath(path)
        apps.setdefault(str(p.parent.parent), {})[p.stem] = (
            migration_pairs(values.get("dependencies")), migration_pairs(values.get("replaces")), cls.lineno)
    app_names = {PurePosixPath(a).name for a in apps}
    findings = []
    for app_dir, migrations in sorted(apps.items()):
        label = PurePosixPath(app_dir).name

        # A dependency is on this app when it names the app's directory, or names one of its migrations under a
        # label that is no other app's directory (an AppConfig.label different from the directory name).
        def own(app: str, name: str) -> bool:
            return app == label or (name in migrations and app not in app_names)

        replaced = {name for deps, replaces, _ in migrations.values() for app, name in replaces if own(app, name)}
        squashed_by = {name: squash for squash, (_, replaces, _) in migrations.items() for app, name in replaces}
        depended = set()
        for deps, _, _ in migrations.values():
            for app, name in deps:
                if own(app, name):
                    depended |= {name, squashed_by.get(name, name)}
        leaves = sorted(m for m in migrations if m not in depended and m not in replaced)
        if len(leaves) < 2:
            continue
        rel = "" if app_dir == "." else f"{app_dir}/"
        findings.append(Finding(
            id=f"project.django.multiple_leaves:{app_dir}", rule="project.django.multiple_leaves", area="migrations",
            severity=Severity.HIGH, title=f"Django app {label} has {len(leaves)} leaf migrations",
            evidence=[Evidence(subject=leaf, detail="no later migration of the app depends on it",
                               location=f"{rel}migrations/{leaf}.py:{migrations[leaf][2]}") for leaf in leaves],
            impact="`manage.py migrate` stops with \"Conflicting migrations detected\" until they are merged: the "
                   "next deployment that migrates fails.",
            fix=f"Run `manage.py makemigrations --merge {label}`, check the order of the merged operations, commit "
                "the merge migration.",
            source="project"))
    return findings
