"""The static audit of application repositories, on small fixture repositories (tests/fixtures/projects)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dbtop.findings.model import Finding, Severity
from dbtop.findings.project import ProjectAudit, audit_project
from dbtop.findings.project import audit as audit_module

from .conftest import dbtop_command

FIXTURES = Path(__file__).parent / "fixtures" / "projects"
# Every literal secret planted in the fixtures (values too common to grep for, like "postgres", are left out).
PLANTED_SECRETS = ("change_me", "3f9c1e7a55d24b0c9a8e7f6d5c4b3a21", "Passw0rd!", "hunter2",
                   "django-insecure-7qw1x9zv4kpl2m8n5b3c6v0x", "Sup3r-Long-Passphrase-2024", "Zq8v!m2Lr#t9Wd4Kx")


@pytest.fixture
def project(tmp_path):
    """A copy of a fixture repository outside any git work tree."""
    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target)
        return target
    return copy


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True, timeout=30)


def found(audit: ProjectAudit, rule: str) -> dict[str, Finding]:
    """The findings of one rule by the location of their first evidence."""
    return {f.evidence[0].location: f for f in audit.findings if f.rule == rule}


def rules(audit: ProjectAudit) -> set[str]:
    return {f.rule for f in audit.findings}


# Alembic


def test_broken_alembic_chain_two_heads_a_dangling_parent_and_a_shared_number(project):
    audit = audit_project(project("broken_alembic"))
    by_id = {f.id: f for f in audit.findings}

    heads = by_id["project.alembic.multiple_heads:migrations/versions"]
    assert heads.severity == Severity.HIGH and heads.area == "migrations"
    assert [(e.subject, e.location) for e in heads.evidence] == [
        ("0024d4", "migrations/versions/0024b_fix_orders.py:4"), ("0025e5", "migrations/versions/0025_add_index.py:4")]

    dangling = by_id["project.alembic.dangling_down_revision:migrations/versions/0025_add_index.py"]
    assert dangling.severity == Severity.HIGH
    assert dangling.evidence[0].subject == "0025e5" and "'0024yy'" in dangling.evidence[0].detail

    prefix = by_id["project.alembic.shared_prefix:migrations/versions/0024"]
    assert prefix.severity == Severity.MEDIUM
    assert [e.location for e in prefix.evidence] == ["migrations/versions/0024_add_orders.py:4",
                                                    "migrations/versions/0024b_fix_orders.py:4"]

    chain = audit.alembic
    assert chain is not None and chain.heads == ["0024d4", "0025e5"] and chain.roots == ["0022a1"]
    assert chain.chain == ["0022a1 -> 0023b2 -> 0024c3 -> 0025e5 (head; also follows missing 0024yy)",
                           "0023b2 -> 0024d4 (head)"]
    assert [r.revision for r in chain.revisions][:2] == ["0022a1", "0023b2"]
    assert any("0025_add_index.py" in b and "0024yy" in b for b in chain.breaks)
    assert "project.alembic.duplicate_revision" not in rules(audit)


def test_duplicate_revision_id_is_critical_and_names_both_files(project):
    audit = audit_project(project("duplicate_alembic"))
    [duplicate] = found(audit, "project.alembic.duplicate_revision").values()
    assert duplicate.id == "project.alembic.duplicate_revision:bbb2" and duplicate.severity == Severity.CRITICAL
    assert [e.location for e in duplicate.evidence] == ["alembic/versions/0002_users.py:4",
                                                       "alembic/versions/0003_orders_copy.py:4"]
    assert audit.alembic is not None and any("bbb2" in b for b in audit.alembic.breaks)


def test_healthy_chain_with_a_merge_has_no_findings(project):
    audit = audit_project(project("healthy_alembic"))
    assert audit.findings == []
    chain = audit.alembic
    assert chain is not None and chain.heads == ["ddd4"] and chain.breaks == []
    assert chain.chain == ["aaa1 -> bbb2 -> ccc3 -> ddd4 (head)", "bbb2 -> 4a7c1e2d9f00 -> ddd4 (merge, above)"]
    # api/versions is not next to an env.py: its `revision = ...` is not an Alembic revision
    assert {r.file for r in chain.revisions} == {f"alembic/versions/{p.name}" for p in
                                                (FIXTURES / "healthy_alembic/alembic/versions").glob("*.py")}


def test_a_revision_file_that_does_not_parse(project):
    root = project("healthy_alembic")
    (root / "alembic/versions/0005_broken.py").write_text('revision = "eee5"\ndown_revision = "ddd4"\ndef upgrade(:\n')
    [unreadable] = found(audit_project(root), "project.alembic.unreadable").values()
    assert unreadable.severity == Severity.HIGH
    assert unreadable.evidence[0].location == "alembic/versions/0005_broken.py:3"


# Django


def test_django_app_with_two_leaves_and_a_squashed_app_without(project):
    audit = audit_project(project("django_site"))
    [leaves] = found(audit, "project.django.multiple_leaves").values()
    assert leaves.id == "project.django.multiple_leaves:billing" and leaves.severity == Severity.HIGH
    assert [(e.subject, e.location) for e in leaves.evidence] == [
        ("0002_invoice_currency", "billing/migrations/0002_invoice_currency.py:4"),
        ("0002_invoice_total", "billing/migrations/0002_invoice_total.py:4")]
    # shop: a squashed migration and a swappable dependency, one leaf
    assert rules(audit) == {"project.django.multiple_leaves"}


# Passwords and secrets


def test_weak_database_passwords_in_env_compose_and_settings(project):
    env = audit_project(project("env_project"))
    weak = found(env, "project.config.weak_password")
    assert weak[".env:2"].severity == Severity.CRITICAL and weak[".env:2"].evidence[0].subject == "POSTGRES_PASSWORD"
    assert weak[".env:3"].severity == Severity.CRITICAL
    assert weak[".env:3"].evidence[0].subject == "postgresql://app:***@db.internal.example.com:5432/app"
    assert weak[".env.example:1"].severity == Severity.MEDIUM
    assert set(weak) == {".env:2", ".env:3", ".env.example:1"}  # ${POSTGRES_PASSWORD} in compose is not a value

    compose = found(audit_project(project("mongo_service")), "project.config.weak_password")
    assert compose["docker-compose.yml:6"].evidence[0].detail == "*** (9 characters), shorter than 12 characters"
    settings = found(audit_project(project("django_settings")), "project.config.weak_password")
    assert settings["shop/settings/production.py:10"].evidence[0].subject == "DB_PASSWORD"  # getenv's default

    assert "project.config.weak_password" not in rules(audit_project(project("good_async_app")))


def test_committed_secrets_only_in_tracked_files(project):
    root = project("env_project")
    untracked = audit_project(root)
    assert "project.secrets.committed" not in rules(untracked) and not untracked.in_git
    assert any("not a git work tree" in note for note in untracked.notes)

    git(root, "init", "-q")
    git(root, "add", ".env.example", "docker-compose.yml")
    git(root, "commit", "-qm", "without .env")
    assert "project.secrets.committed" not in rules(audit_project(root))  # .env.example is meant to be committed

    git(root, "add", "-f", ".env")
    git(root, "commit", "-qm", "oops")
    committed = found(audit_project(root), "project.secrets.committed")
    assert set(committed) == {".env:2", ".env:3", ".env:4"}
    assert committed[".env:4"].severity == Severity.HIGH and committed[".env:4"].evidence[0].subject == "API_TOKEN"
    assert committed[".env:4"].evidence[0].detail.startswith("*** (32 characters)")

    settings = project("django_settings")
    git(settings, "init", "-q")
    git(settings, "add", ".")
    committed = found(audit_project(settings), "project.secrets.committed")
    # SECRET_KEY, getenv's default password, the URL's password; not the publishable key
    assert set(committed) == {"shop/settings/production.py:3", "shop/settings/production.py:10",
                              "prisma/schema.prisma:4"}


def test_no_secret_is_ever_rendered(project):
    dumps = []
    for name in sorted(p.name for p in FIXTURES.iterdir()):
        root = project(name)
        git(root, "init", "-q")
        git(root, "add", "-f", ".")
        audit = audit_project(root, max_connections=10)
        assert audit.in_git
        dumps.append(audit.model_dump_json())
    rendered = "\n".join(dumps)
    assert "project.secrets.committed" in rendered and "project.config.weak_password" in rendered
    for secret in PLANTED_SECRETS:
        assert secret not in rendered


# Database URLs


def test_sync_url_in_an_asyncpg_application(project):
    sync = found(audit_project(project("env_project")), "project.config.sync_url")
    assert set(sync) == {".env:3", "alembic.ini:3"}  # alembic.ini: env.py runs async_engine_from_config
    assert sync[".env:3"].severity == Severity.HIGH and sync[".env:3"].area == "architecture"
    assert sync[".env:3"].evidence[0].subject.startswith("postgresql://app:***@")


@pytest.mark.parametrize("name", ["good_async_app",    # postgresql+asyncpg://; alembic.ini is for a sync env.py
                                  "raw_asyncpg_app",   # asyncpg itself takes postgresql://
                                  "broken_alembic"])   # imports asyncpg, runs no SQLAlchemy async engine
def test_no_sync_url_finding_where_the_url_is_right(project, name):
    assert "project.config.sync_url" not in rules(audit_project(project(name)))


def test_urls_to_other_machines_without_tls(project):
    env = found(audit_project(project("env_project")), "project.config.no_tls")
    assert set(env) == {".env:3"}  # the compose URLs point at the `db` service, on the compose network
    assert env[".env:3"].severity == Severity.MEDIUM and env[".env:3"].area == "security"
    prisma = found(audit_project(project("django_settings")), "project.config.no_tls")
    assert prisma["prisma/schema.prisma:4"].evidence[0].detail == "sslmode=disable turns TLS off"
    for name in ("good_async_app", "raw_asyncpg_app"):  # ssl=verify-full, sslmode=verify-full
        assert "project.config.no_tls" not in rules(audit_project(project(name)))


def test_mongodb_uris(project):
    env = audit_project(project("env_project"))
    assert {f.id: f.severity for f in env.findings if f.rule.startswith("project.mongo")} == {
        "project.mongo.no_credentials:.env:5": Severity.HIGH, "project.mongo.no_tls:.env:5": Severity.MEDIUM,
        "project.mongo.pool_unset:.env:5": Severity.LOW}

    mongo = audit_project(project("mongo_service"))
    assert set(found(mongo, "project.mongo.no_credentials")) == {".env.local:1"}
    # tls=false to 10.0.3.7; not localhost, not mongodb+srv, not the compose service `mongo`
    no_tls = found(mongo, "project.mongo.no_tls")
    assert set(no_tls) == {".env.staging:1"} and no_tls[".env.staging:1"].evidence[0].detail == "tls=false"
    assert set(found(mongo, "project.mongo.pool_unset")) == {"docker-compose.yml:10"}

    assert not any(f.rule.startswith("project.mongo") for f in audit_project(project("good_async_app")).findings)


# Pools


def test_pools_over_max_connections_list_each_services_share(project):
    root = project("env_project")
    audit = audit_project(root, max_connections=100)
    [pools] = found(audit, "project.config.pool_oversubscribed").values()
    assert pools.severity == Severity.HIGH and pools.area == "capacity" and "110" in pools.title
    shares = {e.subject: e for e in pools.evidence}
    assert shares["api"].location == "docker-compose.yml:10" and "= 60 connections" in shares["api"].detail
    assert "× 2 replicas = 50 connections" in shares["worker"].detail  # deploy.replicas: 2
    assert {(p.service, p.setting, p.size) for p in audit.pools} >= {("api", "DB_POOL_SIZE", 60),
                                                                     ("worker", "DB_POOL_SIZE", 25)}

    assert "project.config.pool_oversubscribed" not in rules(audit_project(root, max_connections=200))
    assert "project.config.pool_oversubscribed" not in rules(audit_project(root))  # max_connections unknown
    # one service sizing its pool in .env and in code counts once: 20 + max_overflow 10
    assert "project.config.pool_oversubscribed" not in rules(audit_project(project("good_async_app"),
                                                                           max_connections=30))


def test_prisma_and_django_pool_settings_are_found(project):
    audit = audit_project(project("django_settings"), max_connections=35)
    assert {(p.setting, p.size, p.location) for p in audit.pools} == {
        ("connection_limit", 40, "prisma/schema.prisma:4"), ("max_size", 30, "shop/settings/production.py:13")}
    assert "project.config.pool_oversubscribed" in rules(audit)


# What is read


def test_skipped_directories_large_files_and_the_cap(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=change_me\n")
    for skipped in ("node_modules/pkg", ".venv", "build", "env"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / ".env").write_text("POSTGRES_PASSWORD=change_me\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")  # a virtualenv under another name
    (tmp_path / "big.env").write_text("#" * (audit_module.MAX_FILE_BYTES + 1))
    for i in range(5):
        (tmp_path / f"module_{i}.py").write_text("x = 1\n")

    audit = audit_project(tmp_path)
    assert set(found(audit, "project.config.weak_password")) == {".env:1"}
    assert "big.env" not in audit.files_read and any("big.env" in note for note in audit.notes)
    assert not audit.capped

    monkeypatch.setattr(audit_module, "MAX_FILES", 3)
    capped = audit_project(tmp_path)
    assert capped.capped and any("over the cap of 3" in note for note in capped.notes)
    assert capped.files_read == [".env", "module_0.py"]  # configuration first; big.env counted, not read


# The command


def test_audit_command_with_only_a_project_and_its_report(project, tmp_path):
    root = project("broken_alembic")
    out = tmp_path / "report.md"
    result = subprocess.run([*dbtop_command(), "audit", "--project", str(root), "--output", str(out),
                             "--fail-on", "high"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    text = out.read_text()
    migrations = text.split("## 5. Migrations")[1].split("## 6.")[0]
    assert "0023b2 -> 0024d4 (head)" in migrations and "breaks:" in migrations
    assert "No live database was examined." in text
    result = subprocess.run([*dbtop_command(), "audit", "--project", str(project("env_project")), "--format", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "project.config.weak_password" in result.stdout
    for secret in PLANTED_SECRETS:
        assert secret not in result.stdout
