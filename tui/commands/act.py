"""`dbtop act ACTION TARGET [ARGS…] [--confirm TEXT] [--read-only]`: one guarded action from a
shell or cron, planned, shown whole and confirmed exactly as in the dashboard (commands/guarded.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ...actions.plan import Scalar
from .common import TARGET_HELP
from .guarded import GuardedRun, add_guard_options, run_guarded

# verb -> (action id, its argument's name and help, how many values it takes)
VERBS: dict[str, tuple[str, str | None, str]] = {
    "terminate": ("terminate-session", "pids", "PID…: the sessions to terminate (pg_terminate_backend)"),
    "cancel": ("cancel-query", "pids", "PID…: the sessions whose query to cancel (pg_cancel_backend)"),
    "refresh": ("refresh-view", "view", "VIEW: the materialized view, schema.name"),
    "vacuum": ("vacuum", "table", "TABLE: schema.name"),
    "analyze": ("analyze", "table", "TABLE: schema.name"),
    "vacuum-analyze": ("vacuum-analyze", "table", "TABLE: schema.name"),
    "drop-index": ("drop-index", "index", "INDEX: schema.name (DROP INDEX CONCURRENTLY)"),
    "reindex": ("reindex", "index", "INDEX: schema.name (REINDEX INDEX CONCURRENTLY)"),
    "create-index": ("create-index", "table", "TABLE COLUMNS: schema.name and 'a,b' (CREATE INDEX CONCURRENTLY)"),
    "drop-slot": ("drop-slot", "slot", "SLOT: the replication slot's name"),
    "switchover": ("switchover", "candidate", "planned switchover through Patroni to --candidate NAME (POST /switchover)"),
    "failover": ("failover", "candidate", "failover through Patroni to --candidate NAME (POST /failover)"),
    "pause": ("pause", None, "pause Patroni: maintenance mode, no automatic failover (PATCH /config)"),
    "resume": ("resume", None, "resume Patroni after a pause (PATCH /config)"),
    "install-refresh-log": ("install-refresh-log", None, "record materialized view refreshes"),
    "uninstall-refresh-log": ("uninstall-refresh-log", None, "remove what install-refresh-log created"),
    "promote": ("promote", None, "make the standby TARGET the primary (pg_promote); refused on lag or paused "
                                 "replay, and needs --accept-split-brain while its primary still answers"),
}
# The action ids work as verbs too (terminate-session, cancel-query, refresh-view).
ALIASES = {action: verb for verb, (action, _, _) in VERBS.items() if action != verb}


def act_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop act",
        description="Run one guarded action: the plan is printed whole (what runs, on which server, what was "
                    "checked, the risk); in a terminal you type what it asks (the pid, the object's name); "
                    "--confirm TEXT runs it unattended. Every run and refusal goes to the journal (dbtop journal). "
                    "Exit status: 0 done, 1 failed (journaled), 2 refused or bad input.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="ACTION")
    for verb, (action, param, text) in VERBS.items():
        sub = verbs.add_parser(verb, aliases=[action] if action != verb else [], help=text, description=text)
        sub.add_argument("target", metavar="TARGET", help=TARGET_HELP)
        if param == "pids":
            sub.add_argument("values", nargs="+", metavar="PID", type=pid)
        elif verb == "create-index":
            sub.add_argument("values", nargs=2, metavar=("TABLE", "COLUMNS"))
        elif param == "candidate":
            sub.add_argument("--candidate", required=True, metavar="NAME", dest="values", type=lambda v: [v],
                             help="the Patroni member to lead (as the Replication panel lists it); "
                                  "--confirm takes the same name")
        elif param is not None:
            sub.add_argument("values", nargs=1, metavar=param.upper())
        if verb == "promote":
            sub.add_argument("--accept-split-brain", dest="second_confirm", action="store_const", const="split-brain",
                             help="promote even though its primary still answers (or dbtop cannot tell): two "
                                  "primaries; the same as typing split-brain in the confirm screen")
        add_guard_options(sub)
    return parser


def pid(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a process id")
    return int(text)


def action_params(verb: str, values: list) -> tuple[str, dict[str, Scalar]]:
    verb = ALIASES.get(verb, verb)
    action, param, _ = VERBS[verb]
    if param is None:
        return action, {}
    if param == "pids":
        return action, {"pids": tuple(dict.fromkeys(values))}
    if verb == "create-index":
        return action, {"table": values[0], "columns": values[1]}
    return action, {param: values[0]}


def run(argv: list[str], ask: Callable[[str], str] = input) -> int:
    try:
        args = act_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    action, params = action_params(args.verb, getattr(args, "values", []))

    async def steps(guarded: GuardedRun) -> int:
        status, _ = await guarded.act(action, params)
        return status

    return run_guarded(args, steps, ask)
