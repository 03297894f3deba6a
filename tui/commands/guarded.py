"""What `dbtop act` and `dbtop backup` share: one guarded action from the command line. The plan is
printed whole; a terminal is asked for the text the confirm screen would ask; `--confirm TEXT` runs
it unattended (cron); without either nothing runs. Every run, refusal and failure is journaled.

Exit status: 0 done; 1 failed or cancelled while running (journaled); 2 refused or bad input."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from ...actions.journal import Journal
from ...actions.plan import Outcome, Plan, ProgressUpdate, Scalar
from ...profiles.target import TargetError
from ..plan_text import confirm_prompt, outcome_line, plan_as_text
from .common import add_read_only, add_timeouts, collector_options, connected, fail, make_collector

READ_ONLY = ("refused: read-only (--read-only, or the profile says read_only = true; "
             "'dbtop profile edit NAME --read-write' allows actions)")
EXIT = {"done": 0, "failed": 1, "cancelled": 1, "refused": 2}
# How a second confirmation (Plan.second_confirm_text) is given on the command line.
SECOND_CONFIRM_OPTION = "--accept-split-brain"


def add_guard_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--confirm", metavar="TEXT",
                        help="run without asking: TEXT is what the confirm screen asks to be typed (the pid, "
                             "the object's or the database's name; anything for a plan that asks nothing)")
    add_read_only(parser)
    add_timeouts(parser)


def interactive() -> bool:
    return sys.stdin.isatty()


class GuardedRun:
    """One target's collector, opened once, for one or more actions in a row."""

    def __init__(self, args: argparse.Namespace, ask: Callable[[str], str] = input, journal: Journal | None = None):
        self.args = args
        self.ask = ask
        self.journal = journal or Journal()
        self.options = collector_options(args)
        self.collector = None
        self.is_connected = False
        self.read_only = bool(args.read_only)

    async def open(self) -> int | None:
        """Connect; an exit status when that fails."""
        from ...engines.errors import ConnectError

        try:
            collector, profile = make_collector(self.args.target, self.options)
            self.read_only = self.read_only or bool(profile is not None and profile.read_only)
            if self.read_only:  # every action is refused: no need to reach the server
                self.collector = collector
                return None
            self.collector = await connected(collector, self.options)
            self.is_connected = True
        except (TargetError, ConnectError) as exc:
            return fail(str(exc))
        return None

    async def close(self) -> None:
        if self.is_connected:
            await self.collector.close()

    def target_label(self) -> str:
        return getattr(getattr(self.collector, "target", None), "label", None) or str(self.args.target or "")

    def refuse(self, action: str, reason: str, *, plan: Plan | None = None, typed: str | None = None,
               typed_second: str | None = None) -> int:
        """Journal a refusal (nothing ran) and say it: exit 2."""
        try:
            self.journal.append(target=plan.target.label if plan else self.target_label(), action=action,
                                outcome="refused", error=reason, typed=typed, typed_second=typed_second,
                                profile=plan.target.profile if plan else None,
                                statements=plan.runs if plan else None,
                                preconditions=list(plan.preconditions) if plan else None)
        except OSError as exc:
            print(f"dbtop: the journal could not be written: {exc}", file=sys.stderr)
        return fail(reason)

    async def act(self, action: str, params: dict[str, Scalar],
                  nothing_to_do: str | None = None) -> tuple[int, Plan | None]:
        """Plan, show, confirm, run and journal `action`: (exit status, the plan when one was made).
        `nothing_to_do` names a precondition whose failure, alone, means there is no work (nothing to
        prune): that is said and counts as done, so a cron line does not fail on a quiet night."""
        from ...engines.errors import ActionRefused, ConnectError

        if self.read_only:
            return self.refuse(action, f"{action} {READ_ONLY}"), None
        try:
            plan = await self.collector.plan(action, **params)
        except (ActionRefused, ConnectError) as exc:
            return fail(str(exc)), None
        if nothing_to_do and [p.name for p in plan.failed] == [nothing_to_do]:
            print(f"{action}: nothing to do ({plan.failed[0].detail or plan.failed[0].description})")
            return 0, plan
        print(plan_as_text(plan))
        if not plan.ready:
            return self.refuse(action, f"{action} refused: {confirm_prompt(plan)}", plan=plan), plan
        typed = await self.confirmation(plan)
        if typed is None:
            return self.refuse(action, f"{action} refused: no terminal to ask in; pass --confirm TEXT to run "
                                       "it unattended", plan=plan), plan
        if not self.confirmed(plan, typed):
            return self.refuse(action, f"{action} refused: {typed!r} does not confirm it "
                                       f"({confirm_prompt(plan)}); nothing ran", plan=plan, typed=typed), plan
        second = None
        if plan.second_confirm_text is not None:
            second = await self.second_confirmation(plan)
            if not plan.confirmed_by(typed, second):
                said = "nothing was typed" if second is None else f"{second!r} does not accept it"
                return self.refuse(action, f"{action} refused: {said} (the warnings above: type "
                                           f"{plan.second_confirm_text}, or pass {SECOND_CONFIRM_OPTION} unattended); "
                                           "nothing ran", plan=plan, typed=typed, typed_second=second), plan
        outcome = await self.run(plan, typed, second)
        print(outcome_line(outcome), file=sys.stdout if outcome.status == "done" else sys.stderr)
        return EXIT[outcome.status], plan

    async def confirmation(self, plan: Plan) -> str | None:
        if self.args.confirm is not None:
            return self.args.confirm
        if not interactive():
            return None
        prompt = (f"Type {plan.confirm_text} to run it (anything else cancels): " if plan.confirm_text is not None
                  else "Run it? Type yes: ")
        try:
            return await asyncio.to_thread(self.ask, prompt)
        except EOFError:
            return ""

    async def second_confirmation(self, plan: Plan) -> str | None:
        """What accepts the plan's warnings (split-brain): the command-line option, else asked in a
        terminal when the first text was asked there too; None when neither."""
        given = getattr(self.args, "second_confirm", None)
        if given is not None or self.args.confirm is not None or not interactive():
            return given
        try:
            return await asyncio.to_thread(self.ask, f"Type {plan.second_confirm_text} to accept the warnings above "
                                                     "(anything else cancels): ")
        except EOFError:
            return ""

    def confirmed(self, plan: Plan, typed: str) -> bool:
        if plan.confirm_text is None and self.args.confirm is None:
            return typed.strip().lower() in ("y", "yes")
        return plan.confirm_text is None or typed.strip() == plan.confirm_text

    async def run(self, plan: Plan, typed: str, typed_second: str | None = None) -> Outcome:
        shown: list[str] = []

        def progress(update: ProgressUpdate) -> None:
            line = update.phase + (f" {update.fraction:.0%}" if update.fraction is not None else "")
            if not shown or shown[-1] != line:
                shown.append(line)
                print(f"  … {line}", file=sys.stderr)

        try:
            outcome = await self.collector.run(plan, progress)
        except asyncio.CancelledError:
            from datetime import datetime, timezone

            now = datetime.now(timezone.utc)
            self.journal.record(plan, Outcome(action=plan.action, target=plan.target, status="cancelled",
                                              detail="interrupted: check whether it took effect",
                                              started_at=now, finished_at=now), typed=typed, typed_second=typed_second)
            raise
        try:
            self.journal.record(plan, outcome, typed=typed, typed_second=typed_second)
        except OSError as exc:
            print(f"dbtop: the journal could not be written: {exc}", file=sys.stderr)
        return outcome


def run_guarded(args: argparse.Namespace, steps: Callable[[GuardedRun], object],
                ask: Callable[[str], str] = input) -> int:
    """Open the target, hand it to `steps` (an async function returning an exit status), close it."""

    async def main() -> int:
        guarded = GuardedRun(args, ask)
        status = await guarded.open()
        if status is not None:
            return status
        try:
            return await steps(guarded)
        finally:
            await guarded.close()

    return asyncio.run(main())
