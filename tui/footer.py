"""The key bar at the bottom of the dashboard."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget


class KeysFooter(Widget):
    """The keys of the focused panel and the app, drawn as one line of text.

    Textual's Footer is a widget per key, each styled by the stylesheet: switching panels composed
    and styled a dozen new widgets, 20-45 ms of a panel switch. This bar draws the same keys (its
    key, its description; dimmed when it does nothing here) as one line, built again only when the
    keys change, and a click on a key presses it, as on Textual's."""

    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None
        self._pending = False
        self._line = Content("")
        self._spans: list[tuple[int, int, str, bool]] = []  # cells from, to, the key, enabled

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        # Textual signals several times per focus change, and five times before the first frame:
        # the signals of one frame are looked at once.
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._show_keys)

    def _show_keys(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        shown = self._keys_shown()
        if shown != self._shown:
            self._shown = shown
            self._line, self._spans = self._build(shown)
            self.refresh()

    def _keys_shown(self) -> tuple:
        """(key, its display, description, enabled) for each action shown, its first key only."""
        app = self.app
        keys, actions = [], set()
        palette = None
        for _, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if app.ENABLE_COMMAND_PALETTE and binding.key == app.COMMAND_PALETTE_BINDING:
                palette = (binding.key, app.get_key_display(binding), binding.description, enabled)
            elif binding.show and binding.action not in actions:
                actions.add(binding.action)
                keys.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        return tuple(keys), palette

    @staticmethod
    def _build(shown: tuple) -> tuple[Content, list[tuple[int, int, str, bool]]]:
        keys, _ = shown
        parts: list[Content] = []
        spans: list[tuple[int, int, str, bool]] = []
        at = 0
        for key, display, description, enabled in keys:
            key_style = "bold $footer-key-foreground" if enabled else "dim $footer-key-foreground"
            text_style = "$footer-description-foreground" if enabled else "dim $footer-description-foreground"
            item = Content.styled(f" {display} ", key_style) + Content.styled(f"{description} ", text_style)
            spans.append((at, at + item.cell_length, key, enabled))
            parts.append(item)
            at += item.cell_length
        return Content("").join(parts), spans

    def _palette(self) -> tuple[Content, str, bool] | None:
        """The command palette's key, drawn at the right end: its text, the key, enabled."""
        palette = self._shown[1] if self._shown else None
        if palette is None:
            return None
        key, display, description, enabled = palette
        right = Content.styled("▏", "dim $footer-key-foreground") + Content.styled(
            display, "bold $footer-key-foreground") + Content.styled(f" {description.lower()} ",
                                                                    "$footer-description-foreground")
        return right, key, enabled

    def render(self) -> Content:
        line = self._line
        palette = self._palette()
        if palette is None:
            return line
        right = palette[0]
        room = max(0, self.size.width - right.cell_length)
        if line.cell_length > room:
            line = line.truncate(room)
        return line + Content(" " * (room - line.cell_length)) + right

    def key_at(self, x: int) -> tuple[str, bool] | None:
        """The key drawn at cell `x` (and whether it is enabled), if any."""
        palette = self._palette()
        if palette is not None and x >= self.size.width - palette[0].cell_length:
            return palette[1], palette[2]
        for start, end, key, enabled in self._spans:
            if start <= x < end:
                return key, enabled
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        hit = self.key_at(event.x)
        if hit is None:
            return
        key, enabled = hit
        if enabled:
            self.app.simulate_key(key)
        else:
            self.app.bell()
