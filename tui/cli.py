"""The `dbtop` command line: the command word picks a module of tui/commands/, which parses the rest.

    dbtop [TARGET]                      open the dashboard on TARGET (commands/dashboard.py)
    dbtop snapshot [TARGET] --json      print snapshots as JSON lines, for scripts and checks
    dbtop demo                          open the dashboard on a throwaway demo database
    dbtop profile COMMAND               connection profiles, their passwords in the OS keyring
    dbtop views COMMAND                 install or remove the materialized views' refresh log
    dbtop audit [TARGET]                findings, maturity scores and the audit report
    dbtop act ACTION TARGET [ARGS…]     one guarded action (terminate, cancel, refresh, vacuum …)
    dbtop backup take|verify|prune TARGET   backups, as guarded actions
    dbtop journal [--since 1h] [--verify]   what the actions did; whether the journal is intact
    dbtop --version

Errors the operator can fix are one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import gc
import sys
from importlib import import_module

COMMANDS = ("snapshot", "demo", "profile", "views", "audit", "act", "backup", "journal")


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    """The command word (None: the dashboard) and the arguments for it. Options written before the
    word (`dbtop --interval 5 snapshot URL`) are handed to the command as if written after it."""
    for i, word in enumerate(argv):
        if word in COMMANDS:
            return word, argv[:i] + argv[i + 1:]
        follows_option = i > 0 and argv[i - 1].startswith("-") and "=" not in argv[i - 1]
        if word == "--" or not (word.startswith("-") or follows_option):
            break
    return None, argv


def main(argv: list[str] | None = None) -> int:
    command, arguments = split_command(sys.argv[1:] if argv is None else argv)
    if command is None and arguments == ["--version"]:
        # What argparse's version action prints, without importing the dashboard (Textual, pydantic,
        # asyncpg: half a second) to print one line.
        from .version import package_version
        print(f"dbtop {package_version()}")
        return 0
    if command is None:
        # The dashboard's start makes some hundred thousand objects that live as long as it does
        # (modules, classes, pydantic's schemas, the stylesheet, the widgets): collecting while
        # they are made walked them again and again (a fifth of the start's CPU). The dashboard
        # turns the collector back on, with them frozen out of it, once it has drawn its screen
        # (tui/app.py, settle_garbage_collector).
        gc.disable()
    module = import_module(f".commands.{command or 'dashboard'}", __package__)
    try:
        return module.run(arguments)
    except KeyboardInterrupt:
        return 130
