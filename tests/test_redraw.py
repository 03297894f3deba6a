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
        yield Static(id="summary")


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

        # A line as wide as its container (a panel's summary): a new width that still fits takes
        # the same cells, so it is repainted without a layout; one that wraps is laid out.
        summary = app.query_one("#summary", Static)
        update_static(summary, "1003 sessions · sort xact ↓")
        await pilot.pause()
        calls = spy_refresh(summary)
        update_static(summary, "1003 sessions · sort query ↓")
        update_static(summary, "1003 sessions · sort in state ↓ · filter x")
        assert calls == [False, False]
        update_static(summary, "x" * 200)
        assert calls == [False, False, True]


async def test_the_key_bar_is_built_once_at_start_and_again_only_when_its_keys_change():
    from dbtop.tui.footer import KeysFooter

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard
    from .test_app import screen_text

    built: list[int] = []
    original = KeysFooter._build

    def counting(shown):
        built.append(1)
        return original(shown)

    KeysFooter._build = staticmethod(counting)
    try:
        async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
            await pilot.pause(0.2)
            at_start = len(built)
            assert at_start <= 2  # the empty bar, then its keys (Textual's own Footer: composed 6 times)
            assert "Rank by" not in screen_text(app) and "Hide idle" in screen_text(app)
            assert not app.query("FooterKey")  # one widget for the bar, not one per key
            await pilot.press("3")  # Slow queries: its own keys
            await pilot.pause(0.2)
            assert "Rank by" in screen_text(app) and "Hide idle" not in screen_text(app)
            assert len(built) == at_start + 1
            await pilot.press("tab", "shift+tab")  # focus moves, the keys come back to the same
            await pilot.pause(0.2)
            assert "Rank by" in screen_text(app)
            assert len(built) <= at_start + 3
    finally:
        KeysFooter._build = staticmethod(original)


async def test_a_click_on_a_key_in_the_bar_presses_it():
    from dbtop.tui.footer import KeysFooter

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard

    async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
        await pilot.pause(0.2)
        bar = app.query_one(KeysFooter)
        start = next(start for start, _, key, _ in bar._spans if key == "p")
        assert bar.key_at(start + 1) == ("p", True)
        assert bar.key_at(bar.size.width - 2) == (app.COMMAND_PALETTE_BINDING, True)  # the palette, at the right end
        await pilot.click(KeysFooter, offset=(start + 1, 0))
        await pilot.pause(0.2)
        assert app.poller.paused


def urgent_finding(n: int):
    from dbtop.findings.model import Finding, Severity

    return Finding(id=f"redraw.test:{n}", rule="redraw.test", area="performance", severity=Severity.HIGH,
                   title=f"urgent {n}", impact="-", fix="-")


async def test_the_overview_figures_and_tab_labels_lay_the_screen_out_only_when_they_grow():
    """The figures after the gauge change every refresh (tps 2,100.5 then 95.0) and the Findings tab's
    urgent count too (2 then 3): a figure keeps the widest width it has had, and a tab label of the
    same width is repainted in place, so neither lays the whole screen out (a pass over every widget
    and a repaint of the screen, ~60 ms at 1,000 sessions)."""
    from textual.widgets import TabbedContent

    from dbtop.panels.overview import OverviewStrip

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard, next_snapshot

    def with_rates(tps: float, lag_s: float | None):
        return f.healthy(activity=f.activity(transactions_per_s=tps),
                         replication=f.replication(standbys=[f.standby(replay_lag_s=lag_s)]))

    snapshots = [with_rates(2000.5, 0.2), with_rates(2100.5, 0.3), with_rates(95.0, 12.0), with_rates(95.5, None)]
    async with fake_dashboard(FakeCollector(snapshots)) as (app, pilot):
        await next_snapshot(app, pilot)
        figures = {name: app.query_one(f"#overview-{name}", Static) for name in ("tps", "hit", "lag", "gauge")}
        calls = {name: spy_refresh(static) for name, static in figures.items()}
        tps_x = figures["hit"].region.x
        await next_snapshot(app, pilot)  # narrower figures: repainted where they are
        assert "tps 95" in str(figures["tps"].render()) and "lag 12s " in str(figures["lag"].render())
        assert True not in [layout for spied in calls.values() for layout in spied], calls
        assert figures["hit"].region.x == tps_x
        await next_snapshot(app, pilot)  # wider than ever: laid out, shown whole
        assert True in calls["lag"]
        await pilot.pause()
        lag_text = str(figures["lag"].render()).strip()
        assert lag_text.startswith("1 standby") and figures["lag"].size.width >= len(lag_text)

        tab = app.query_one("#panels", TabbedContent).get_tab("findings")
        app.findings = [urgent_finding(1), urgent_finding(2)]
        app.update_tab_labels()
        await pilot.pause()
        tab_calls = spy_refresh(tab)
        app.findings = [urgent_finding(1), urgent_finding(2), urgent_finding(3)]
        app.update_tab_labels()
        assert "(3 urgent)" in tab.label.plain
        assert tab_calls and True not in tab_calls, tab_calls
        await pilot.pause()
        assert "(3 urgent)" in str(tab.render())
        app.findings = [urgent_finding(n) for n in range(12)]  # wider: the tabs after it move
        app.update_tab_labels()
        assert True in tab_calls


async def test_a_detail_page_does_not_draw_the_dashboard_beneath_it():
    from dbtop.tui.screens import DetailScreen

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard

    async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DetailScreen)
        # A see-through page re-rendered and tinted the whole dashboard under it on every frame.
        assert app.screen.styles.background.a == 1


async def test_switching_panels_does_not_animate_unless_asked(monkeypatch):
    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard

    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
        assert app.animation_level == "none"  # no 0.3 s slide of the tab underline after each switch
        await pilot.press("2")
        await pilot.pause()
        assert not app.animator.is_being_animated(app.query_one("Underline"), "highlight_start")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    async with fake_dashboard(FakeCollector([f.healthy()])) as (app, pilot):
        assert app.animation_level == "full"


async def test_tab_labels_are_worked_out_again_only_when_what_they_say_changes(monkeypatch):
    import dbtop.tui.app as app_module

    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard, next_snapshot

    built: list[int] = []
    original = app_module.tab_labels

    def counting(*args, **kwargs):
        built.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(app_module, "tab_labels", counting)
    collector = FakeCollector([f.healthy()])
    async with fake_dashboard(collector) as (app, pilot):
        await pilot.pause(0.2)
        before = len(built)
        await next_snapshot(app, pilot)
        await next_snapshot(app, pilot)
        await pilot.pause(0.2)
        assert len(built) == before  # the same counts: nothing to work out, nothing to repaint
        collector.more(f.snapshot(sessions=f.healthy_sessions() + f.lock_chain(300, 301, 302)))
        await next_snapshot(app, pilot)
        await pilot.pause(0.2)
        assert len(built) > before  # two sessions now wait: the Locks tab says so
        assert "(2 waiting)" in str(app.query_one("#panels").get_tab("locks").label)


async def test_a_transaction_rate_up_to_thousands_fits_from_the_start_without_laying_the_screen_out():
    from . import fakes as f
    from .fakes import FakeCollector, fake_dashboard, next_snapshot

    snapshots = [f.healthy(activity=f.activity(transactions_per_s=tps)) for tps in (0.5, 12.5, 950.0, 9876.5)]
    async with fake_dashboard(FakeCollector(snapshots)) as (app, pilot):
        tps = app.query_one("#overview-tps", Static)
        calls = spy_refresh(tps)
        for shown in ("tps 12.5", "tps 950.0", "tps 9,876.5"):
            await next_snapshot(app, pilot)
            assert shown in str(tps.render())
        assert calls and True not in calls, calls  # each repainted in place
