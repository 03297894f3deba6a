"""`dbtop audit [TARGET] [--project PATH]`: the findings of a live database and of an application's
repository, scored and written as a Markdown or JSON report; `--fail-on` makes it a CI gate."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timezone
from pathlib import Path

from ...profiles.target import TargetError
from ..version import package_version
from .common import TARGET_HELP, add_read_only, add_timeouts, collector_options, connected, fail, make_collector

SEVERITY_NAMES = ("critical", "high", "medium", "low", "info")
FAIL_ON_STATUS = 3  # 1 is "the server failed", as for every command


def audit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop audit",
        description="Audit a database (one snapshot plus the catalog: indexes, constraints, sequences, views, "
                    "backups, settings) and, with --project, an application's repository (migrations, config "
                    "files, connection URLs; files are read, never run). Writes a report scored by area. With "
                    "--project and no TARGET only the repository is audited.",
        epilog="exit status: 0 the report was written; 1 the database could not be read; 2 bad input or a "
               "target that cannot be reached; 3 --fail-on: a finding at or above that severity exists.")
    parser.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--project", type=Path, metavar="PATH", help="an application repository to audit too")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="report format (default md)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--fail-on", choices=SEVERITY_NAMES, metavar="SEVERITY",
                        help="exit 3 when a finding at or above this severity exists "
                             f"({', '.join(SEVERITY_NAMES)})")
    add_read_only(parser, "accepted for symmetry: audit never changes the server")
    add_timeouts(parser)
    return parser


def run(argv: list[str]) -> int:
    args = audit_parser().parse_args(argv)
    if args.project is not None and not args.project.is_dir():
        return fail(f"--project {args.project}: no such directory: give the path of the application's repository")
    if args.output is not None and not args.output.parent.is_dir():
        return fail(f"--output {args.output}: directory {args.output.parent} does not exist")
    snapshot = None
    policy = None
    if args.target is not None or args.project is None:
        from ...engines.errors import ConnectError

        options = {**collector_options(args), "catalog_first_after_s": 0}
        try:
            collector, _ = make_collector(args.target, options)
            policy = collector.policy
            taken: list = []
            asyncio.run(_snapshot(collector, options, taken))
            snapshot = taken[0]
        except (TargetError, ConnectError) as exc:
            return fail(str(exc))
        if not snapshot.reachable:
            return fail(f"the audit could not read the database: {snapshot.error}", status=1)
    from ...findings.engine import Thresholds, evaluate
    from ...findings.report import build_report, to_markdown

    findings, failures = [], []
    notes = []
    if snapshot is not None:
        findings, failures = evaluate(snapshot, Thresholds.of(policy))
        notes += [f"{name} not read: {part.reason}" + (f" (fix: {part.fix})" if part.fix else "")
                  for name, part in snapshot.parts.items() if not part.available]
    project, alembic, in_git = None, [], False
    if args.project is not None:
        from ...findings.project import audit_project

        max_connections = snapshot.server.max_connections if snapshot and snapshot.server else None
        catalog = snapshot.postgres.catalog if snapshot and snapshot.postgres else None
        result = audit_project(args.project, max_connections=max_connections, catalog=catalog,
                               thresholds=Thresholds.of(policy))
        findings += result.findings
        project, in_git = str(args.project), result.in_git
        alembic = [result.alembic] if result.alembic else []
        notes += [f"project: {note}" for note in result.notes]
    report = build_report(findings=findings, snapshot=snapshot, generated_at=datetime.now(timezone.utc),
                          dbtop_version=package_version(), project=project, rule_failures=failures, notes=notes,
                          alembic=alembic, project_in_git=in_git)
    text = report.model_dump_json(indent=2) if args.format == "json" else to_markdown(report)
    if args.output is not None:
        args.output.write_text(text + "\n")
        print(f"report written to {args.output}: {len(report.findings)} findings, overall level "
              f"{report.scores.overall if report.scores.overall is not None else 'not assessed'}", file=sys.stderr)
    else:
        print(text)
    if args.fail_on is not None:
        from ...findings.model import Severity

        threshold = Severity.parse(args.fail_on)
        worst = report.worst()
        if worst is not None and worst >= threshold:
            print(f"failing: a {worst.label} finding is at or above --fail-on {args.fail_on}", file=sys.stderr)
            return FAIL_ON_STATUS
    return 0


async def _snapshot(collector, options: dict, taken: list) -> None:
    """The snapshot is handed back in `taken`, not returned: asyncio.run reprs its main task on the way out
    (the SIGINT handler it installed is a partial holding the task, which signal.getsignal's enum lookup puts
    in an error message), and a finished task's repr holds its result's: the whole snapshot, ~140 ms of CPU
    on a 5,000-table catalog."""
    collector = await connected(collector, options)
    try:
        taken.append(await collector.snapshot())
    finally:
        await collector.close()
