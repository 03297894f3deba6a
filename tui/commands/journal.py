"""`dbtop journal [--since 1h] [--json] [--verify]`: what dbtop's actions did, and whether the
journal is intact (each line carries the SHA-256 of the one before it)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ...actions.journal import Journal
from ...findings.wording import clean
from ..plan_text import entry_line, entry_result
from .common import add_read_only, fail

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since_arg(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use e.g. 30m, 1h, 7d")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


def journal_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop journal",
        description="The action journal ($XDG_STATE_HOME/dbtop/journal.jsonl): one line per action run, refused or "
                    "failed. --verify checks that no line was edited, inserted or removed (exit 1 if one was).")
    parser.add_argument("--since", type=since_arg, metavar="DURATION", help="only the last DURATION (30m, 1h, 7d)")
    parser.add_argument("--json", action="store_true", help="the entries as JSON lines")
    parser.add_argument("--verify", action="store_true", help="check the chain of hashes")
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    add_read_only(parser, "accepted for symmetry: the journal is only read")
    return parser


def run(argv: list[str]) -> int:
    try:
        args = journal_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    journal = Journal(args.file)
    if args.verify:
        result = journal.verify()
        if result.intact:
            print(f"intact: {result.lines} line(s), each following the one before ({journal.path})")
            return 0
        print(f"BROKEN: {journal.path} ({result.lines} line(s)):")
        for problem in result.problems:
            print(f"  - {problem}")
        return 1
    since = datetime.now(timezone.utc) - args.since if args.since else None
    try:
        entries = list(journal.entries(since))
    except OSError as exc:
        return fail(f"cannot read {journal.path}: {exc}")
    for entry in entries:
        if args.json:
            print(entry.model_dump_json())
            continue
        print(f"{entry_line(entry)}  {entry.os_user}@{entry.host}")
        for statement in entry.statements:
            print(f"    {clean(statement, 300)}")
        if entry.typed is not None:
            print(f"    typed: {clean(entry.typed, 80)}")
        if entry_result(entry):
            print(f"    {entry_result(entry)}")
    if not entries and not args.json:
        print("no journal entries" + (" in that time" if since else "") + f" ({journal.path})", file=sys.stderr)
    return 0
