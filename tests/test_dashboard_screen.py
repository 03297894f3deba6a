"""The dashboard's screen draws each changed stretch of lines on its own, and draws it right."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from dbtop.tui.dashboard_screen import DashboardScreen, bands


class CountsRenders:
    """Counts its render_lines calls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.renders = 0

    def render_lines(self, crop):
        self.renders += 1
        return super().render_lines(crop)


class Counting(CountsRenders, Static):
    pass


class Stack(App):
    CSS = "Counting { height: 1; } #middle { height: 10; }"

    def get_default_screen(self):
        return DashboardScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Counting("top 1", id="top")
        yield Counting("middle", id="middle")
        yield Counting("bottom 1", id="bottom")


def screen_text(app) -> str:
    return "\n".join("".join(s.text for s in strip) for strip in app.screen._compositor.render_strips())


def test_bands_join_overlapping_and_touching_lines_only():
    regions = [Region(0, 0, 10, 1), Region(5, 1, 10, 1), Region(0, 6, 120, 1), Region(0, 7, 120, 2)]
    assert list(bands(regions, 120)) == [Region(0, 0, 120, 2), Region(0, 6, 120, 3)]
    assert list(bands([], 120)) == []


async def test_a_widget_between_two_changed_lines_is_not_drawn_and_both_changes_show():
    app = Stack()
    async with app.run_test(size=(40, 14)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        sent = []
        render = compositor.render_partial_update
        compositor.render_partial_update = lambda: sent.append(render()) or sent[-1]
        middle = app.query_one("#middle", Counting)
        before = middle.renders
        app.query_one("#top", Counting).update("top 2", layout=False)
        app.query_one("#bottom", Counting).update("bottom 2", layout=False)
        await pilot.pause(0.1)
        assert middle.renders == before  # one box around both would have drawn it whole
        update = next(u for u in sent if u is not None)
        lines = {y: "".join(strip.text for strip in update.chops[y].values() if strip is not None)
                 for y, _, _ in update.spans}
        assert lines[0].startswith("top 2") and lines[11].startswith("bottom 2")
        assert "middle" in screen_text(app)


class CountingBox(CountsRenders, Vertical):
    pass


class Boxes(App):
    CSS = """
    Counting { height: 1; }
    #covered { height: 2; }
    #framed { height: 4; border: solid red; }
    """

    def get_default_screen(self):
        return DashboardScreen(id="_default")

    def compose(self) -> ComposeResult:
        with CountingBox(id="covered"):
            yield Counting("first 1", id="first")
            yield Counting("second", id="second")
        with CountingBox(id="framed"):
            yield Counting("inner 1", id="inner")


async def test_a_container_its_children_cover_is_not_drawn_and_a_framed_one_still_shows_its_frame():
    app = Boxes()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        covered, framed = app.query_one("#covered", CountingBox), app.query_one("#framed", CountingBox)
        before = covered.renders
        app.query_one("#first", Counting).update("first 2", layout=False)
        await pilot.pause(0.1)
        assert covered.renders == before  # its only line under the change is the child's
        assert "first 2" in screen_text(app)
        compositor = app.screen._compositor
        sent = []
        render = compositor.render_partial_update
        compositor.render_partial_update = lambda: sent.append(render()) or sent[-1]
        app.query_one("#inner", Counting).update("inner 2", layout=False)
        framed.refresh()  # its frame is drawn around the child: lines and cells the child does not cover
        await pilot.pause(0.1)
        update = next(u for u in sent if u is not None)
        lines = {y: "".join(strip.text for strip in update.chops[y].values() if strip is not None)
                 for y, _, _ in update.spans}
        assert lines[2].startswith("┌") and lines[3].startswith("│inner 2") and lines[3].rstrip().endswith("│")
        assert screen_text(app).splitlines()[3].startswith("│inner 2")


class Row(App):
    CSS = "Horizontal { height: 1; } Counting { width: 10; height: 1; }"

    def get_default_screen(self):
        return DashboardScreen(id="_default")

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Counting("left 1", id="left")
            yield Counting("right", id="right")


async def test_a_widget_beside_a_change_on_the_same_line_is_not_drawn():
    app = Row()
    async with app.run_test(size=(40, 4)) as pilot:
        await pilot.pause()
        right = app.query_one("#right", Counting)
        before = right.renders
        app.query_one("#left", Counting).update("left 2", layout=False)
        await pilot.pause(0.1)
        assert right.renders == before  # the terminal gets the changed cells only
        assert screen_text(app).splitlines()[0].startswith("left 2    right")
