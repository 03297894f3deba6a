"""The audit report: one typed model, written as Markdown laid out like a database audit report, or
as JSON with the same content for machines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..engines.snapshot import ENGINE_TITLES, Snapshot
from .engine import RuleFailure
from .model import AREA_TITLES, Finding, Severity
from .project.alembic import AlembicChain
from .scores import AuditContext, Scores, level_without, score
from .wording import clean, duration, remedy, size

REPORT_SCHEMA = 1
TOP_STATEMENTS = 10
PER_RULE_IN_MARKDOWN = 10


class FindingRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    finding: Finding
    current_level: int | None
    recommended_level: int | None


class StatementMetric(BaseModel):
    model_config = ConfigDict(frozen=True)

    query_id: int
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    rows: int | None
    share_pct: float


class PerformanceMetrics(BaseModel):
    model_config = ConfigDict(frozen=True)

    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_note: str = ("estimated from pg_stat_statements: each statement's mean time, weighted by its calls "
                         "(not a true per-call distribution)")
    cache_hit_ratio: float | None = None
    connections_used: int | None = None
    max_connections: int | None = None
    transactions_per_s: float | None = None
    statements_tracked: int = 0
    top_statements: list[StatementMetric] = Field(default_factory=list)


class AuditReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: int = REPORT_SCHEMA
    generated_at: datetime
    dbtop_version: str
    target: str | None
    system: dict[str, str]
    project: str | None = None
    scores: Scores
    findings: list[FindingRow]
    metrics: PerformanceMetrics | None
    rule_failures: list[dict[str, str]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    alembic: list[AlembicChain] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s.label: sum(1 for r in self.findings if r.finding.severity == s) for s in sorted(Severity, reverse=True)}

    def worst(self) -> Severity | None:
        return max((r.finding.severity for r in self.findings), default=None)


def weighted_percentile(points: list[tuple[float, int]], q: float) -> float | None:
    """The q-quantile of values weighted by counts."""
    total = sum(w for _, w in points)
    if total == 0:
        return None
    threshold = q * total
    running = 0
    ordered = sorted(points)
    for value, weight in ordered:
        running += weight
        if running >= threshold:
            return value
    return ordered[-1][0]


def performance_metrics(snapshot: Snapshot) -> PerformanceMetrics:
    entries = [s for s in snapshot.statements.entries if not s.from_dbtop and s.toplevel and s.calls]
    points = [(s.mean_time_ms, s.calls) for s in entries]
    total = sum(s.total_time_ms for s in entries) or 1.0
    top = sorted(entries, key=lambda s: -s.total_time_ms)[:TOP_STATEMENTS]
    activity = snapshot.postgres.activity if snapshot.postgres else None
    hit_ratio = activity.hit_ratio_since_reset if activity else None
    extra = {}
    if snapshot.engine == "mongo":
        extra["latency_note"] = (f"estimated from MongoDB's {snapshot.statements.extension_version or 'profiler'}: "
                                 "each operation kind's mean time, weighted by its calls")
    return PerformanceMetrics(
        **extra,
        latency_p50_ms=weighted_percentile(points, 0.50), latency_p95_ms=weighted_percentile(points, 0.95),
        latency_p99_ms=weighted_percentile(points, 0.99), cache_hit_ratio=hit_ratio,
        connections_used=snapshot.connections_used,
        max_connections=snapshot.server.max_connections if snapshot.server else None,
        transactions_per_s=activity.transactions_per_s if activity else None,
        statements_tracked=len(entries),
        top_statements=[StatementMetric(query_id=s.query_id, query=clean(s.query, 500), calls=s.calls,
                                        total_time_ms=s.total_time_ms, mean_time_ms=s.mean_time_ms, rows=s.rows,
                                        share_pct=100 * s.total_time_ms / total) for s in top])


def system_information(snapshot: Snapshot | None) -> dict[str, str]:
    if snapshot is None or snapshot.server is None:
        return {}
    server = snapshot.server
    settings = server.settings
    rep = snapshot.replication
    info = {
        "Target": snapshot.target,
        "Engine": f"{ENGINE_TITLES.get(server.engine, server.engine)} {server.version}"
                  + (f" (replica set {server.replica_set})" if server.replica_set else ""),
        "Role": "standby" if server.is_standby else "primary",
        "Standbys": str(len(rep.standbys)) if rep else "unknown",
        "Database": server.database,
        "Database size": size(server.database_size_bytes or server.database_size_estimate_bytes),
        "Uptime": duration(server.uptime_s),
        "Connections": f"{snapshot.connections_used} of "
                       + ("max_connections" if server.engine == "postgres" else "the total accepted")
                       + f" {server.max_connections}",
        "Examined as": f"{server.current_user}" + (" (superuser)" if server.is_superuser else
                                                    f" ({', '.join(server.monitoring_roles) or 'no monitoring role'})"),
    }
    for name in ("shared_buffers", "work_mem", "wal_level", "archive_mode", "ssl", "password_encryption",
                 "shared_preload_libraries"):
        if name in settings:
            info[name] = settings[name]
    if snapshot.statements.extension_version:
        source = "pg_stat_statements" if server.engine == "postgres" else "slow operations from"
        info[source] = snapshot.statements.extension_version
    return info


def build_report(*, findings: list[Finding], snapshot: Snapshot | None, generated_at: datetime, dbtop_version: str,
                 project: str | None = None, rule_failures: list[RuleFailure] | None = None,
                 notes: list[str] | None = None, alembic: list[AlembicChain] | None = None,
                 project_in_git: bool = False) -> AuditReport:
    ctx = AuditContext(snapshot=snapshot, project_audited=project is not None, project_in_git=project_in_git)
    scores = score(findings, ctx)
    levels = {a.area: a.level for a in scores.areas}
    # The level once a finding is fixed depends on its area and rule only: score each pair once
    # (thousands of findings of one rule would otherwise re-score the area thousands of times).
    recommended: dict[tuple[str, str], int | None] = {}
    for f in findings:
        if (f.area, f.rule) not in recommended:
            recommended[f.area, f.rule] = level_without(findings, f, ctx)
    rows = [FindingRow(finding=f, current_level=levels[f.area], recommended_level=recommended[f.area, f.rule])
            for f in sorted(findings, key=Finding.sort_key)]
    live = snapshot is not None and snapshot.reachable
    return AuditReport(
        generated_at=generated_at, dbtop_version=dbtop_version, target=snapshot.target if snapshot else None,
        system=system_information(snapshot), project=project, scores=scores, findings=rows,
        metrics=performance_metrics(snapshot) if live else None,
        rule_failures=[{"rule": r.rule, "error": r.error} for r in rule_failures or []], notes=list(notes or []),
        alembic=list(alembic or []))


# -- Markdown -----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return clean(value, 400).replace("|", "\\|") if value is not None else "-"


def _level(level: int | None) -> str:
    return f"{level}/5" if level is not None else "not assessed"


def _capped(rows: list[FindingRow]) -> tuple[list[FindingRow], dict[str, list[FindingRow]]]:
    """The rows to write out, at most PER_RULE_IN_MARKDOWN per rule (the worst, as rows come sorted),
    and the rest by rule: on a database with thousands of tables one rule can find thousands of
    objects, and a report is read by people (the JSON keeps every finding)."""
    shown: list[FindingRow] = []
    rest: dict[str, list[FindingRow]] = {}
    seen: dict[str, int] = {}
    for row in rows:
        rule = row.finding.rule
        seen[rule] = seen.get(rule, 0) + 1
        if seen[rule] <= PER_RULE_IN_MARKDOWN:
            shown.append(row)
        else:
            rest.setdefault(rule, []).append(row)
    return shown, rest


def _more_line(rule: str, hidden: list[FindingRow]) -> str:
    worst = max(r.finding.severity for r in hidden)
    subjects = ", ".join(r.finding.evidence[0].subject for r in hidden[:5] if r.finding.evidence)
    return (f"{len(hidden):,} more `{rule}` finding(s), up to {worst.label}: {_cell(subjects)}"
            + (", …" if len(hidden) > 5 else "") + " (every one is in `--format json`)")


def to_markdown(report: AuditReport) -> str:
    out: list[str] = []
    w = out.append
    subject = report.system.get("Database") or report.project or "application"
    w(f"# Database audit report: {subject}")
    w("")
    w(f"Generated {report.generated_at:%Y-%m-%d %H:%M %Z} by dbtop {report.dbtop_version}"
      + (f" against `{report.target}`" if report.target else "")
      + (f", with the application repository `{report.project}`" if report.project else "") + ".")
    w("")
    w("## System information")
    w("")
    if report.system:
        w("| Item | Value |")
        w("|---|---|")
        for key, value in report.system.items():
            w(f"| {_cell(key)} | {_cell(value)} |")
    else:
        w("No live database was examined.")
    w("")
    w("## Executive summary")
    w("")
    w(f"**Overall maturity level: {_level(report.scores.overall)}** — {report.scores.overall_justification}.")
    w("")
    counts = report.counts()
    w(f"{len(report.findings)} findings: " + ", ".join(f"{n} {label}" for label, n in counts.items()) + ".")
    w("")
    urgent = [r.finding for r in report.findings if r.finding.severity >= Severity.HIGH][:8]
    if urgent:
        w("Most urgent:")
        w("")
        for f in urgent:
            w(f"- **{f.severity.label}** — {_cell(f.title)}")
        w("")
    w("| Area | Level | Findings |")
    w("|---|---|---|")
    for area in report.scores.areas:
        w(f"| {area.title} | {_level(area.level)} | {len(area.finding_ids)} |")
    w("")
    by_area: dict[str, list[FindingRow]] = {}
    for row in report.findings:
        by_area.setdefault(row.finding.area, []).append(row)
    for number, area in enumerate(report.scores.areas, 1):
        w(f"## {number}. {area.title} — level {_level(area.level)}")
        w("")
        w(area.justification[0].upper() + area.justification[1:] + ".")
        w("")
        if area.checklist:
            w("Checklist:")
            w("")
            for item in area.checklist:
                mark = {"done": "x", "not done": " ", "not checked": " "}[item.status]
                note = "" if item.status == "done" else f" — {item.status}" + (f" ({_cell(item.note)})" if item.note else "")
                w(f"- [{mark}] {item.item}{note}")
            w("")
        if area.area == "migrations":
            for chain in report.alembic:
                w(f"Alembic history in `{chain.directory}` ({len(chain.revisions)} revisions, "
                  f"{len(chain.heads)} head(s)), as it is:")
                w("")
                w("```")
                out.extend(chain.chain or ["(no revision links)"])
                w("```")
                w("")
                for line in chain.breaks:
                    w(f"- breaks: {_cell(line)}")
                if chain.breaks:
                    w("")
        rows, hidden = _capped(by_area.get(area.area, []))
        if rows:
            w("| Finding | Severity | Impact | Current level | Recommended level |")
            w("|---|---|---|---|---|")
            for row in rows:
                f = row.finding
                w(f"| {_cell(f.title)} | {f.severity.label} | {_cell(f.impact)} | {_level(row.current_level)} | "
                  f"{_level(row.recommended_level)} |")
            w("")
            for rule, more in hidden.items():
                w(f"- {_more_line(rule, more)}")
            if hidden:
                w("")
            for row in rows:
                f = row.finding
                w(f"**{_cell(f.title)}** (`{f.id}`)")
                w("")
                for ev in f.evidence[:10]:
                    where = f" ({ev.location})" if ev.location else ""
                    w(f"- {_cell(ev.subject)}{where}: {_cell(ev.detail)}")
                w(f"- Fix: {_cell(f.fix)}")
                if f.statement:
                    w("")
                    w("```sql" if f.source == "database" else "```")
                    w(f.statement)
                    w("```")
                w("")
        else:
            w("No findings in this area.")
            w("")
    w("## Performance metrics")
    w("")
    m = report.metrics
    if m is None:
        w("No live database was examined.")
    else:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.2f} ms"
        w("| Metric | Value |")
        w("|---|---|")
        w(f"| Statement latency P50 (estimate) | {ms(m.latency_p50_ms)} |")
        w(f"| Statement latency P95 (estimate) | {ms(m.latency_p95_ms)} |")
        w(f"| Statement latency P99 (estimate) | {ms(m.latency_p99_ms)} |")
        w(f"| Cache hit ratio | {'-' if m.cache_hit_ratio is None else f'{100 * m.cache_hit_ratio:.2f}%'} |")
        w(f"| Connections used | {m.connections_used} of {m.max_connections} |")
        w(f"| Statements tracked | {m.statements_tracked} |")
        w("")
        w(f"Latencies are {m.latency_note}.")
        w("")
        if m.top_statements:
            w("Top statements by total time:")
            w("")
            w("| # | Calls | Mean | Total | Share | Rows | Statement |")
            w("|---|---|---|---|---|---|---|")
            for i, s in enumerate(m.top_statements, 1):
                w(f"| {i} | {s.calls:,} | {s.mean_time_ms:.2f} ms | {s.total_time_ms / 1000:.1f} s | "
                  f"{s.share_pct:.1f}% | {'-' if s.rows is None else f'{s.rows:,}'} | `{_cell(s.query)[:200]}` |")
    w("")
    w("## Action items")
    w("")
    if not report.findings:
        w("None: no finding.")
    rows, hidden = _capped(report.findings)
    for i, row in enumerate(rows, 1):
        f = row.finding
        by = f" — in dbtop: {remedy(f.addressed_by)}" if f.addressed_by else ""
        w(f"{i}. **{f.severity.label}** [{AREA_TITLES[f.area]}] {_cell(f.title)}: {_cell(f.fix)}{by}")
    for rule, more in hidden.items():
        w(f"- and {_more_line(rule, more)}")
    w("")
    if report.rule_failures or report.notes:
        w("## Notes")
        w("")
        for note in report.notes:
            w(f"- {_cell(note)}")
        for failure in report.rule_failures:
            w(f"- rule {failure['rule']} could not run: {_cell(failure['error'])}")
        w("")
    # Titles, evidence and justifications quote names and texts from the database: whatever place
    # forgot to clean its piece, no control character or bidi override leaves in the report.
    return clean("\n".join(out), one_line=False)
