"""dbtop's themes: the Textual Theme objects (palettes.py), their names (names.py) and the app's
stylesheet. The Theme objects load on first use, so that the command line checks `--theme` and
prints `--help` without importing Textual."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from .names import THEME_NAMES, default_theme_name

STYLESHEET = Path(__file__).with_name("dbtop.tcss")
_FROM_PALETTES = ("THEMES", "DARK", "LIGHT", "HIGH_CONTRAST", "ANSI16", "SEVERITIES", "rich_color")

__all__ = ["STYLESHEET", "THEME_NAMES", "default_theme_name", *_FROM_PALETTES]


def __getattr__(name: str):
    if name in _FROM_PALETTES:
        return getattr(import_module(".palettes", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
