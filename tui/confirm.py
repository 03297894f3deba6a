"""The confirm screen: a plan shown whole before anything runs.

Focus starts on Cancel. A disruptive or destructive plan runs only once the operator has typed its
`confirm_text` (Tab from Cancel reaches the field; Enter there runs it when the text is right and
does nothing otherwise); a plan with a failed precondition shows it and cannot run. A plan that asks
for a second confirmation (`second_confirm_text`: split-brain) has a second field, and runs only
when both are right (Enter on a right first field moves to the second). Escape cancels.
The screen answers with what was typed (for the journal), or None when cancelled; what was typed in
the second field is `typed_second`."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ..actions.plan import Plan
from .plan_text import confirm_prompt, plan_sections


def plan_body(plan: Plan) -> list[Text]:
    parts = []
    for heading, lines in plan_sections(plan):
        text = Text(heading, style="bold")
        for line in lines:
            style = "bold" if line.startswith("FAIL") or heading in ("risk", "warnings") else ""
            text.append("\n  ")
            text.append(line, style=style)  # already cleaned: appended as plain text, never markup
        parts.append(text)
    return parts


class ConfirmScreen(ModalScreen[str | None]):
    """Shows `plan` whole; dismissed with the typed text ("" when nothing had to be typed) or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "scroll('up')", "Scroll", show=False),
        Binding("down", "scroll('down')", "Scroll", show=False),
        Binding("pageup", "scroll('page_up')", "Page up", show=False),
        Binding("pagedown", "scroll('page_down')", "Page down", show=False),
        Binding("home", "scroll('home')", show=False),
        Binding("end", "scroll('end')", show=False),
    ]

    AUTO_FOCUS = "#confirm-cancel"  # focus starts on Cancel, from the moment the screen is shown

    def __init__(self, plan: Plan):
        super().__init__()
        self.plan = plan
        self.typed_second: str | None = None

    @property
    def asks_text(self) -> bool:
        return self.plan.confirm_text is not None

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical(id="confirm"):
            yield Static(Text.assemble((f"{plan.action}", "bold"), " — read the whole plan ",
                                       "(↑ ↓ PgUp PgDn scroll; Esc cancels)"), classes="detail-title")
            with VerticalScroll(id="confirm-plan", can_focus=False):
                for part in plan_body(plan):
                    yield Static(part, classes="confirm-part")
            prompt = confirm_prompt(plan)
            if plan.ready and plan.second_confirm_text is not None:
                prompt += " (Tab to the fields, one each; Enter runs)"
            elif plan.ready and self.asks_text:
                prompt += " (Tab to the field, Enter runs)"
            yield Static(Text(prompt, style="bold"), id="confirm-prompt")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="confirm-cancel", variant="primary")
                yield Button("Run", id="confirm-run", variant="error", disabled=not self.can_run(""))
                field = Input(placeholder=f"type {plan.confirm_text}" if self.asks_text else "",
                              id="confirm-text", disabled=not plan.ready)
                field.display = self.asks_text
                yield field
                second = Input(placeholder=f"and type {plan.second_confirm_text}", id="confirm-second",
                               disabled=not plan.ready)
                second.display = plan.second_confirm_text is not None
                yield second

    def can_run(self, typed: str, second: str | None = None) -> bool:
        return self.plan.ready and self.plan.confirmed_by(typed, second)

    def typed(self) -> tuple[str, str | None]:
        """What is in the field and, when the plan asks for it, in the second one."""
        first = self.query_one("#confirm-text", Input).value if self.asks_text else ""
        second = self.query_one("#confirm-second", Input).value if self.plan.second_confirm_text else None
        return first, second

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-run", Button).disabled = not self.can_run(*self.typed())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        first, second = self.typed()
        if self.can_run(first, second):
            self.finish(first, second)
        elif (event.input.id == "confirm-text" and self.plan.second_confirm_text is not None
              and self.plan.ready and self.plan.confirmed_by(first, self.plan.second_confirm_text)):
            self.query_one("#confirm-second", Input).focus()  # the first is right: on to the second
        # empty or wrong: nothing happens

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-cancel":
            self.dismiss(None)
            return
        first, second = self.typed()
        if self.can_run(first, second):
            self.finish(first, second)

    def finish(self, first: str, second: str | None) -> None:
        self.typed_second = second.strip() if second is not None else None
        self.dismiss(first.strip())

    def action_scroll(self, how: str) -> None:
        getattr(self.query_one("#confirm-plan", VerticalScroll), f"scroll_{how}")(animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)
