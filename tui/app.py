"""The dashboard: the overview strip over the panels, fed by the poller, keyboard first."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from datetime import datetime
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from rich.text import Text
from textual import constants as textual_constants
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.driver import Driver
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Static, TabbedContent, TabPane

from ..engines.base import Collector
from ..engines.snapshot import Snapshot
from ..findings.engine import RuleCache, RuleFailure, Thresholds, evaluate
from ..findings.model import Finding, Severity
from ..panels.backups import BackupsPanel
from ..panels.base import Panel, SessionChosen, content_key
from ..panels.findings import FindingsPanel
from ..panels.connections import ConnectionsPanel
from ..panels.locks import LocksPanel
from ..panels.overview import OverviewStrip
from ..panels.replication import ReplicationPanel
from ..panels.statements import StatementsPanel
from ..panels.mongo_views import MongoViewsPanel
from ..panels.views import ViewsPanel
from ..panels.text import clean, duration, literal
from ..themes import STYLESHEET, THEMES, default_theme_name, rich_color
from ..actions.journal import Journal
from ..actions.plan import Outcome
from ..panels.findings import finding_action
from .acting import ACTION_BINDINGS, ActionRun, ActionsMixin
from .dashboard_screen import DashboardScreen
from .footer import KeysFooter
from .poller import SnapshotPoller
from .tab_labels import alerts, panels_with_urgent_findings, tab_labels
from .screens import (DetailPage, DetailScreen, ProfilePicker, finding_page, keys_help, session_detail,
                      statement_detail, statement_page)

PANELS: list[tuple[str, str, type[Panel]]] = [
    ("connections", "Connections", ConnectionsPanel),
    ("locks", "Locks", LocksPanel),
    ("statements", "Slow queries", StatementsPanel),
    ("replication", "Replication", ReplicationPanel),
    ("views", "Views", ViewsPanel),
    ("views", "Views", MongoViewsPanel),  # one key, one panel per engine
    ("backups", "Backups", BackupsPanel),
    ("findings", "Findings", FindingsPanel),
]
# The panel on the first screen. The others are composed once it has drawn its first data (or as
# soon as one is asked for): composing all of them before it cost the start ~0.1 s.
FIRST_PANEL = "connections"

HANGUP_GRACE_S = 2.0
TICK_S = 1.0  # how often the clock looks at what ages on screen (the data, a countdown, running actions)
# The palette's actions on the whole target, by engine: (action, title, help).
PALETTE_ACTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "postgres": (
        ("backup", "Take a backup", "pg_dump into the profile's backup directory; shows the plan first"),
        ("prune-backups", "Prune backups", "delete what the retention policy lets go; shows the plan first"),
        ("install-refresh-log", "Install the refresh log", "record materialized view refreshes"),
        ("uninstall-refresh-log", "Uninstall the refresh log", "remove what install-refresh-log created")),
    "mongo": (
        ("backup", "Take a backup", "mongodump --archive --gzip into the profile's backup directory; shows the plan "
                                    "first"),
        ("prune-backups", "Prune backups", "delete what the retention policy lets go; shows the plan first"),
        ("step-down", "Step down the primary", "replSetStepDown with a 10 s catch-up; shows the plan first (D)"),
        ("freeze-member", "Freeze this member",
         "replSetFreeze 60 s: it does not seek election; shows the plan first (F)")),
}
# The app's actions on the dashboard itself (not the figures: pause, interval, theme, quit work everywhere).
DASHBOARD_ONLY = frozenset({"show_panel", "next_panel", "previous_panel", "filter_sessions", "zoom", "help",
                            "pick_profile", "journal"})


class SnapshotArrived(Message):
    def __init__(self, snapshot: Snapshot, poller: SnapshotPoller | None = None) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.poller = poller


class FindingsComputed(Message):
    """The rules' findings for a snapshot, computed on the poller's thread after the snapshot was
    posted: the screen never waits for the rules."""

    def __init__(self, snapshot: Snapshot, poller: SnapshotPoller, findings: list[Finding],
                 failures: list[RuleFailure]) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.poller = poller
        self.findings = findings
        self.failures = failures


class TargetDirectory(Protocol):
    """Where the profile picker finds targets: the connection profiles."""

    def entries(self) -> list[tuple[str, str]]:
        """(name, one-line description) of every profile, secrets left out."""

    def collector(self, name: str) -> Collector:
        """A collector for the named profile; raises with a one-line reason."""


class DbtopApp(ActionsMixin, App):
    """dbtop's dashboard. Give it a connected SnapshotPoller; it starts polling when mounted."""

    CSS_PATH = STYLESHEET
    TITLE = "dbtop"
    settles_garbage_collector = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Keys"),
        *(Binding(str(n), f"show_panel('{key}')", title, show=False)
          for n, (key, title) in enumerate(dict((key, title) for key, title, _ in PANELS).items(), 1)),
        Binding("tab", "next_panel", "Next panel", show=False, priority=True),
        Binding("shift+tab", "previous_panel", "Previous panel", show=False, priority=True),
        Binding("slash", "filter_sessions", "Filter", show=False),
        Binding("z", "zoom", "Zoom"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "reconnect", "Reconnect now", show=False),
        Binding("plus", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("t", "next_theme", "Theme", show=False),
        Binding("colon", "pick_profile", "Profiles", key_display=":"),
        *ACTION_BINDINGS,
    ]

    def get_default_screen(self) -> Screen:
        return DashboardScreen(id="_default")

    def get_driver_class(self) -> type[Driver]:
        """On Linux and other POSIX systems, Textual's driver with an input thread that sleeps until
        a key comes (tui/quiet_driver.py); elsewhere, or when TEXTUAL_DRIVER names one, Textual's."""
        if sys.platform == "win32" or textual_constants.DRIVER is not None:
            return super().get_driver_class()
        from .quiet_driver import QuietLinuxDriver

        return QuietLinuxDriver

    def __init__(self, poller: SnapshotPoller, theme_name: str | None = None, profile: str | None = None,
                 directory: TargetDirectory | None = None, read_only: bool = False, journal: Journal | None = None):
        super().__init__()
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # The tab underline slid for 0.3 s after each panel switch, a frame every 16 ms: CPU, and
            # bytes over the SSH link, for nothing the operator needs. TEXTUAL_ANIMATIONS=full brings it back.
            self.animation_level = "none"
        self.poller = poller
        self.profile = profile
        self.directory = directory
        self.init_actions(read_only or profile_read_only(poller.collector), journal)
        for theme in THEMES.values():
            self.register_theme(theme)
        self.theme = theme_name if theme_name in THEMES else default_theme_name()
        self.latest: Snapshot | None = None
        self.last_reachable: Snapshot | None = None
        self.disconnected_since: float | None = None
        self.last_error: str | None = None
        self.applied: dict[str, int] = {}
        # The rules' latest findings for this target: the app's state, which the Findings panel shows.
        self.findings: list[Finding] = []
        self.findings_failures: list[RuleFailure] = []
        self._urgent_of: tuple[list[Finding] | None, int, set[str]] = (None, 0, set())
        self._tab_labels_shown: tuple | None = None
        self._panels_stale = False  # whether the panels are marked stale (disconnected)
        self.findings_sequence = -1
        self.findings_taken_at: datetime | None = None
        # The panels that serve this target's engine, in key order.
        engine = getattr(poller.collector, "engine", "postgres")
        self.panel_specs = [spec for spec in PANELS if engine in spec[2].ENGINES]
        self._other_panels: asyncio.Task | None = None  # composing the panels after the first one

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        overview = OverviewStrip(id="overview")
        overview.profile = self.profile
        overview.read_only = self.read_only
        yield overview
        yield Static(id="connection-status", classes="hidden")
        yield Static(id="action-status", classes="hidden")
        with TabbedContent(id="panels", initial=FIRST_PANEL):
            for n, (key, title, panel_class) in enumerate(self.panel_specs, 1):
                with TabPane(f"{n} {title}", id=key):
                    if key == FIRST_PANEL:
                        yield panel_class(id=f"{key}-panel")
        yield KeysFooter()

    def other_panels_composed(self) -> asyncio.Task:
        """Compose the panels after the first one (once; awaiting the task waits until they are)."""
        if self._other_panels is None:
            self._other_panels = asyncio.create_task(self._compose_other_panels())
        return self._other_panels

    async def _compose_other_panels(self) -> None:
        dashboard = self.screen_stack[0]  # not a dialog opened meanwhile
        mounts = [dashboard.query_one(f"#{key}", TabPane).mount(panel_class(id=f"{key}-panel"))
                  for key, _, panel_class in self.panel_specs if key != FIRST_PANEL]
        for mounted in mounts:
            await mounted
        if not self.is_running:
            return  # quit meanwhile
        for panel in dashboard.query(Panel):
            panel.stale = self._panels_stale
        dashboard.query_one(FindingsPanel).set_findings(self.findings, self.findings_failures, self.findings_sequence)
        self.show_latest()  # a panel shown (by a click) before it was composed

    def start_composing_other_panels(self) -> None:
        """Once the first screen is drawn: compose the other panels, without waiting for them."""
        self.other_panels_composed()

    def composed_panel(self, key: str) -> Panel | None:
        """The panel of `key`, or None before it is composed (only the first one is at start)."""
        if key != FIRST_PANEL and (self._other_panels is None or not self._other_panels.done()):
            return None
        return self.panel(key)

    def on_mount(self) -> None:
        if self.settles_garbage_collector:
            self.call_after_refresh(settle_garbage_collector)
        # The first snapshot, of only what the first screen shows, is usually taken by now (while
        # Textual started): shown at once, the first screen is drawn with it, rather than drawn
        # empty and then again when the poller's message comes (a whole frame later or more). Only
        # that one: the rules do not check it, while a whole first snapshot goes through
        # start_polling's callback, which also has the rules check it.
        first = self.poller.take_first() if self.poller.reading_first_screen else None
        self.start_polling(self.poller)
        if first is not None:
            self.on_snapshot_arrived(SnapshotArrived(first, self.poller))
        self.set_interval(TICK_S, self.tick)
        self.update_tab_labels()
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_gone)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def start_polling(self, poller: SnapshotPoller) -> None:
        thresholds = Thresholds.of(poller.collector.policy)
        rule_cache = RuleCache()  # the catalog-only rules run once per catalog read

        def arrived(snapshot: Snapshot) -> None:  # on the poller's thread
            self.post_message(SnapshotArrived(snapshot, poller))
            # Not the first snapshot, of only what the first screen shows: the rules' first run
            # (their modules imported, their models built: ~30 ms of CPU) would take the GIL from
            # the drawing of that screen; the whole snapshot, read right after it, is checked.
            if snapshot.reachable and not poller.reading_first_screen:
                findings, failures = evaluate(snapshot, thresholds, rule_cache)
                self.post_message(FindingsComputed(snapshot, poller, findings, failures))

        poller.start(arrived)

    def on_unmount(self) -> None:
        self.poller.stop()

    def terminal_gone(self) -> None:
        """SIGHUP: the SSH session or the terminal window is gone. Exit; and since Textual's
        shutdown can block for ever writing to a terminal that no longer exists, make sure the
        process ends within HANGUP_GRACE_S whatever happens (there is no screen to restore)."""
        timer = threading.Timer(HANGUP_GRACE_S, os._exit, args=(129,))
        timer.daemon = True
        timer.start()
        self.exit(return_code=129)

    def panel(self, key: str) -> Panel:
        return self.query_one(f"#{key}-panel", Panel)

    def has_panel(self, key: str) -> bool:
        return any(k == key for k, _, _ in self.panel_specs)

    def active_panel_key(self) -> str:
        return self.query_one("#panels", TabbedContent).active or "connections"

    # -- snapshots -------------------------------------------------------------------------------
    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        if not self.is_running:
            return  # shutting down: the widgets may already be gone
        snapshot = message.snapshot
        if message.poller is not None and message.poller is not self.poller:
            return  # from the target the operator just switched away from
        if self.latest is not None and snapshot.sequence <= self.latest.sequence and snapshot is not self.latest:
            return
        self.latest = snapshot
        if snapshot.reachable:
            self.last_reachable = snapshot
            self.disconnected_since = None
            self.last_error = None
        else:
            if self.disconnected_since is None:
                self.disconnected_since = time.monotonic()
            self.last_error = snapshot.error
        self.show_latest()
        self.follow_detail()
        if message.poller is not None:
            self.call_after_refresh(message.poller.first_screen_drawn)
        if self._other_panels is None:
            self.call_after_refresh(self.start_composing_other_panels)

    def on_findings_computed(self, message: FindingsComputed) -> None:
        if not self.is_running:
            return
        if message.poller is not self.poller or message.snapshot.sequence < self.findings_sequence:
            return
        self.findings = message.findings
        self.findings_failures = message.failures
        self.findings_sequence = message.snapshot.sequence
        panel = self.composed_panel("findings")  # when not yet, it takes the findings once composed
        if panel is not None:
            panel.set_findings(message.findings, message.failures, message.snapshot.sequence)
        self.findings_taken_at = message.snapshot.taken_at
        self.follow_detail()
        if self.last_reachable is not None:
            self.update_tab_labels(self.last_reachable)
            if panel is not None and self.active_panel_key() == "findings" and self.screen is self.screen_stack[0]:
                panel.apply(self.last_reachable)

    def show_latest(self) -> None:
        """Apply the newest snapshot to the overview and the visible panel (hidden panels catch
        up when shown; nothing is drawn under an open modal)."""
        if not isinstance(self.screen, Screen) or self.screen is not self.screen_stack[0]:
            return
        overview = self.query_one(OverviewStrip)
        stale = self.disconnected_since is not None
        with self.batch_update():
            snapshot = self.last_reachable
            if snapshot is not None and self.applied.get("overview") != snapshot.sequence:
                overview.apply(snapshot)
                self.applied["overview"] = snapshot.sequence
                self.update_tab_labels(snapshot)
            key = self.active_panel_key()
            self.poller.focus(frozenset({key}))
            panel = self.composed_panel(key)
            if panel is not None and snapshot is not None and self.applied.get(key) != snapshot.sequence:
                panel.apply(snapshot)
                self.applied[key] = snapshot.sequence
            if stale != self._panels_stale:  # a walk of the whole screen: only when it changes
                for shown in self.query(Panel):
                    shown.stale = stale
                self._panels_stale = stale
            self.update_status()

    def update_tab_labels(self, snapshot: Snapshot | None = None) -> None:
        snapshot = snapshot or self.last_reachable
        tabs = self.query_one("#panels", TabbedContent)
        waiting = snapshot.blocking.blocked_count if snapshot else 0
        findings = self.findings
        if self._urgent_of[0] is not findings:  # thousands of findings on a big catalog: counted once per list
            self._urgent_of = (findings, sum(1 for f in findings if f.severity >= Severity.HIGH),
                               panels_with_urgent_findings(findings))
        _, urgent, marked = self._urgent_of
        alarm = rich_color(self.theme_variables.get("severity-high", "red"))
        shown = (waiting, urgent, frozenset(marked), self.size.width, alarm, tuple(self.panel_specs))
        if shown == self._tab_labels_shown:
            return  # twice per refresh (the snapshot, then its findings): labels and alerts as they are
        self._tab_labels_shown = shown
        labels = tab_labels([(key, title) for key, title, _ in self.panel_specs], self.size.width, waiting, urgent, marked)
        for key, label in labels.items():
            wrong = key in marked or (key == "locks" and waiting) or (key == "findings" and urgent)
            tab = tabs.get_tab(key)
            new_label = Content.from_text(Text(label, style=f"bold {alarm}" if wrong else ""))
            if content_key(tab.label) == content_key(new_label):
                continue
            if tab.label.cell_length == new_label.cell_length:
                # Tab.label's setter lays the whole screen out (Static.update's default): a label
                # of the same width (2 urgent -> 3 urgent) takes the same cells, so repaint the tab only.
                tab._label = new_label
                Static.update(tab, new_label, layout=False)
            else:
                tab.label = new_label
        self.query_one(OverviewStrip).alerts = alerts(waiting, urgent)

    def on_resize(self) -> None:
        if self.query("#panels"):  # not before the layout is composed
            self.update_tab_labels()

    def update_status(self) -> None:
        overview = self.query_one(OverviewStrip)
        status_line = self.query_one("#connection-status", Static)
        if self.disconnected_since is not None:
            down_for = time.monotonic() - self.disconnected_since
            retry = ""
            if self.poller.next_poll_at is not None:
                retry = f" in {max(0.0, self.poller.next_poll_at - time.monotonic()):.0f} s"
            overview.status = f"disconnected {duration(down_for)} — retrying{retry}"
            text = Text("connection lost — showing the last data, marked stale: ", style="bold")
            text.append_text(literal(self.last_error or "", 300))
            text.append(" · r retries now")
            status_line.update(text)
            status_line.remove_class("hidden")
        else:
            overview.interval_s = self.poller.interval_s
            overview.status = "paused" if self.poller.paused else f"live every {self.poller.interval_s:g}s"
            status_line.add_class("hidden")

    def tick(self) -> None:
        if not self.is_running or self.clock_changes_nothing():
            return
        self.update_status()
        self.actions_changed()
        self.query_one(OverviewStrip).refresh_identity()
        if isinstance(self.screen, DetailScreen):
            stalled = ("disconnected" if self.disconnected_since is not None
                       else "paused" if self.poller.paused else None)
            self.screen.refresh_age(stalled)

    def clock_changes_nothing(self) -> bool:
        """Live, on time, nothing running and no detail page open: the passing second changes
        nothing on screen until the data is late (the top line then shows its age), so the tick
        does not build the lines again to find them unchanged."""
        overview = self.query_one(OverviewStrip)
        age = overview.data_age()
        if (self.disconnected_since is not None or self.poller.paused or self.running or age is None
                or self.screen is not self.screen_stack[0] or not overview.status.startswith("live")):
            return False
        return not overview.late(age + TICK_S)

    def follow_detail(self) -> None:
        """An open detail page reads itself again from the newest data."""
        if isinstance(self.screen, DetailScreen) and self.screen.follow is not None and self.last_reachable:
            self.call_later(self.screen.follow_latest)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.show_latest()
        panel = self.composed_panel(self.active_panel_key())
        if panel is None:
            return
        # A tab clicked with the mouse brings focus along; one chosen by key already has it, and
        # may have passed it on (to the filter box) by the time this message arrives.
        if self.focused is None or panel not in self.focused.ancestors_with_self:
            self.screen.set_focus(panel.query("DataTable").first())

    def on_screen_resume(self) -> None:
        self.show_latest()

    # -- detail screens --------------------------------------------------------------------------
    def on_session_chosen(self, message: SessionChosen) -> None:
        pid = message.pid
        snapshot = self.last_reachable
        session = next((s for s in snapshot.sessions if s.pid == pid), None) if snapshot else None
        if session is None:
            self.notify(f"session {pid} has ended", severity="warning")
            return
        self.push_screen(session_detail(session, snapshot, lambda: self.last_reachable),
                         callback=lambda _: self.show_latest())

    def on_findings_panel_finding_chosen(self, message: FindingsPanel.FindingChosen) -> None:
        finding = message.finding

        def follow() -> DetailPage | None:
            now = next((f for f in self.findings if f.id == finding.id), None)
            return finding_page(now, self.findings_taken_at) if now is not None else None

        request = None if self.read_only else finding_action(finding)
        act = (lambda: self.request_action(request.action, dict(request.params))) if request is not None else None
        self.push_screen(DetailScreen(clean(finding.title, 200), finding_page(finding, self.findings_taken_at),
                                      follow, gone="no longer found", act=act),
                         callback=lambda _: self.show_latest())

    def on_statements_panel_statement_chosen(self, message: StatementsPanel.StatementChosen) -> None:
        snapshot = self.last_reachable
        statement = next((s for s in snapshot.statements.entries if s.key == message.key), None)

        def follow() -> DetailPage | None:
            now = self.last_reachable
            same = next((s for s in now.statements.entries if s.key == message.key), None)
            return statement_page(same, now.statements.delta(same), now.taken_at) if same is not None else None

        if statement is not None:
            self.push_screen(statement_detail(statement, snapshot.statements.delta(statement), snapshot.taken_at,
                                              follow),
                             callback=lambda _: self.show_latest())

    # -- actions ---------------------------------------------------------------------------------
    def action_show_panel(self, key: str) -> Awaitable[None] | None:
        if self.composed_panel(key) is None:  # asked for in the first second: once it is composed
            return self._show_panel_when_composed(key)
        self.screen.remove_class("-zoomed")
        self.query_one("#panels", TabbedContent).active = key
        # Focus now, not when TabActivated arrives: keys typed right after go to this panel.
        tables = list(self.panel(key).query("DataTable"))
        self.screen.set_focus(next((t for t in tables if t.display), tables[0] if tables else None))

    async def _show_panel_when_composed(self, key: str) -> None:
        await self.other_panels_composed()
        self.action_show_panel(key)

    def action_filter_sessions(self) -> None:
        self._filter_sessions()

    def _step_panel(self, step: int) -> Awaitable[None] | None:
        keys = [key for key, _, _ in self.panel_specs]
        current = keys.index(self.active_panel_key())
        return self.action_show_panel(keys[(current + step) % len(keys)])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Over a dialog (confirm, detail, profiles) the keys that act on the dashboard behind it do
        # nothing: Tab moves within the dialog (to the field to type in), and a digit, / or Enter
        # must not switch panels or open pages behind it (focus would leave the dialog, and Escape
        # could no longer close it).
        if action in DASHBOARD_ONLY and isinstance(self.screen, ModalScreen):
            return False
        return True

    def action_next_panel(self) -> Awaitable[None] | None:
        return self._step_panel(1)

    def action_previous_panel(self) -> Awaitable[None] | None:
        return self._step_panel(-1)

    def action_zoom(self) -> None:
        """The panel gets the screen's height and width: the figures and the tab bar go (see
        dbtop.tcss), the live/age/disconnected line and the connection-lost line stay."""
        self.screen.toggle_class("-zoomed")

    def action_toggle_pause(self) -> None:
        self.poller.set_paused(not self.poller.paused)
        self.update_status()

    def action_reconnect(self) -> None:
        """Poll now: after an outage, the server is tried at once instead of at the next attempt."""
        self.poller.wake()

    def action_faster(self) -> None:
        self.notify(f"refreshing every {self.poller.faster():g} s")
        self.update_status()

    def action_slower(self) -> None:
        self.notify(f"refreshing every {self.poller.slower():g} s")
        self.update_status()

    def action_next_theme(self) -> None:
        names = list(THEMES)
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        self.applied.clear()
        self.show_latest()
        self.notify(f"theme {self.theme}", markup=False)

    def action_help(self) -> None:
        # The panel keys take one line, not seven: the help then fits 120x40 with the action keys.
        everywhere = [b for b in self.BINDINGS if isinstance(b, Binding) and not b.action.startswith("show_panel")]
        titles = ", ".join(title for _, title, _ in self.panel_specs)
        everywhere.insert(3, Binding("1", "", titles, key_display=f"1 … {len(self.panel_specs)}"))
        sections = [("everywhere", everywhere)]
        engine = getattr(self.poller.collector, "engine", "postgres")
        for key, title, panel_class in self.panel_specs:
            bindings = [b for b in panel_class.BINDINGS if isinstance(b, Binding)
                        and not (self.read_only and b.action.split("(")[0] in panel_class.GUARDED)
                        and panel_class.binding_serves(b.action, engine)]
            bindings.append(Binding("enter", "", "details of the selected row"))
            sections.append((title, bindings))
        self.push_screen(keys_help(sections, self.get_key_display))

    def action_pick_profile(self) -> None:
        if self.directory is None:
            self.notify("no connection profiles: add one with  dbtop profile add NAME URL", severity="warning")
            return
        try:
            entries = self.directory.entries()
        except Exception as exc:  # noqa: BLE001 - a broken config file is reported, not fatal
            self.notify(clean(exc, 300), severity="error", markup=False)
            return
        if not entries:
            self.notify("no connection profiles: add one with  dbtop profile add NAME URL", severity="warning")
            return
        self.push_screen(ProfilePicker(entries, current=self.profile), callback=self.switch_to_profile)

    def switch_to_profile(self, name: str | None) -> None:
        if name is not None and name != self.profile:
            self.run_worker(self._switch(name), group="switch", exclusive=True)

    async def _switch(self, name: str) -> None:
        """Connect to the chosen profile first; only when that works, drop the current target."""
        assert self.directory is not None
        self.notify(f"connecting to {name}…", markup=False)
        try:
            collector = self.directory.collector(name)
            poller = SnapshotPoller(collector, self.poller.interval_s)
            try:
                await asyncio.to_thread(poller.connect)
            except BaseException:
                await asyncio.to_thread(poller.stop)
                raise
        except Exception as exc:  # noqa: BLE001 - the reason is shown; the current target stays
            self.notify(f"{name}: {clean(exc, 300)}", title="not switched", severity="error", markup=False)
            return
        old, self.poller = self.poller, poller
        self.profile = name
        self.read_only = self.forced_read_only or profile_read_only(collector)
        self.query_one(OverviewStrip).read_only = self.read_only
        self.refresh_bindings()
        self.latest = self.last_reachable = None
        self.disconnected_since = None
        self.applied.clear()
        self.findings, self.findings_failures, self.findings_sequence = [], [], -1
        overview = self.query_one(OverviewStrip)
        overview.reset(profile=name)
        await self.other_panels_composed()
        for key, _, _ in self.panel_specs:
            self.panel(key).reset()
        self.start_polling(poller)
        await asyncio.to_thread(old.stop)

    async def action_command_palette(self) -> None:
        await self.other_panels_composed()  # its commands act on every panel
        super().action_command_palette()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Keys" (its help panel) would stand beside dbtop's "Keys" below.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        for n, (key, title, _) in enumerate(self.panel_specs, 1):
            yield SystemCommand(f"Show {title}", f"Switch to the {title} panel (key {n})",
                                lambda key=key: self.action_show_panel(key))
        yield SystemCommand("Zoom panel", "Show the current panel on the whole screen (z)", self.action_zoom)
        yield SystemCommand("Pause or resume refreshing", "Stop polling the server, or start again (p)",
                            self.action_toggle_pause)
        yield SystemCommand("Refresh faster", "Shorter interval between snapshots (+)", self.action_faster)
        yield SystemCommand("Refresh slower", "Longer interval between snapshots (-)", self.action_slower)
        yield SystemCommand("Next dbtop theme", "Cycle dark, light, high contrast and 16 colours (t)",
                            self.action_next_theme)
        yield SystemCommand("Filter sessions", "Filter the Connections panel (/)", self._filter_sessions)
        yield SystemCommand("Hide or show idle sessions", "Connections panel (i)",
                            lambda: self.panel("connections").action_toggle_idle())
        yield SystemCommand("Group sessions", "By state, user, application, client (g)",
                            lambda: self.panel("connections").action_next_group())
        yield SystemCommand("Sort sessions by the next column", "Connections panel (s)",
                            lambda: self.panel("connections").action_next_sort())
        yield SystemCommand("Rank slow queries by the next measure", "Slow queries panel (m)",
                            lambda: self.panel("statements").action_next_ranking())
        yield SystemCommand("Switch profile", "Connect to another profile without restarting (:)",
                            self.action_pick_profile)
        yield SystemCommand("Keys", "Every key dbtop answers to (?)", self.action_help)
        yield SystemCommand("Journal and running actions", "The last actions and what runs now (J)",
                            self.action_journal)
        if self.running:
            yield SystemCommand("Cancel the running action", "Cancel the newest running action (Ctrl+X)",
                                self.action_cancel_action)
        if not self.read_only:
            yield from self.action_commands()

    def action_commands(self) -> Iterable[SystemCommand]:
        """The guarded actions of the target's engine, on what the panels have selected (each shows its
        plan first)."""
        engine = getattr(self.poller.collector, "engine", "postgres")
        if self.has_panel("connections"):
            pids = self.panel("connections").chosen_pids()
            which = ", ".join(map(str, pids))
            if pids and engine == "mongo" and len(pids) == 1:
                yield SystemCommand(f"Kill operation {which}", "killOp; shows the plan first (k)",
                                    lambda: self.request_action("kill-op", {"opid": pids[0]}))
            elif pids and engine == "postgres":
                yield SystemCommand(f"Cancel the query of session {which}", "pg_cancel_backend; shows the plan first (c)",
                                    lambda: self.request_action("cancel-query", {"pids": pids}))
                yield SystemCommand(f"Terminate session {which}", "pg_terminate_backend; shows the plan first (k)",
                                    lambda: self.request_action("terminate-session", {"pids": pids}))
        if self.has_panel("views") and engine == "postgres":
            yield SystemCommand("Refresh the selected materialized view", "Views panel; shows the plan first (R)",
                                self.panel("views").action_refresh_view)
        if self.has_panel("replication") and self.panel("replication").is_postgres_standby():
            yield SystemCommand("Promote this standby to primary", "pg_promote; shows the plan first: lag, paused "
                                "replay, whether the primary still answers (O in the Replication panel)",
                                self.panel("replication").action_promote)
        rest = self.latest.postgres.pgbackrest if self.latest is not None and self.latest.postgres else None
        stanza = rest.profile_stanza if rest is not None else None
        if stanza:
            for kind in ("incr", "diff", "full"):
                yield SystemCommand(f"Take a pgBackRest {kind} backup of stanza {stanza}",
                                    "pgbackrest backup; shows the plan first (b in the Backups panel: incr)",
                                    lambda kind=kind: self.request_action("pgbackrest-backup", {"type": kind}))
            yield SystemCommand(f"Verify pgBackRest stanza {stanza}",
                                "pgbackrest verify of every backup and the WAL archive (v in the Backups panel)",
                                lambda: self.request_action("pgbackrest-verify", {}))
        manager = self.latest.postgres.manager if self.latest is not None and self.latest.postgres else None
        cluster = manager.patroni_cluster if manager is not None and manager.kind == "patroni" else None
        if cluster is not None:
            for member in cluster.members:
                if not member.is_leader:
                    name = clean(member.name, 40)
                    yield SystemCommand(f"Switch over to {name} through Patroni", "POST /switchover; shows the "
                                        "plan first (Replication panel: W)",
                                        lambda name=member.name: self.request_action("switchover", {"candidate": name}))
            pause = "resume" if cluster.paused else "pause"
            yield SystemCommand(f"{pause.capitalize()} Patroni", "maintenance mode on or off (PATCH /config); shows "
                                "the plan first (Replication panel: P)", lambda: self.request_action(pause, {}))
        for action, title, help_text in PALETTE_ACTIONS[engine]:
            yield SystemCommand(title, help_text, lambda action=action: self.request_action(action, {}))

    def action_journal(self) -> None:
        self.push_screen(DetailScreen("journal and running actions", self.journal_page()))

    def action_finished(self, run: ActionRun, outcome: Outcome) -> None:
        if "pids" in run.plan.params and self.has_panel("connections"):
            self.panel("connections").clear_marks()

    def _filter_sessions(self) -> None:
        self.action_show_panel("connections")
        self.panel("connections").action_filter()


def profile_read_only(collector: Collector) -> bool:
    """A profile's targets are read-only unless it says read_only = false; a URL's are not."""
    resolved = getattr(collector, "resolved", None)
    return bool(resolved is not None and resolved.profile.read_only)


GC_YOUNG_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """Once the dashboard is composed: what was built to start (modules, the stylesheet, the
    widgets) is kept out of every later collection, and a young collection waits for 20,000 new
    objects instead of 700. Each refresh makes and drops tens of thousands of objects (a thousand
    sessions' rows); with the defaults the collector ran ~40 times per refresh and walked the
    whole heap every few seconds. The collector, off while the dashboard started (tui/cli.py), is
    turned back on."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    gc.enable()


def run_dashboard(collector: Collector, interval_s: float = 2.0, theme_name: str | None = None,
                  profile: str | None = None, on_start: Callable[[DbtopApp], None] | None = None,
                  directory: TargetDirectory | None = None, read_only: bool = False,
                  poller: SnapshotPoller | None = None) -> int | None:
    """Connect (raising ConnectError with a one-line reason) and run the dashboard until quit; the
    app's return code (129: the terminal hung up). `on_start` receives the app before it runs (the
    demo keeps it to ask it to exit on a signal). `poller`: one for `collector` already connecting
    (SnapshotPoller.begin_connecting, before this module was imported)."""
    poller = poller or SnapshotPoller(collector, interval_s)
    try:
        poller.connect()
        poller.prefetch()  # the first snapshot is taken while Textual starts the screen
        app = DbtopApp(poller, theme_name=theme_name, profile=profile, directory=directory, read_only=read_only)
        app.settles_garbage_collector = True  # the process is the dashboard's (not a test's)
        if on_start is not None:
            on_start(app)
        app.run()
        return app.return_code
    finally:
        poller.stop()
