"""The themes' names and the default choice, without Textual: the command line validates `--theme`
with these, and `dbtop --help` stays fast."""

from __future__ import annotations

import os

DARK_NAME = "dbtop-dark"
LIGHT_NAME = "dbtop-light"
HIGH_CONTRAST_NAME = "dbtop-high-contrast"
ANSI16_NAME = "dbtop-16"
THEME_NAMES = (DARK_NAME, LIGHT_NAME, HIGH_CONTRAST_NAME, ANSI16_NAME)


def default_theme_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    term = env.get("TERM", "")
    if term in ("linux", "vt100", "vt220", "ansi", "dumb") or env.get("COLORTERM") == "16":
        return ANSI16_NAME
    return DARK_NAME
