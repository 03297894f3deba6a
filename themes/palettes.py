"""dbtop's themes as Textual Theme objects, each defining the severity colours the panels use."""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

from .names import ANSI16_NAME, DARK_NAME, HIGH_CONTRAST_NAME, LIGHT_NAME, THEME_NAMES

SEVERITIES = ("critical", "high", "medium", "low", "info")


def _severities(critical: str, high: str, medium: str, low: str, info: str) -> dict[str, str]:
    return dict(zip((f"severity-{s}" for s in SEVERITIES), (critical, high, medium, low, info)))


DARK = Theme(
    name=DARK_NAME, dark=True,
    primary="#3B8EEA", secondary="#7AA2F7", accent="#E0AF68",
    warning="#E5A50A", error="#F05454", success="#50C878",
    foreground="#D8DEE9", background="#11151C", surface="#1A1F29", panel="#232A36",
    variables=_severities("#FF4D6D", "#FF8C42", "#E5C07B", "#7AA2F7", "#8B95A7"),
)
LIGHT = Theme(
    name=LIGHT_NAME, dark=False,
    primary="#1F5FBF", secondary="#3A6FD8", accent="#9A5B00",
    warning="#A15C00", error="#C4162A", success="#1B7F3B",
    foreground="#1E2329", background="#F7F8FA", surface="#FFFFFF", panel="#E7EAF0",
    variables=_severities("#B3001B", "#C24E00", "#8A6D00", "#1F5FBF", "#5B6472"),
)
HIGH_CONTRAST = Theme(
    name=HIGH_CONTRAST_NAME, dark=True,
    primary="#00BFFF", secondary="#FFFFFF", accent="#FFFF00",
    warning="#FFFF00", error="#FF3030", success="#00FF00",
    foreground="#FFFFFF", background="#000000", surface="#000000", panel="#1A1A1A",
    variables=_severities("#FF3030", "#FF9900", "#FFFF00", "#00BFFF", "#FFFFFF"),
)
# Sixteen colours, for the Linux console (TERM=linux) and terminals without more.
ANSI16 = Theme(
    name=ANSI16_NAME, dark=True, ansi=True,
    primary="ansi_blue", secondary="ansi_cyan", accent="ansi_yellow",
    warning="ansi_yellow", error="ansi_red", success="ansi_green",
    foreground="ansi_default", background="ansi_default", surface="ansi_default", panel="ansi_default",
    boost="ansi_default",
    variables={
        # What Textual's own ansi-dark theme sets for its widgets.
        **BUILTIN_THEMES["ansi-dark"].variables,
        **_severities("ansi_bright_red", "ansi_red", "ansi_yellow", "ansi_cyan", "ansi_default"),
    },
)

THEMES = {theme.name: theme for theme in (DARK, LIGHT, HIGH_CONTRAST, ANSI16)}
assert tuple(THEMES) == THEME_NAMES


def rich_color(value: str) -> str:
    """A theme colour as Rich understands it (Textual writes ANSI colours as `ansi_red`)."""
    if value.startswith("ansi_"):
        name = value[5:]
        return "default" if name == "default" else name
    return value
