"""`dbtop audit`: the Markdown report's structure, the JSON document, scores, and --fail-on as a CI gate."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from datetime import datetime, timezone

import pytest

from dbtop.engines.snapshot import Snapshot
from dbtop.findings.model import AREA_TITLES, Evidence, Finding, Severity
from dbtop.findings.report import build_report, to_markdown, weighted_percentile
from dbtop.findings.scores import AuditContext, score

from .conftest import dbtop_command

DB = "audit_report"

EXPECTED_HEADINGS = [
    "# Database audit report: audit_report",
    "## System information",
    "## Executive summary",
    *(f"## {n}. {title} — level L" for n, title in enumerate(AREA_TITLES.values(), 1)),
    "## Performance metrics",
    "## Action items",
]


@pytest.fixture(scope="module")
def audit_db(pg):
    pg.psql(f"DROP DATABASE IF EXISTS {DB}")
    pg.psql(f"CREATE DATABASE {DB}")
    pg.psql("CREATE EXTENSION pg_stat_statements; CREATE TABLE no_pk (a int); INSERT INTO no_pk VALUES (1);"
            "CREATE MATERIALIZED VIEW never AS SELECT a FROM no_pk WITH NO DATA;", DB)
    yield pg
    pg.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def run_audit(*args: str, env_home=None) -> subprocess.CompletedProcess:
    return subprocess.run([*dbtop_command(), "audit", *args], capture_output=True, text=True, timeout=120)


def skeleton(markdown: str) -> list[str]:
    return [re.sub(r"level (\d/5|not assessed)", "level L", line) for line in markdown.splitlines()
            if line.startswith("#")]


def test_markdown_report_is_laid_out_like_an_audit_report(audit_db, tmp_path):
    out = tmp_path / "report.md"
    result = run_audit(audit_db.dsn(database=DB), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "report written to" in result.stderr
    text = out.read_text()
    assert skeleton(text) == EXPECTED_HEADINGS
    assert "**Overall maturity level: " in text
    assert "| Finding | Severity | Impact | Current level | Recommended level |" in text
    assert "| Statement latency P95 (estimate) |" in text and "| Cache hit ratio |" in text
    assert "- [x] " in text and "- [ ] " in text  # checklist items decided both ways
    assert "not checked (no application repository was given (--project PATH))" in text
    # the planted problems, each in its area's section
    schema = text.split("## 4. Schema and design")[1].split("## 5.")[0]
    assert "Table public.no_pk has no primary key" in schema and "public.never has never been populated" in schema
    backup = text.split("## 6. Backup and recovery")[1].split("## 7.")[0]
    assert "No verified backup" in backup and "level 1/5" in text.split("## 6. Backup and recovery")[1].splitlines()[0]
    actions = text.split("## Action items")[1]
    assert actions.index("**Critical**") < actions.index("**High**") < actions.index("**Medium**")


def test_json_report_and_fail_on(audit_db):
    result = run_audit(audit_db.dsn(database=DB), "--format", "json", "--fail-on", "critical")
    assert result.returncode == 3 and "a Critical finding is at or above --fail-on critical" in result.stderr
    report = json.loads(result.stdout)
    assert report["schema_version"] == 1 and report["system"]["Database"] == DB
    severities = [row["finding"]["severity"] for row in report["findings"]]
    assert severities[0] == "critical" and "high" in severities
    areas = {a["area"]: a for a in report["scores"]["areas"]}
    assert set(areas) == set(AREA_TITLES) and areas["backup"]["level"] == 1 and areas["migrations"]["level"] is None
    assert report["metrics"]["max_connections"] == 200

    info_only = run_audit(audit_db.dsn(database=DB), "--format", "json", "--fail-on", "info")
    assert info_only.returncode == 3
    bad = run_audit(audit_db.dsn(database=DB), "--project", "/nonexistent/repo")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "no such directory" in bad.stderr


def test_the_audit_never_writes_out_its_snapshot_as_text(audit_db, monkeypatch, capsys):
    """asyncio.run reprs its main task on the way out, and a task's repr holds its result's: returned from
    asyncio.run, the snapshot was written out as text for nothing (~140 ms of CPU at 5,000 tables)."""
    from dbtop.tui.commands import audit

    written = []
    monkeypatch.setattr(Snapshot, "__repr__", lambda self: written.append(self) or "Snapshot(...)")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in `dbtop audit`, not under pytest
    try:
        assert audit.run([audit_db.dsn(database=DB), "--format", "json"]) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    assert json.loads(capsys.readouterr().out)["findings"]
    assert written == []


def test_unreachable_target_is_one_line_and_exit_2():
    result = run_audit("postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def finding(rule: str, area: str, severity: Severity) -> Finding:
    return Finding(id=rule, rule=rule, area=area, severity=severity, title=rule, impact="i", fix="f",
                   evidence=[Evidence(subject="s")])


def live_snapshot() -> Snapshot:
    from dbtop.engines.snapshot import PartStatus, ServerInfo

    server = ServerInfo(engine="postgres", version="15.18", version_num=150018, database="d", current_user="u",
                        settings={"ssl": "off", "password_encryption": "scram-sha-256",
                                  "log_min_duration_statement": "-1", "idle_in_transaction_session_timeout": "0"})
    return Snapshot(sequence=1, taken_at=datetime.now(timezone.utc), target="t", engine="postgres", reachable=True,
                    server=server, parts={"sessions": PartStatus()})


def test_scores_follow_the_worst_finding_and_do_not_assume_what_was_not_checked():
    ctx = AuditContext(snapshot=live_snapshot())
    scores = {a.area: a for a in score([finding("backup.no_verified_backup", "backup", Severity.CRITICAL),
                                        finding("security.ssl_off", "security", Severity.MEDIUM)], ctx).areas}
    assert scores["backup"].level == 1 and scores["security"].level == 3
    assert scores["technology"].level == 5  # every item decided, nothing found
    assert scores["migrations"].level is None and "not assessed" in scores["migrations"].justification
    assert scores["schema"].level is None  # nothing about the schema was read (no catalog, no views)
    overall = score([finding("backup.no_verified_backup", "backup", Severity.CRITICAL)], ctx)
    assert overall.overall == 2  # held to one above the weakest area


def test_latency_percentiles_weight_statement_means_by_calls():
    points = [(1.0, 90), (10.0, 9), (100.0, 1)]
    assert weighted_percentile(points, 0.5) == 1.0
    assert weighted_percentile(points, 0.95) == 10.0
    assert weighted_percentile(points, 0.995) == 100.0
    assert weighted_percentile([], 0.5) is None


def test_project_only_report_says_no_database_was_examined():
    leaked = Finding(id="x", rule="project.secrets.committed", area="security", severity=Severity.HIGH,
                     title="password in .env", impact="i", fix="f", source="project",
                     evidence=[Evidence(subject="DB_PASSWORD", detail="12 characters", location=".env:3")])
    report = build_report(findings=[leaked], snapshot=None, generated_at=datetime.now(timezone.utc),
                          dbtop_version="t", project="repo")
    text = to_markdown(report)
    assert ".env:3" in text and "12 characters" in text
    assert skeleton(text)[0] == "# Database audit report: repo"
    assert "No live database was examined." in text


def test_markdown_lists_at_most_ten_findings_of_a_rule_and_counts_the_rest():
    unindexed = [Finding(id=f"performance.fk_without_index:public.t{i:04d}.fk", rule="performance.fk_without_index",
                         area="performance", severity=Severity.HIGH if i < 2 else Severity.MEDIUM,
                         title=f"Foreign key public.t{i:04d}.fk has no index", impact="i", fix="create it",
                         evidence=[Evidence(subject=f"public.t{i:04d}")]) for i in range(2500)]
    report = build_report(findings=unindexed, snapshot=live_snapshot(), generated_at=datetime.now(timezone.utc),
                          dbtop_version="t")
    text = to_markdown(report)
    assert text.count("| Foreign key public.t") == 10 and "public.t0001.fk has no index |" in text  # the worst first
    assert len(re.findall(r"^\d+\. \*\*", text, re.M)) == 10 and "public.t2499" not in text
    assert "2,490 more `performance.fk_without_index` finding(s), up to Medium: public.t0010, public.t0011" in text
    assert len(text) < 20_000
    document = json.loads(report.model_dump_json())
    assert len(document["findings"]) == 2500  # machines get every one


def test_markdown_report_removes_bidi_overrides_and_control_characters():
    """Object names and query texts come from the database: a right-to-left override (U+202E) would make
    the report display text in another order than it is stored, and ESC starts terminal sequences."""
    hostile = "public.\u202eelbat\u202c\x1b[31m"
    found = Finding(id="schema.no_primary_key:" + hostile, rule="schema.no_primary_key", area="schema",
                    severity=Severity.MEDIUM, title=f"Table {hostile} has no primary key", impact="i", fix="f",
                    evidence=[Evidence(subject=hostile, detail="query: SELECT '\u2066x\u2069'")])
    report = build_report(findings=[found], snapshot=live_snapshot(), generated_at=datetime.now(timezone.utc),
                          dbtop_version="t")
    text = to_markdown(report)
    assert "elbat" in text
    for character in ("\u202e", "\u202c", "\u2066", "\u2069", "\x1b"):
        assert character not in text


def test_the_level_once_fixed_is_the_areas_level_when_scored_without_the_rule():
    """level_without scores only the finding's area (scoring every area for each rule took ~20 ms a rule on
    5,000 tables); it must give what scoring everything without the rule gives."""
    from dbtop.findings.scores import level_without

    found = [finding("security.application_superuser", "security", Severity.HIGH),
             finding("schema.unlogged_table", "architecture", Severity.MEDIUM),
             finding("indexes.unused", "schema", Severity.LOW), finding("indexes.duplicate", "schema", Severity.MEDIUM),
             finding("performance.deadlocks", "performance", Severity.LOW),
             finding("project.migration.index", "migrations", Severity.HIGH)]
    for ctx in (AuditContext(snapshot=live_snapshot(), project_audited=True), AuditContext(snapshot=None)):
        for f in found:
            rest = [g for g in found if g.rule != f.rule]
            expected = next(a.level for a in score(rest, ctx).areas if a.area == f.area)
            assert level_without(found, f, ctx) == expected, f.rule
