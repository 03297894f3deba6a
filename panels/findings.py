"""Findings: what the rules found in the latest snapshot, worst first and grouped by area, each with its
evidence and fix; Enter shows one whole."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from ..engines.snapshot import Snapshot
from ..findings.engine import RuleFailure, locked_tables_note
from ..findings.model import AREA_TITLES, Finding, Severity
from ..findings.wording import remedy
from .base import ActionRequested, Cell, Panel, SnapshotTable, add_columns, current_row_key, sync_rows, update_static
from .text import clean, literal

COLUMNS = [
    ("severity", "severity", 9), ("area", "area", 14), ("title", "finding", 60), ("evidence", "evidence", 40),
    ("fix", "fix", 40), ("addressed_by", "what to do", 30),
]


class FindingsPanel(Panel):
    ENGINES = frozenset({"postgres", "mongo"})
    panel_title = "Findings"
    BINDINGS = [Binding("a", "act", "Act on it")]
    GUARDED = frozenset({"act"})

    class FindingChosen(Message):
        def __init__(self, finding: Finding) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.findings: list[Finding] = []
        self.failures: list[RuleFailure] = []
        self.findings_for = 0  # the sequence of the snapshot the findings were computed from (< 1: none yet)
        self._row_cache: dict[str, tuple[Finding, list[Cell]]] = {}
        self._rows_theme: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="findings-summary", classes="panel-summary")
        table = SnapshotTable(id="findings-table", cursor_type="row")
        add_columns(table, COLUMNS)
        yield table

    def set_findings(self, findings: list[Finding], failures: list[RuleFailure], sequence: int) -> None:
        """The findings the app had computed, off the UI thread, for snapshot `sequence`."""
        self.findings = findings
        self.failures = failures
        self.findings_for = sequence

    def reset(self) -> None:
        super().reset()
        self.findings, self.failures, self.findings_for = [], [], 0
        self._row_cache, self._rows_theme = {}, None

    def render_snapshot(self, snapshot: Snapshot) -> None:
        findings = sorted(self.findings, key=Finding.sort_key)
        self._show_rows(findings)
        text = Text()
        if not findings and self.findings_for < 1:
            text.append("checking the rules…", style="bold")  # none computed yet: not "nothing wrong"
        elif not findings:
            text.append("no findings in this snapshot", style="bold")
        else:
            text.append(f"{len(findings)} finding(s): ", style="bold")
            counts = [(s, sum(1 for f in findings if f.severity == s)) for s in sorted(Severity, reverse=True)]
            for i, (severity, n) in enumerate((s, n) for s, n in counts if n):
                if i:
                    text.append(" · ")
                text.append(f"{n} {severity.label}", style=self._style(severity))
        text.append("  (Enter: evidence, impact and the statement to copy)")
        for failure in self.failures:
            text.append("\n")
            text.append_text(literal(f"rule {failure.rule} failed: {failure.error}", 200))
        partly = [f"{name} ({part.reason})" for name, part in snapshot.parts.items() if part.available and part.reason]
        if partly:
            # the rules saw only what this role may read: no finding there is not "all is well"
            text.append("\npartly checked: ", style="bold")
            text.append_text(literal("; ".join(partly), 400))
        unchecked = self.unchecked(snapshot)
        if unchecked:
            text.append("\nnot checked: ", style="bold")
            text.append_text(literal("; ".join(unchecked), 400))
        update_static(self.query_one("#findings-summary", Static), text)

    @staticmethod
    def unchecked(snapshot: Snapshot) -> list[str]:
        """What the rules could not look at: an absent finding there does not mean all is well."""
        notes = [f"{name} ({part.reason})" for name, part in snapshot.parts.items() if not part.available]
        catalog = snapshot.postgres.catalog if snapshot.postgres else None
        if catalog is None and snapshot.part("catalog").available:
            notes.append("indexes, tables and constraints (the catalog is read shortly after connecting)")
        elif catalog is not None:
            notes += [f"{name} ({reason})" for name, reason in catalog.gaps.items()]
            locked = locked_tables_note(catalog)
            if locked:
                notes.append(locked)
        return notes

    def _show_rows(self, findings: list[Finding]) -> None:
        """Rebuild only the rows whose finding changed, and touch the table only when one did: the
        same findings come back every poll, and a large database has thousands of them."""
        theme = self.app.theme
        cache: dict[str, tuple[Finding, list[Cell]]] = {}
        reuse = theme == self._rows_theme
        changed = not reuse or list(self._row_cache) != [f.id for f in findings]
        for f in findings:
            hit = self._row_cache.get(f.id) if reuse else None
            if hit is not None and (hit[0] is f or hit[0] == f):
                cache[f.id] = hit
            else:
                cache[f.id] = (f, self._row(f))
                changed = True
        self._row_cache, self._rows_theme = cache, theme
        if changed:
            sync_rows(self.query_one("#findings-table", DataTable), {key: cells for key, (_, cells) in cache.items()})

    def _style(self, severity: Severity) -> str:
        name = severity.name.lower()
        return self.severity_style(name, bold=severity >= Severity.HIGH)

    def _row(self, f: Finding) -> list[Cell]:
        evidence = "; ".join(f"{e.subject}: {e.detail}" if e.detail else e.subject for e in f.evidence[:3])
        return [
            Cell(f.severity.label, -int(f.severity), self._style(f.severity)),
            Cell(f.area),
            Cell.untrusted(f.title, 200),
            Cell.untrusted(evidence, 200),
            Cell.untrusted(f.fix, 200),
            Cell(remedy(f.addressed_by) or "-"),
        ]

    def action_act(self) -> None:
        shown = self._row_cache.get(current_row_key(self.query_one("#findings-table", DataTable)) or "")
        request = finding_action(shown[0]) if shown is not None else None
        if request is None:
            self.notify("no dbtop action addresses this finding: Enter shows what to do", markup=False)
        else:
            self.post_message(request)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = current_row_key(event.data_table)
        shown = self._row_cache.get(key or "")
        if shown is not None:
            self.post_message(self.FindingChosen(shown[0]))


def finding_action(f: Finding) -> ActionRequested | None:
    """The dbtop action that addresses a finding, with the finding's object as its parameters."""
    if not f.addressed_by or not f.addressed_by.startswith("action:"):
        return None
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in f.action_params.items()}
    return ActionRequested(f.addressed_by.removeprefix("action:"), params)


def finding_detail_body(f: Finding) -> list[Text]:
    """The whole finding, as the detail screen shows it: every line literal text."""
    head = Text()
    head.append(f"{f.severity.label}", style="bold")
    head.append(f" · {AREA_TITLES[f.area]} · {f.id}")
    evidence = Text("evidence\n", style="bold")
    for e in f.evidence:
        evidence.append_text(literal(f"  {e.subject}" + (f" ({e.location})" if e.location else "")
                                     + (f": {e.detail}" if e.detail else ""), None, one_line=True))
        evidence.append("\n")
    body = [head, evidence,
            Text.assemble(("impact\n", "bold"), literal(f.impact, None, one_line=False)),
            Text.assemble(("fix\n", "bold"), literal(f.fix, None, one_line=False))]
    what = remedy(f.addressed_by)
    if what:
        body.append(Text.assemble(("what to do\n", "bold"), what + (": the statement below (y copies it)"
                                                                       if f.statement else "")))
    if f.statement:
        body.append(Text.assemble(("statement to copy\n", "bold"), Text(clean(f.statement, None, one_line=False))))
    return body
