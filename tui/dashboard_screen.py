"""The dashboard's screen: Textual's, drawing only the lines that changed.

Textual repaints a screen's changed regions by rendering, whole, every widget whose container
overlaps one box around all of them. A refresh of the dashboard changes a figure or two at the
top and a few table rows further down: the box spans the tab bar and everything between, and
thirty widgets rendered all their lines (most from their caches, each line paying for its
styles) to show five lines. Here each stretch of touching changed lines is its own band, as wide
as the screen (the compositor cuts lines at widget edges only), and a widget renders only its
lines within a band. Relies on Textual's Compositor internals (textual is pinned below 9; every
Pilot test draws its screen through it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen


def bands(regions: Iterable[Region], width: int) -> Iterator[Region]:
    """The bands of lines, `width` wide, around the regions whose lines overlap or touch, top to bottom."""
    ordered = sorted(regions, key=lambda region: region.y)
    if not ordered:
        return
    group, bottom = [ordered[0]], ordered[0].bottom
    for region in ordered[1:]:
        if region.y <= bottom:
            group.append(region)
            bottom = max(bottom, region.bottom)
        else:
            yield Region(0, group[0].y, width, bottom - group[0].y)
            group, bottom = [region], region.bottom
    yield Region(0, group[0].y, width, bottom - group[0].y)


class BandedCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterator[tuple[Region, Region, list]]:
        if crop is None:
            yield from super()._get_renders(crop)
            return
        intersection = Region.intersection
        for widget, (region, clip) in self.visible_widgets.items():
            shown = intersection(intersection(region, clip), crop)
            if shown:
                x, y, width, height = shown
                yield shown, shown, widget.render_lines(Region(x - region.x, y - region.y, width, height))

    def render_partial_update(self) -> ChopsUpdate | None:
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        screen_region = self.size.region
        spans = list(self._regions_to_spans(update_regions))
        is_rendered_line = {y for y, _, _ in spans}.__contains__
        chops: list | None = None
        for band in bands(update_regions, screen_region.width):
            crop = band.intersection(screen_region)
            if not crop:
                continue
            band_chops = self._render_chops(crop, is_rendered_line)
            if chops is None:
                chops = list(band_chops)
            else:
                for y in crop.line_range:
                    chops[y] = band_chops[y]
        if chops is None:
            return None
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in self.cuts])


class DashboardScreen(Screen):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = BandedCompositor()
