"""The static audit of application repositories, on small fixture repositories (tests/fixtures/projects)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dbtop.findings.model import Severity
from dbtop.findings.project.repository import audit_repository

from .conftest import dbtop_command

FIXTURES = Path(__file__).parent / "fixtures" / "projects"
PLANTED_SECRETS = ("change_me", "3f9c1e7a55d24b0c9a8e7f6d5c4b3a21")


@pytest.fixture
def project(tmp_path):
    """A copy of a fixture repository outside any git work tree."""
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target)
        return target
    return copy


def by_rule(audit) -> dict[str, list]:
    found: dict[str, list] = {}
    for f in audit.findings:
        found.setdefault(f.rule, []).append(f)
    return found


def test_broken_alembic_chain_is_reported_as_it_is_and_where_it_breaks(project):
    audit = audit_repository(project("broken_alembic"))
    rules = by_rule(audit)
    [duplicate] = rules["project.alembic.duplicate_revision"]
    assert duplicate.severity == Severity.CRITICAL
    assert {e.location for e in duplicate.evidence} == {"migrations/versions/0024_add_orders.py",
                                                         "migrations/versions/0026_copy_of_orders.py"}
    dangling = {f.evidence[0].detail for f in rules["project.alembic.dangling_down_revision"]}
    assert "down_revision = '0024zz'" in dangling
    [heads] = rules["project.alembic.multiple_heads"]
    assert heads.severity == Severity.HIGH and "0024d4" in {e.subject for e in heads.evidence}
    [prefix] = rules["project.alembic.shared_prefix"]
    assert {e.subject for e in prefix.evidence} == {"0024_add_orders.py", "0024b_fix_orders.py"}
    [chain] = audit.alembic
    assert "0022a1 -> 0023b2 -> 0024c3" in " ".join(chain.chain) and "0022a1 -> 0023b2 -> 0024d4" in chain.chain
    assert any("(missing) -> 0025e5" in line for line in chain.chain)
    assert any("0024zz" in b for b in chain.breaks) and any("heads" in b for b in chain.breaks)
    # alembic.ini's sync URL is right for a sync env.py, even in an asyncpg application
    assert "project.config.sync_url" not in rules


def test_healthy_alembic_chain_has_no_findings(project):
    audit = audit_repository(project("healthy_alembic"))
    assert audit.findings == []
    assert audit.alembic[0].chain == ["aaa1 -> bbb2 -> ccc3"] and audit.alembic[0].heads == ["ccc3"]


def test_django_app_with_two_leaves(project):
    rules = by_rule(audit_repository(project("django_site")))
    [leaves] = rules["project.django.multiple_leaves"]
    assert leaves.id == "project.django.multiple_leaves:billing"
    assert {e.subject for e in leaves.evidence} == {"0002_invoice_total", "0002_invoice_currency"}
    assert len(rules) == 1  # shop is linear


def test_env_files_weak_passwords_sync_url_tls_and_pools(project):
    audit = audit_repository(project("env_project"), max_connections=100)
    rules = by_rule(audit)
    weak = {f.evidence[0].location: f for f in rules["project.config.weak_password"]}
    assert weak[".env:2"].severity == Severity.CRITICAL and "well-known default" in weak[".env:2"].title
    assert weak[".env:3"].severity == Severity.CRITICAL and "a database URL" in weak[".env:3"].title
    assert weak[".env.example:1"].severity == Severity.MEDIUM
    [sync] = rules["project.config.sync_url"]
    assert sync.evidence[0].location == ".env:3" and sync.evidence[0].subject.startswith("postgresql://app:***@")
    [tls] = rules["project.config.no_tls"]
    assert tls.evidence[0].location == ".env:3"  # compose URLs point at the `db` service: local
    [pools] = rules["project.config.pool_oversubscribed"]
    assert "110" in pools.title and {e.subject for e in pools.evidence} >= {"api", "worker"}
    mongo = {f.rule for f in audit.findings if f.rule.startswith("project.mongo")}
    assert mongo == {"project.mongo.no_credentials", "project.mongo.no_tls", "project.mongo.pool_unset"}
    assert "project.secrets.committed" not in rules  # not a git work tree: nothing is known to be committed
    assert any("not a git work tree" in note for note in audit.notes)
    assert "project.config.pool_oversubscribed" not in by_rule(audit_repository(project("good_async_app"),
                                                                                max_connections=100))
    assert "project.config.pool_oversubscribed" not in by_rule(audit_repository(FIXTURES / "env_project",
                                                                                max_connections=200))


def test_a_correct_asyncpg_app_has_no_findings(project):
    audit = audit_repository(project("good_async_app"), max_connections=100)
    assert audit.findings == []


def test_committed_secrets_only_in_tracked_files_and_never_printed(project):
    root = project("env_project")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", ".env.example", "docker-compose.yml"], check=True)
    subprocess.run([*git, "commit", "-qm", "without .env"], check=True)
    assert "project.secrets.committed" not in by_rule(audit_repository(root))
    subprocess.run([*git, "add", "-f", ".env"], check=True)
    subprocess.run([*git, "commit", "-qm", "oops"], check=True)
    audit = audit_repository(root)
    committed = {f.evidence[0].location: f for f in by_rule(audit)["project.secrets.committed"]}
    assert set(committed) == {".env:2", ".env:3", ".env:4"}
    assert committed[".env:4"].evidence[0].detail.startswith("*** (32 characters)")
    rendered = audit.model_dump_json()
    for secret in PLANTED_SECRETS:
        assert secret not in rendered


def test_audit_command_with_only_a_project_and_its_report(project, tmp_path):
    root = project("broken_alembic")
    out = tmp_path / "report.md"
    result = subprocess.run([*dbtop_command(), "audit", "--project", str(root), "--output", str(out),
                             "--fail-on", "high"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    text = out.read_text()
    migrations = text.split("## 5. Migrations")[1].split("## 6.")[0]
    assert "level 1/5" in migrations.splitlines()[0]
    assert "0022a1 -> 0023b2 -> 0024d4" in migrations and "breaks:" in migrations
    assert "No live database was examined." in text
    env = project("env_project")
    result = subprocess.run([*dbtop_command(), "audit", "--project", str(env), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for secret in PLANTED_SECRETS:
        assert secret not in result.stdout
