"""The dashboard's screen: Textual's, drawing only the cells that changed.

Textual repaints a screen's changed regions by rendering, whole, every widget whose container
overlaps one box around all of them. A refresh of the dashboard changes a figure or two at the
top and a few table rows further down: the box spans the tab bar and everything between, and
thirty widgets rendered all their lines (most from their caches, each line paying for its
styles) to show five lines. Here each stretch of touching changed lines is its own band, as wide
as the screen (the compositor cuts lines at widget edges only), and a widget renders only its
lines within a band that have a changed cell it is the front-most at. Relies on Textual's
Compositor internals (textual is pinned below 9; every Pilot test draws its screen through it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip


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
    def _render_chops(self, crop: Region, is_rendered_line: Callable[[int], bool]) -> Sequence[Mapping[int, Strip]]:
        """Textual's entry, for a whole screen: every cell of the rendered lines reaches the terminal."""
        return self._render_front_chops(crop, is_rendered_line, None)

    def _render_front_chops(self, crop: Region, is_rendered_line: Callable[[int], bool],
                            line_spans: Mapping[int, list[tuple[int, int]]] | None) -> list[dict[int, Strip | None]]:
        """Textual's _render_chops, but a widget renders only its lines in `crop` that have a piece
        the terminal will get (in `line_spans`, the changed spans (x1, x2) of each line; None: all)
        which widgets in front of it have not already filled, and nothing when there is none: the
        overview's unchanged figures drew themselves beside the one that changed, and a container
        whose children cover it (the panel, the tab pane, the switcher) drew its lines under each
        changed row, only for the compositor to throw them away."""
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        intersection = Region.intersection
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            shown = intersection(intersection(region, clip), crop)
            if not shown:
                continue
            x, _, width, _ = shown
            first_cut, last_cut = shown.column_span
            line_cuts = {}
            for y in shown.line_range:
                if not is_rendered_line(y):
                    continue
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                spans = line_spans.get(y, ()) if line_spans is not None else None
                for cut, end in zip(final_cuts, final_cuts[1:]):
                    if chops_line.get(cut) is None and (spans is None or any(x1 < end and cut < x2 for x1, x2 in spans)):
                        line_cuts[y] = final_cuts
                        break
            if not line_cuts:
                continue  # nothing it would draw reaches the terminal
            top, bottom = min(line_cuts), max(line_cuts)
            strips = widget.render_lines(Region(x - region.x, top - region.y, width, bottom - top + 1))
            for y, strip in zip(range(top, bottom + 1), strips):
                final_cuts = line_cuts.get(y)
                if final_cuts is None:
                    continue
                chops_line = chops[y]
                get_chops_line = chops_line.get
                for cut, piece in zip(final_cuts, strip.divide([cut - x for cut in final_cuts[1:]])):
                    if get_chops_line(cut) is None:  # the first to fill a cut is in front
                        chops_line[cut] = piece
        return chops

    def render_partial_update(self) -> ChopsUpdate | None:
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        screen_region = self.size.region
        spans = list(self._regions_to_spans(update_regions))
        line_spans: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            line_spans.setdefault(y, []).append((x1, x2))
        chops: list | None = None
        for band in bands(update_regions, screen_region.width):
            crop = band.intersection(screen_region)
            if not crop:
                continue
            band_chops = self._render_front_chops(crop, line_spans.__contains__, line_spans)
            if chops is None:
                chops = band_chops
            else:
                for y in crop.line_range:
                    chops[y] = band_chops[y]
        if chops is None:
            return None
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in self.cuts])


class DashboardScreen(Screen):
    # The first panel's table (Connections, for every engine), focused from the start: not the tabs
    # first and the table a moment later (each change of focus restyles what it touches).
    AUTO_FOCUS = "#connections-table"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compositor = BandedCompositor()
