"""bench/app.py end to end: a --quick run against a real cluster prints a line for every figure,
with a number in dbtop's column."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "app.py"
FIGURES = [
    "app client CPU per refresh at a 1 s interval (N = 10)",
    "app CPU at a 1 s interval",
    "app CPU while paused",
    "start → first data on screen (tmux)",
    "app peak RSS",
    "server backend CPU per refresh",
    "data collection wall per snapshot",
    "`--version`",
    *(f"key → screen at 10 sessions: {key}, median (max)" for key in ("panel switch", "sort", "filter", "group", "Enter")),
]
NUMBER = re.compile(r"^\d+(\.\d+)?( \(\d+(\.\d+)?\))? (ms|s|%|MB)$")


@pytest.mark.slow
def test_quick_run_prints_every_figure():
    # dbtop alone: pg_activity, when installed, would double the run; its skip line is checked instead.
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--tools", "dbtop"],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {cells[1].strip(): cells[2:] for line in done.stdout.splitlines()
            if line.startswith("| ") and len(cells := line.split("|")) == 6}
    for figure in FIGURES:
        row = next((cells for label, cells in rows.items() if label.startswith(figure)), None)
        assert row is not None, f"no line for {figure!r} in:\n{done.stdout}"
        pg_activity, dbtop = row[0].strip(), row[1].strip()
        assert pg_activity == "skipped", row
        assert NUMBER.match(dbtop), f"{figure}: {dbtop!r}"
    assert "pg_activity skipped: not asked for (--tools)" in done.stdout


def test_a_sort_label_of_two_words_is_read_whole(monkeypatch):
    """The third press of `s` sorts by "blocked by": the bench waited for ever for a label it
    could not read."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_app", BENCH)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_app", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    for summary, read in (("2003 sessions · sort blocked by ↓", ("blocked by", "↓")),
                          ("3 sessions · sort xact ↑ · grouped by state", ("xact", "↑"))):
        assert bench.SORT.search(summary).groups() == read
