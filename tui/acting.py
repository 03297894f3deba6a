"""Guarded actions in the dashboard: a panel (or the palette, or a finding) asks for an action on
what it shows; the app plans it off the screen's loop, shows the plan (tui/confirm.py), runs it on
a thread and an event loop of its own, so neither the screen nor the monitor ever waits for it,
and writes the journal line. One action per object at a time; Ctrl+X cancels a running one.
In read-only mode every action is refused, whoever asks."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timezone
from typing import Any

from rich.text import Text
from textual.binding import Binding

from ..actions.journal import Journal
from ..actions.plan import Outcome, Plan, ProgressUpdate, Scalar, Status
from ..findings.wording import clean, duration
from ..panels.base import ActionRequested
from .confirm import ConfirmScreen
from .plan_text import entry_line, entry_result, outcome_line

BACKUP_ACTIONS = frozenset({"backup", "verify-backup", "prune-backups", "pgbackrest-backup", "pgbackrest-verify"})
REFRESH_LOG_ACTIONS = frozenset({"install-refresh-log", "uninstall-refresh-log"})
REPLICA_SET_ACTIONS = frozenset({"step-down", "freeze-member"})
# Actions sent to the cluster's manager (Patroni): each acts on the whole cluster.
MANAGER_ACTIONS = frozenset({"switchover", "failover", "pause", "resume"})
# A table, a view and an index are all relations: a VACUUM and a CREATE INDEX on one table wait for each other.
RELATION_PARAMS = ("table", "view", "index")
READ_ONLY_REFUSAL = "read-only: dbtop was started with --read-only, or the profile says read_only = true"

ACTION_BINDINGS = [
    Binding("J", "journal", "Journal", show=False),
    Binding("ctrl+x", "cancel_action", "Cancel action", show=False),
]


def objects_of(action: str, params: dict[str, Scalar]) -> frozenset[str]:
    """What an action works on, to keep to one action per object at a time."""
    if action in BACKUP_ACTIONS:
        return frozenset({"backups"})
    if action in REFRESH_LOG_ACTIONS:
        return frozenset({"refresh-log"})
    if action in REPLICA_SET_ACTIONS:
        return frozenset({"replica-set"})
    if action in MANAGER_ACTIONS:
        return frozenset({"cluster"})
    objects = {f"pid:{pid}" for pid in params.get("pids") or ()}  # type: ignore[union-attr]
    if params.get("opid") is not None:
        objects.add(f"opid:{params['opid']}")
    objects |= {f"relation:{params[k]}" for k in RELATION_PARAMS if params.get(k)}
    if params.get("slot"):
        objects.add(f"slot:{params['slot']}")
    return frozenset(objects or {action})


def describe_params(params: dict[str, Scalar]) -> str:
    shown = []
    for key, value in params.items():
        if isinstance(value, (tuple, list)):
            value = ",".join(map(str, value))
        shown.append(f"{key} {value}")
    return clean(" ".join(shown), 80)


class ActionRun:
    """One confirmed plan running on a thread with its own event loop. `cancel` cancels the
    action's task (the engine's runner cancels the action's own backend and answers 'cancelled')."""

    def __init__(self, plan: Plan, typed: str, objects: frozenset[str], typed_second: str | None = None):
        self.plan = plan
        self.typed = typed
        self.typed_second = typed_second
        self.objects = objects
        self.started = time.monotonic()
        self.progress: ProgressUpdate | None = None
        self.cancel_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._lock = threading.Lock()

    def execute(self, collector: Any, on_progress) -> Outcome:
        """Run the plan (blocking: call it on a thread); always an Outcome, never an exception."""
        return asyncio.run(self._run(collector, on_progress))

    async def _run(self, collector: Any, on_progress) -> Outcome:
        started = datetime.now(timezone.utc)
        with self._lock:
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            cancel_now = self.cancel_requested

        def outcome(status: Status, detail: str, error: str | None = None) -> Outcome:
            return Outcome(action=self.plan.action, target=self.plan.target, status=status, detail=detail,
                           error=error, started_at=started, finished_at=datetime.now(timezone.utc))

        def progress(update: ProgressUpdate) -> None:
            self.progress = update
            on_progress(self)

        if cancel_now:
            return outcome("cancelled", "cancelled before it started: nothing ran")
        try:
            return await collector.run(self.plan, progress)
        except asyncio.CancelledError:
            return outcome("cancelled", "cancelled while running: check whether it took effect")
        except Exception as exc:  # noqa: BLE001 - reported and journaled, never raised into the app
            from ..engines.errors import ActionRefused

            status: Status = "refused" if isinstance(exc, ActionRefused) else "failed"
            return outcome(status, f"nothing ran: {clean(exc, 300)}" if status == "refused"
                           else "the action failed", clean(exc, 300))

    def cancel(self) -> None:
        with self._lock:
            self.cancel_requested = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)

    def status_text(self) -> str:
        text = f"{self.plan.action} {describe_params(self.plan.params)}".strip()
        update = self.progress
        if self.cancel_requested:
            text += " — cancelling"
        elif update is not None:
            text += f" — {clean(update.phase, 60)}"
            if update.fraction is not None:
                text += f" {update.fraction:.0%}"
            elif update.done is not None:
                text += f" {update.done:g}{(' ' + update.unit) if update.unit else ''}"
        return f"{text} ({duration(time.monotonic() - self.started)})"


class ActionsMixin:
    """The app's side of the guarded actions (mixed into DbtopApp, which provides `poller`,
    `notify`, `push_screen`, `run_worker`, `call_from_thread`)."""

    read_only: bool
    journal: Journal

    def init_actions(self, read_only: bool, journal: Journal | None) -> None:
        self.read_only = read_only
        self.forced_read_only = read_only  # --read-only: stays when another profile is picked
        self._action_line_hidden = False
        self.journal = journal or Journal()
        self.running: list[ActionRun] = []
        self.planning: set[frozenset[str]] = set()

    # -- asking ----------------------------------------------------------------------------------
    def on_action_requested(self, message: ActionRequested) -> None:
        message.stop()
        self.request_action(message.action, dict(message.params))

    def request_action(self, action: str, params: dict[str, Scalar]) -> bool:
        """Plan `action` and show the plan; False when refused at once (read-only, busy)."""
        if self.read_only:
            self.notify(f"{action} refused: {READ_ONLY_REFUSAL}", title="read-only", severity="warning",
                        markup=False)
            self.run_worker(self._journal_refusal(action, params, READ_ONLY_REFUSAL), group="journal")
            return False
        objects = objects_of(action, params)
        busy = next((run for run in self.running if run.objects & objects), None)
        if busy is not None or any(objects & planned for planned in self.planning):
            what = f"{busy.plan.action} is running on it" if busy else "it is being planned"
            self.notify(f"{action} {describe_params(params)} refused: {what}; one action per object at a time "
                        "(Ctrl+X cancels the running one)", severity="warning", markup=False)
            return False
        self.planning.add(objects)
        self.notify(f"planning {action} {describe_params(params)}…", markup=False, timeout=2)
        self.run_worker(self._plan(action, params, objects), group="actions")
        return True

    async def _plan(self, action: str, params: dict[str, Scalar], objects: frozenset[str]) -> None:
        collector = self.poller.collector
        try:
            plan = await asyncio.to_thread(asyncio.run, collector.plan(action, **params))
        except Exception as exc:  # noqa: BLE001 - an unknown action, a lost connection: said in one line
            self.planning.discard(objects)
            self.notify(clean(exc, 300), title=f"{action} not planned", severity="error", markup=False)
            return
        self.planning.discard(objects)

        screen = ConfirmScreen(plan)

        def confirmed(typed: str | None) -> None:
            if typed is not None:
                self.start_action(plan, typed, screen.typed_second)

        self.clear_notifications()  # "planning …" would cover the field to type in
        self.push_screen(screen, callback=confirmed)

    # -- running ---------------------------------------------------------------------------------
    def start_action(self, plan: Plan, typed: str, typed_second: str | None = None) -> ActionRun | None:
        if self.read_only:  # the profile was switched to a read-only one while the plan was shown
            self.notify(f"{plan.action} refused: {READ_ONLY_REFUSAL}", severity="warning", markup=False)
            return None
        objects = objects_of(plan.action, dict(plan.params))
        if any(run.objects & objects for run in self.running):
            self.notify(f"{plan.action} refused: another action is running on it", severity="warning",
                        markup=False)
            return None
        run = ActionRun(plan, typed, objects, typed_second)
        self.running.append(run)
        self.actions_changed()
        self.run_worker(self._run(run, self.poller.collector), group="actions")
        return run

    async def _run(self, run: ActionRun, collector: Any) -> None:
        def progressed(_: ActionRun) -> None:  # on the action's thread
            self.call_from_thread(self.actions_changed)

        try:
            outcome = await asyncio.to_thread(run.execute, collector, progressed)
        finally:
            self.running.remove(run)
            self.actions_changed()
        try:
            await asyncio.to_thread(self.journal.record, run.plan, outcome, typed=run.typed,
                                    typed_second=run.typed_second)
        except OSError as exc:
            self.notify(f"the journal could not be written: {clean(exc, 200)}", severity="error", markup=False)
        severity = {"done": "information", "cancelled": "warning"}.get(outcome.status, "error")
        self.notify(outcome_line(outcome), title=f"{run.plan.action} {outcome.status}", severity=severity,
                    markup=False, timeout=10)
        self.action_finished(run, outcome)
        reread_after = getattr(collector, "reread_after", None)  # optional in the collector protocol
        if reread_after is not None:
            reread_after(run.plan.action)  # now that the journal line is written (see the collector)
        self.poller.wake()  # the next snapshot shows the effect

    async def _journal_refusal(self, action: str, params: dict[str, Scalar], reason: str) -> None:
        target = getattr(getattr(self.poller.collector, "target", None), "label", "unknown")
        try:
            await asyncio.to_thread(self.journal.append, target=target, action=action, outcome="refused",
                                    profile=getattr(self, "profile", None), error=reason,
                                    detail={"params": {k: list(v) if isinstance(v, tuple) else v
                                                       for k, v in params.items()}})
        except OSError as exc:
            self.notify(f"the journal could not be written: {clean(exc, 200)}", severity="error", markup=False)

    def action_cancel_action(self) -> None:
        if not self.running:
            self.notify("no action is running", markup=False)
            return
        run = self.running[-1]
        run.cancel()
        self.notify(f"cancelling {run.plan.action}…", markup=False)
        self.actions_changed()

    def actions_changed(self) -> None:
        """Redraw the running actions' line (hidden when none runs)."""
        if not self.running and self._action_line_hidden:
            return  # every second while nothing runs: not even a walk of the screen to find the line
        status = self.query("#action-status")
        if not status:
            return
        line = status.first()
        if not self.running:
            line.add_class("hidden")
            self._action_line_hidden = True
            return
        self._action_line_hidden = False
        text = Text("running: ", style="bold")
        text.append(" | ".join(run.status_text() for run in self.running))
        text.append(" · Ctrl+X cancels", style="bold")
        line.update(text)
        line.remove_class("hidden")

    def action_finished(self, run: ActionRun, outcome: Outcome) -> None:
        """Hook for the app: forget marks once they were acted on."""

    # -- the journal screen ----------------------------------------------------------------------
    def journal_page(self, limit: int = 20) -> list[Text]:
        running = Text("running\n", style="bold")
        running.append("\n".join(run.status_text() for run in self.running) or "nothing")
        recent = list(self.journal.entries())[-limit:]
        entries = Text(f"last {len(recent)} journal entries ({self.journal.path})\n", style="bold")
        for entry in reversed(recent):
            entries.append(f"{entry_line(entry)}  {entry_result(entry)}\n")
        if not recent:
            entries.append("no entries yet")
        hint = Text("dbtop journal --verify checks that no line was edited, inserted or removed")
        return [running, entries, hint]
