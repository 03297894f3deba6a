"""What a refresh redraws: a Static is repainted only when what it shows changed, and the screen is
laid out again only when a widget's size may have changed. No server."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from dbtop.panels.base import update_static


class Figures(App):
    CSS = "#tps { width: auto; } #line { height: 1; }"

    def compose(self) -> ComposeResult:
        with Horizontal(id="figures"):
            yield Static(id="tps")
            yield Static("hit", id="hit")
        yield Static(id="line")


def spy_refresh(widget) -> list[bool]:
    calls: list[bool] = []
    original = widget.refresh

    def refresh(*regions, layout: bool = False, **kwargs):
        calls.append(layout)
        return original(*regions, layout=layout, **kwargs)

    widget.refresh = refresh
    return calls


async def test_a_static_is_repainted_only_on_change_and_laid_out_only_when_it_may_change_size():
    app = Figures()
    async with app.run_test(size=(60, 5)) as pilot:
        tps, hit, line = app.query_one("#tps", Static), app.query_one("#hit", Static), app.query_one("#line", Static)
        update_static(tps, "tps 1.0")
        await pilot.pause()
        x_before = hit.region.x
        calls = spy_refresh(tps)
        update_static(tps, "tps 1.0")  # the same text: nothing to do
        assert calls == []
        update_static(tps, "tps 2.0")  # the same width: repainted, not laid out
        assert calls == [False]
        await pilot.pause()
        assert str(tps.render()) == "tps 2.0" and hit.region.x == x_before
        update_static(tps, "tps 12345.0")  # wider: laid out, and the next figure moves right
        assert calls == [False, True]
        await pilot.pause()
        assert hit.region.x == x_before + 4
        assert str(tps.render()) == "tps 12345.0"

        calls = spy_refresh(line)
        update_static(line, Text("age 1s"), fixed_size=True)
        update_static(line, Text("age 1s", style="bold"), fixed_size=True)  # a style is a change too
        update_static(line, Text("age 1s", style="bold"), fixed_size=True)
        update_static(line, Text("age 10 minutes"), fixed_size=True)
        assert calls == [False, False, False]


async def test_the_key_bar_is_composed_once_at_start_and_again_only_when_its_keys_change():
    from textual.widgets import Footer

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard
    from .test_app import screen_text

    composed: list[int] = []
    original = Footer.compose

    def counting(self):
        composed.append(1)
        return original(self)

    Footer.compose = counting
    try:
        async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
            await pilot.pause(0.2)
            at_start = len(composed)
            assert at_start <= 2  # the empty bar, then its keys (Textual's own: 6)
            assert "Rank by" not in screen_text(app) and "Hide idle" in screen_text(app)
            await pilot.press("3")  # Slow queries: its own keys
            await pilot.pause(0.2)
            assert "Rank by" in screen_text(app) and "Hide idle" not in screen_text(app)
            assert len(composed) == at_start + 1
            await pilot.press("tab", "shift+tab")  # focus moves, the keys come back to the same
            await pilot.pause(0.2)
            assert "Rank by" in screen_text(app)
            assert len(composed) <= at_start + 3
    finally:
        Footer.compose = original
