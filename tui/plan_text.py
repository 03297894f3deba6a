"""A plan as the operator reads it, whole: the same sections in the confirm screen and on the
command line (`dbtop act`, `dbtop backup`). Pure text, no Textual: the CLI prints it as is."""

from __future__ import annotations

from ..actions.journal import JournalEntry
from ..actions.plan import Outcome, Plan
from ..findings.wording import clean

RISK_WORDS = {
    "read-only": "read-only: changes nothing",
    "reversible": "reversible",
    "disruptive": "DISRUPTIVE: sessions or work are interrupted",
    "destructive": "DESTRUCTIVE: cannot be undone",
}


def target_lines(plan: Plan) -> list[str]:
    """The target as shown, and the server's identity (a rebuilt or failed-over server differs)."""
    t = plan.target
    where = [f"profile {clean(t.profile, 60)}"] if t.profile else []
    if t.database:
        where.append(f"database {clean(t.database, 60)}")
    first = clean(t.label, 200) + (f" ({', '.join(where)})" if where else "")
    return [first, f"system {clean(t.system_identifier, 40) if t.system_identifier else 'unknown'}"]


def plan_sections(plan: Plan) -> list[tuple[str, list[str]]]:
    """(heading, lines) in reading order. Statements and commands are given whole, one line each
    (a statement's own line breaks are kept), already cleaned of control characters."""
    runs = [clean(line, None, one_line=False) for line in plan.runs]
    timeouts = []
    if plan.statement_timeout_ms:
        timeouts.append(f"statement_timeout {plan.statement_timeout_ms} ms")
    if plan.lock_timeout_ms:
        timeouts.append(f"lock_timeout {plan.lock_timeout_ms} ms")
    sections = [
        ("target", target_lines(plan)),
        ("what it does", [clean(plan.summary, None)]),
        ("runs" + (f" (with {', '.join(timeouts)})" if timeouts else ""), runs),
        ("checked before running (and again just before it runs)",
         [f"{'ok  ' if p.passed else 'FAIL'} {clean(p.description, None)}"
          + (f": {clean(p.detail, None)}" if p.detail else "") for p in plan.preconditions] or ["nothing"]),
        ("risk", [RISK_WORDS.get(plan.risk, plan.risk)]),
    ]
    if plan.warnings:
        sections.append(("warnings", [clean(w, None) for w in plan.warnings]))
    if plan.manual_steps:
        sections.append(("afterwards, by hand (dbtop does not run these)", [clean(s, None) for s in plan.manual_steps]))
    return sections


def confirm_prompt(plan: Plan) -> str:
    """What the operator is asked: to type the object's name, or only to confirm."""
    if not plan.ready:
        failed = "; ".join(clean(p.description, 80) + (f" — {clean(p.detail, 160)}" if p.detail else "")
                           for p in plan.failed)
        return f"cannot run: a precondition failed ({failed})"
    if plan.second_confirm_text is not None:
        return (f"type {clean(plan.confirm_text, 80)} to run it, and {clean(plan.second_confirm_text, 80)} to "
                "accept what the warnings say")
    if plan.confirm_text is not None:
        return f"type {clean(plan.confirm_text, 80)} to run it"
    return "confirm to run it"


def plan_as_text(plan: Plan) -> str:
    lines = []
    for heading, body in plan_sections(plan):
        lines.append(f"{heading}:")
        lines.extend(f"  {line}" for line in "\n".join(body).splitlines() or [""])
    return "\n".join(lines)


def outcome_line(outcome: Outcome) -> str:
    text = f"{outcome.status}: {clean(outcome.detail, 400)}"
    if outcome.error and outcome.error not in outcome.detail:
        text += f" ({clean(outcome.error, 400)})"
    return text


def entry_line(entry: JournalEntry) -> str:
    """A journal entry in one line: when, outcome, action, target."""
    when = entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return f"{when}  {entry.outcome:<9} {entry.action:<20} {clean(entry.target, 60)}"


def entry_result(entry: JournalEntry) -> str:
    return clean(entry.detail.get("result") or entry.error or "", 300)
