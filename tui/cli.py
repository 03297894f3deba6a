"""The `dbtop` command line: the command word picks a module of tui/commands/, which parses the rest.

    dbtop [TARGET]                      open the dashboard on TARGET (commands/dashboard.py)
    dbtop snapshot [TARGET] --json      print snapshots as JSON lines, for scripts and checks
    dbtop demo                          open the dashboard on a throwaway demo database
    dbtop profile COMMAND               connection profiles, their passwords in the OS keyring
    dbtop views COMMAND                 install or remove the materialized views' refresh log
    dbtop audit [TARGET]                findings, maturity scores and the audit report
    dbtop --version

Errors the operator can fix are one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import sys
from importlib import import_module

COMMANDS = ("snapshot", "demo", "profile", "views", "audit")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    module = import_module(f".commands.{command or 'dashboard'}", __package__)
    try:
        return module.run(argv[1:] if command else argv)
    except KeyboardInterrupt:
        return 130
