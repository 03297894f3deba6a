"""The panels' tab labels: every tab, the Locks waiting count and the Findings urgent count fit the
screen's width (at 80 columns the full labels ran off the right edge and hid Findings)."""

from __future__ import annotations

from collections.abc import Iterable

from ..findings.model import Finding, Severity

SHORT_TITLES = {"connections": "Conn", "statements": "Slow", "replication": "Repl"}
TAB_PADDING = 2  # a tab's padding, one cell each side

# The panel that shows what a rule looks at (by rule id, else by its prefix before the dot).
PANEL_OF_RULE = {
    "connections.root_blocker": "locks",
    "performance.slow_statement": "statements",
    "performance.n_plus_one": "statements",
    "connections": "connections",
    "backup": "backups",
    "availability": "replication",
    "views": "views",
}


def panels_with_urgent_findings(findings: Iterable[Finding]) -> set[str]:
    """The panels showing something a High or Critical finding is about."""
    panels = set()
    for finding in findings:
        if finding.severity >= Severity.HIGH:
            panel = PANEL_OF_RULE.get(finding.rule) or PANEL_OF_RULE.get(finding.rule.split(".", 1)[0])
            if panel:
                panels.add(panel)
    return panels


def tab_labels(panels: list[tuple[str, str]], width: int, waiting: int, urgent: int,
               marked: set[str] = frozenset()) -> dict[str, str]:
    """The label of each tab ((key, title) in order, numbered from 1), the longest form that lets
    all of them fit `width` cells: full titles, then short ones, then short counts, then numbers.
    A marked panel (something in it is wrong) gets a `!`."""

    def labels(tier: int) -> dict[str, str]:
        out = {}
        for n, (key, title) in enumerate(panels, 1):
            name = title if tier == 0 else SHORT_TITLES.get(key, title) if tier < 4 else ""
            label = f"{n} {name}".rstrip() + ("!" if key in marked else "")
            if key == "locks" and waiting:
                label += f" ({waiting} waiting)" if tier < 2 else f" ({waiting})"
            if key == "findings" and urgent:
                label += f" ({urgent} urgent)" if tier < 3 else f" ({urgent})"
            out[key] = label
        return out

    for tier in range(5):
        chosen = labels(tier)
        if sum(len(label) + TAB_PADDING for label in chosen.values()) <= width:
            return chosen
    return chosen


def alerts(waiting: int, urgent: int) -> str:
    """What is wrong, in words, for the overview strip (the tabs may only have room for numbers)."""
    parts = [f"{urgent} urgent"] if urgent else []
    if waiting:
        parts.append(f"{waiting} waiting")
    return " · ".join(parts)

