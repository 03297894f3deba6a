"""What the whole app costs on the operator's machine: the installed `dbtop` in tmux against a real
cluster, side by side with pg_activity (when it is installed) in the same run.

Starts a throwaway cluster (bench/snapshot.py's: 2,000 distinct statements in pg_stat_statements,
a three-deep lock chain, N idle sessions held by a helper process), then for each N and each
repeat runs each tool in its own tmux server through a small wrapper that forks it, records when
it started and collects its rusage with wait4. Per run:

* start -> first data: from the fork to the first screen (capture-pane, every 10 ms) showing the
  pid of the lock chain's holder, a fact only the server knows (each tool is launched once, unmeasured,
  before its first measured run, so that no run pays for reading its code from disk);
* client CPU per refresh and CPU %: /proc/<pid>/stat over a window at the refresh interval, the
  refreshes counted from pg_stat_statements (the tool's own role; its most-called statement on
  pg_stat_activity runs once per refresh); the server backend's CPU over the same window
  (/proc/<backend>/schedstat);
* CPU % while paused (`p` in dbtop, Space in pg_activity);
* peak RSS (ru_maxrss from wait4, after `q`).

Then, at --keys-n sessions (default 2,000), key -> screen: from send-keys to the first screen that
shows the key's effect (panel switch, sort, filter, group, Enter); and `--version` time, and the data
collection wall per snapshot (dbtop's own cost.wall_ms from `dbtop snapshot --json`; pg_activity's
data layer, timed in its own interpreter, as its refresh calls it).

    .venv/bin/python bench/app.py [--ns 50,500,1000] [--repeats 3] [--keys-n 2000] [--quick]

pg_activity is looked for beside this interpreter, then in PATH (`pip install 'pg_activity[psycopg]'`);
without it its column says skipped. Medians across repeats; the machine's other load shows in them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PGA_ROLE = "pga_bench"  # pg_activity connects as a superuser, as pg_activity's own anchor runs did
PGA_HINT = "pip install 'pg_activity[psycopg]' (into this venv, not the project's dependencies)"
POLL_S = 0.01
TOOLS = ("pg_activity", "dbtop")


# -- the wrapper that runs inside tmux ------------------------------------------------------------

def wrap(status: str, argv: list[str]) -> int:
    """Fork the tool, write its pid and start time, wait4 it, write its rusage. CLOCK_MONOTONIC is
    system-wide, so the parent compares these times with its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the tool's
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    Path(status + ".start.tmp").write_text(json.dumps({"pid": pid, "t0": started}))
    os.replace(status + ".start.tmp", status + ".start")
    _, code, usage = os.wait4(pid, 0)
    result = {"rc": os.waitstatus_to_exitcode(code), "wall_s": time.monotonic() - started,
              "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}
    Path(status + ".tmp").write_text(json.dumps(result))
    os.replace(status + ".tmp", status)
    return 0


# -- pg_activity's data layer, run in pg_activity's interpreter -----------------------------------

def pga_data_layer(connect: dict, count: int) -> int:
    """Time what one pg_activity refresh collects, through its own data layer (the calls its UI
    loop makes in its default mode: server information, memory/load, activities, psutil)."""
    from pgactivity import activities, data

    conn = data.Data.pg_connect(**connect)
    procs: dict = {}
    info = None
    walls = []
    for n in range(count + 3):  # three warm-ups
        started = time.perf_counter()
        info = conn.pg_get_server_information(info, skip_db_size=True, skip_tempfile=True, skip_walreceiver=True)
        activities.mem_swap_load()
        activities.ps_complete(conn.pg_get_activities(1), procs, 4096)
        if n >= 3:
            walls.append((time.perf_counter() - started) * 1000)
    conn.pg_conn.close()
    print(json.dumps(walls))
    return 0


# -- a tool in tmux -------------------------------------------------------------------------------

def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu_ns(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


class Terminal:
    """One tool in its own tmux server, started through `wrap`."""

    def __init__(self, argv: list[str], workdir: Path, size: tuple[int, int]):
        self.socket = f"dbtop-bench-{uuid.uuid4().hex[:8]}"
        self.status = str(workdir / f"{self.socket}.json")
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX", "NO_COLOR")}
        command = [sys.executable, str(Path(__file__).resolve()), "--wrap", self.status, "--", *argv]
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", "b", "-x", str(size[0]),
                        "-y", str(size[1]), "-e", "TERM=xterm-256color", *command], check=True, env=env)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.status + ".start"):
            if time.monotonic() > deadline:
                subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
                raise RuntimeError(f"the wrapper did not start {argv[0]}")
            time.sleep(POLL_S)
        start = json.loads(Path(self.status + ".start").read_text())
        self.pid, self.t0 = start["pid"], start["t0"]
        self.socket_path = subprocess.run(["tmux", "-L", self.socket, "display-message", "-p", "#{socket_path}"],
                                          capture_output=True, text=True).stdout.strip()

    def screen(self, escapes: bool = False) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", *(["-e"] if escapes else []),
                               "-t", "b"], capture_output=True, text=True).stdout

    def keys(self, *keys: str, literal: bool = False) -> float:
        """Type; returns the time just before the keys went out."""
        started = time.monotonic()
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "b", *(["-l"] if literal else []), *keys],
                       check=True)
        return started

    def wait_for(self, predicate, timeout: float = 20.0, escapes: bool = False) -> tuple[float, str]:
        """The time of the first screen for which predicate(screen) holds, and that screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen(escapes)
            seen = time.monotonic()
            if predicate(screen):
                return seen, screen
            if seen > deadline:
                raise RuntimeError(f"screen not as expected after {timeout:g} s:\n{self.screen()}")
            time.sleep(POLL_S)

    def quit(self, key: str) -> dict:
        self.keys(key)
        deadline = time.monotonic() + 15
        while not os.path.exists(self.status):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGTERM)
                raise RuntimeError(f"the tool did not quit on {key!r}:\n{self.screen()}")
            time.sleep(0.05)
        return json.loads(Path(self.status).read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.socket_path:  # a server that ends with its last session leaves its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)


def has(text: str):
    return lambda screen: text in screen


def has_word(word: str):
    pattern = re.compile(rf"(?<![\d]){re.escape(word)}(?![\d])")
    return lambda screen: bool(pattern.search(screen))


@dataclass
class Tool:
    name: str
    argv: list[str]
    role: str
    pause_key: str
    paused: str  # on screen while paused
    version_argv: list[str]


@dataclass
class Run:
    tool: str
    n: int
    start_s: float
    refreshes: int
    window_s: float
    cpu_ms_per_refresh: float
    cpu_pct: float
    backend_ms_per_refresh: float
    paused_cpu_pct: float
    peak_rss_mb: float


@dataclass
class Workload:
    cluster: object
    holder_pid: int
    middle_pid: int
    tail_pid: int
    sessions: int = 0


def refresh_calls(cluster, role: str) -> tuple[int, list[int]]:
    """The calls of the role's most-called statement on pg_stat_activity (once per refresh in
    both tools) and the role's backends."""
    out = cluster.psql(
        "SELECT coalesce(max(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
        f"WHERE r.rolname = '{role}' AND s.query ILIKE '%pg_stat_activity%';"
        f"SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '{role}';", database="bench")
    calls, pids = (out.splitlines() + ["", ""])[:2]
    return int(calls or 0), [int(p) for p in pids.split(",") if p]


def run_tool(tool: Tool, work: Workload, args, workdir: Path, figures: bool = True,
             keys: bool = False) -> tuple[Run | None, dict[str, list[float]]]:
    """One launch of the tool: its figures (start, CPU, paused CPU, RSS), and/or key -> screen."""
    term = Terminal(tool.argv, workdir, args.size)
    run, timings = None, {}
    try:
        seen, _ = term.wait_for(has_word(str(work.holder_pid)))
        start_s = seen - term.t0
        time.sleep(args.warmup)
        if figures:
            calls0, backends = refresh_calls(work.cluster, tool.role)
            t0, cpu0, be0 = time.monotonic(), proc_cpu_s(term.pid), backend_cpu_ns(backends)
            time.sleep(args.window)
            t1, cpu1, be1 = time.monotonic(), proc_cpu_s(term.pid), backend_cpu_ns(backends)
            calls1, _ = refresh_calls(work.cluster, tool.role)
            refreshes = max(calls1 - calls0, 1)

            term.keys(tool.pause_key)
            term.wait_for(has(tool.paused))
            time.sleep(0.5)
            p0, pcpu0 = time.monotonic(), proc_cpu_s(term.pid)
            time.sleep(args.paused_window)
            p1, pcpu1 = time.monotonic(), proc_cpu_s(term.pid)
            term.keys(tool.pause_key)
            term.wait_for(lambda s: tool.paused not in s)
        if keys:
            timings = (dbtop_keys if tool.name == "dbtop" else pga_keys)(term, work, args.key_repeats)
        usage = term.quit("q")
    finally:
        term.close()
    if figures:
        run = Run(tool=tool.name, n=work.sessions, start_s=start_s, refreshes=refreshes, window_s=t1 - t0,
                  cpu_ms_per_refresh=(cpu1 - cpu0) * 1000 / refreshes, cpu_pct=100 * (cpu1 - cpu0) / (t1 - t0),
                  backend_ms_per_refresh=(be1 - be0) / 1e6 / refreshes,
                  paused_cpu_pct=100 * (pcpu1 - pcpu0) / (p1 - p0), peak_rss_mb=usage["maxrss_kb"] / 1024)
    return run, timings


# -- key -> screen --------------------------------------------------------------------------------

SORT = re.compile(r"sort (\S+(?: \S+)?) ([↓↑])")  # labels of one or two words ("blocked by")
GROUPS = ("state", "user", "application", "client")
FILTER = "bench-chain"


def timed(term: Terminal, predicate, *keys: str, literal: bool = False, escapes: bool = False) -> float:
    sent = term.keys(*keys, literal=literal)
    seen, _ = term.wait_for(predicate, escapes=escapes)
    return (seen - sent) * 1000


def dbtop_keys(term: Terminal, work: Workload, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("panel switch", "sort", "filter", "group", "Enter")}
    sessions_line = re.compile(r"\d+ sessions ·")
    for _ in range(repeats):
        out["panel switch"].append(timed(term, has(f"└─ {work.middle_pid}"), "2"))
        out["panel switch"].append(timed(term, lambda s: bool(sessions_line.search(s)) and "└─" not in s, "1"))

        before = SORT.search(term.screen())
        out["sort"].append(timed(term, lambda s: (m := SORT.search(s)) is not None
                                 and (before is None or m.groups() != before.groups()), "s"))

        # One key at a time, as typed: the box opening, then each keystroke to the screen showing it.
        out["filter"].append(timed(term, has("filter: user, database"), "/"))
        for i, char in enumerate(FILTER, 1):
            shown = re.compile(rf"filter {re.escape(FILTER[:i])}(?=\s|$)", re.M)
            out["filter"].append(timed(term, lambda s: shown.search(s) is not None, char, literal=True))
        term.wait_for(lambda s: re.search(r"\b3 sessions ·", s) is not None)  # the chain, and only it
        term.keys("Enter")
        time.sleep(0.2)
        term.keys("Escape")
        term.wait_for(lambda s: f"filter {FILTER}" not in s and sessions_line.search(s) is not None)

        for group in GROUPS:
            out["group"].append(timed(term, has(f"grouped by {group}"), "g"))
        out["group"].append(timed(term, lambda s: "grouped by" not in s and "pid " in s, "g"))

        out["Enter"].append(timed(term, has("Esc closes"), "Enter"))
        term.keys("Escape")
        term.wait_for(lambda s: "Esc closes" not in s)
    return out


def pga_keys(term: Terminal, work: Workload, repeats: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"panel switch": [], "sort": []}

    def header(screen: str) -> str:
        return next((line for line in screen.splitlines() if "PID" in line and "TIME+" in line), "")

    for _ in range(repeats):
        out["panel switch"].append(timed(term, has("WAITING QUERIES"), "2"))
        out["panel switch"].append(timed(term, has("RUNNING QUERIES"), "1"))
        for key in ("c", "t"):  # by CPU, back to by time: the highlighted column header moves
            before = header(term.screen(escapes=True))
            out["sort"].append(timed(term, lambda s: header(s) not in ("", before), key, escapes=True))
    return out


# -- the one-shot figures -------------------------------------------------------------------------

def version_s(tool: Tool, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(tool.version_argv, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


BYTECODE = """
import compileall, os, sys
import dbtop.tui.cli, dbtop.tui.app, dbtop.tui.commands.snapshot, dbtop.engines.postgres.collector
for name, module in list(sys.modules.items()):
    if name.split(".")[0] == "dbtop" and getattr(module, "__path__", None):
        for path in module.__path__:
            if os.path.isdir(path):
                compileall.compile_dir(path, maxlevels=0, quiet=1)
"""


def compile_bytecode(python: str) -> None:
    """Write the bytecode of dbtop's modules, as `pip install` does for an installed package (and
    did for pg_activity's). An editable install run with PYTHONDONTWRITEBYTECODE would otherwise
    compile every module from source at each start: ~0.2 s of CPU no operator's install spends."""
    subprocess.run([python, "-c", BYTECODE], check=True)


def dbtop_collection_ms(exe: str, dsn: str, count: int) -> list[float]:
    out = subprocess.run([exe, "snapshot", dsn, "--json", "--count", str(count + 2), "--interval", "0.5"],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    walls = [json.loads(line)["cost"]["wall_ms"] for line in out.splitlines() if line.strip()]
    return walls[2:]  # the first two read the slow facts, the catalog and the statements' texts


def pga_collection_ms(python: str, connect: dict, count: int) -> list[float]:
    out = subprocess.run([python, str(Path(__file__).resolve()), "--pga-data-layer", json.dumps(connect), str(count)],
                         capture_output=True, text=True, check=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- finding the tools ----------------------------------------------------------------------------

def find_pg_activity(given: str | None) -> tuple[str | None, str | None, str]:
    """The pg_activity command, the interpreter it runs in, and why not when it is missing."""
    exe = given or shutil.which("pg_activity", path=os.pathsep.join([os.path.dirname(sys.executable),
                                                                       os.environ.get("PATH", "")]))
    if not exe:
        return None, None, f"pg_activity is not installed: {PGA_HINT}"
    first = Path(exe).read_bytes()[:200].split(b"\n")[0]
    python = first[2:].decode().strip() if first.startswith(b"#!") else sys.executable
    probe = subprocess.run([python, "-c", "import pgactivity\ntry:\n import psycopg\nexcept ImportError:\n import psycopg2"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None, None, f"pg_activity at {exe} cannot run (no psycopg driver?): {PGA_HINT}"
    return exe, python, ""


# -- the report -----------------------------------------------------------------------------------

def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:.1f}×"


@dataclass
class Results:
    ns: list[int]
    tools: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    keys: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    keys_n: int = 0
    version_s: dict[str, float] = field(default_factory=dict)
    collection: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # the machine's 1-minute load average, start and end

    def per_n(self, tool: str, attr: str) -> list[float | None]:
        return [med([getattr(r, attr) for r in self.runs if r.tool == tool and r.n == n]) for n in self.ns]


def render(res: Results, args) -> str:
    header = ["figure", "pg_activity", "dbtop", "dbtop ÷ pg_activity"]
    rows: list[list[str]] = []

    def cells(tool: str, values: list[float | None], digits: int, unit: str) -> str:
        if all(v is None for v in values):
            return "skipped" if tool in res.skipped else "-"
        return " / ".join(fmt(v, digits) for v in values) + f" {unit}"

    def by_n(label: str, a: list[float | None], b: list[float | None], digits: int, unit: str) -> None:
        if not res.ns:
            return
        rows.append([label, cells("pg_activity", a, digits, unit), cells("dbtop", b, digits, unit),
                     " / ".join(ratio(y, x) for x, y in zip(a, b))])

    def one(label: str, a: float | None, b: float | None, digits: int, unit: str,
            a_max: float | None = None, b_max: float | None = None) -> None:
        def cell(value, top, missing):
            if value is None:
                return missing
            return f"{fmt(value, digits)}{'' if top is None else f' ({fmt(top, digits)})'} {unit}"
        rows.append([label, cell(a, a_max, "skipped" if "pg_activity" in res.skipped else "n/a"),
                     cell(b, b_max, "-"), ratio(b, a)])

    iv = f"{args.interval:g} s"
    ns = " / ".join(str(n) for n in res.ns)
    pga = lambda attr: res.per_n("pg_activity", attr)  # noqa: E731
    dbt = lambda attr: res.per_n("dbtop", attr)  # noqa: E731
    by_n(f"app client CPU per refresh at a {iv} interval (N = {ns})", pga("cpu_ms_per_refresh"),
         dbt("cpu_ms_per_refresh"), 1, "ms")
    by_n(f"app CPU at a {iv} interval", pga("cpu_pct"), dbt("cpu_pct"), 2, "%")
    by_n("app CPU while paused", pga("paused_cpu_pct"), dbt("paused_cpu_pct"), 2, "%")
    by_n("start → first data on screen (tmux)", pga("start_s"), dbt("start_s"), 2, "s")
    by_n("app peak RSS", pga("peak_rss_mb"), dbt("peak_rss_mb"), 0, "MB")
    by_n("server backend CPU per refresh", pga("backend_ms_per_refresh"), dbt("backend_ms_per_refresh"), 1, "ms")
    col = [[med(res.collection.get(n, {}).get(t, [])) for n in res.ns] for t in TOOLS]
    by_n("data collection wall per snapshot (pg_activity: its data layer)", col[0], col[1], 1, "ms")
    one("`--version`", res.version_s.get("pg_activity"), res.version_s.get("dbtop"), 2, "s")
    if res.keys_n:
        for key in ("panel switch", "sort", "filter", "group", "Enter"):
            a, b = (res.keys.get(tool, {}).get(key, []) for tool in TOOLS)
            one(f"key → screen at {res.keys_n} sessions: {key}, median (max)", med(a), med(b), 0, "ms",
                max(a, default=None), max(b, default=None))

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *[line(r) for r in rows], ""]
    reps = {n: len([r for r in res.runs if r.n == n and r.tool in res.tools[-1:]]) for n in res.ns}
    out.append(f"Medians of {', '.join(f'{c} run(s) at N={n}' for n, c in reps.items()) or 'no runs'}; each tool alone in "
               f"tmux at {args.size[0]}x{args.size[1]}, refreshing every {iv}; CPU over {args.window:g} s after "
               f"{args.warmup:g} s of warm-up, paused over {args.paused_window:g} s; each tool launched once unmeasured "
               "before the first (--quick: not). N idle sessions + a 3-deep lock "
               f"chain + {args.statements} statements in pg_stat_statements. Key → screen: "
               f"{args.key_repeats} round(s), from send-keys to the first capture showing the effect (10 ms polling, "
               "tmux's own few ms included; filter: "
               f"'/' and then each key of {FILTER!r} typed one at a time; group: each of the five groupings); n/a: pg_activity has no such key. dbtop runs as a pg_monitor role, "
               "pg_activity as a superuser.")
    out.append(f"Load average (1 min) at the start and the end: {' and '.join(f'{x:.1f}' for x in res.load)} "
               f"on {os.cpu_count()} CPUs: other processes' load shows in every figure.")
    for tool, why in res.skipped.items():
        out.append(f"{tool} skipped: {why}")
    out.append("")
    out.append("Every run: tool, N, start s, refreshes counted, window s, CPU ms/refresh, CPU %, backend ms/refresh, "
               "paused CPU %, peak RSS MB")
    for r in res.runs:
        out.append(f"  {r.tool:12} {r.n:5} {r.start_s:6.2f} {r.refreshes:4} {r.window_s:6.1f} "
                   f"{r.cpu_ms_per_refresh:8.1f} {r.cpu_pct:7.2f} {r.backend_ms_per_refresh:7.1f} "
                   f"{r.paused_cpu_pct:6.2f} {r.peak_rss_mb:6.0f}")
    for tool, keys in res.keys.items():
        for key, values in keys.items():
            out.append(f"  key → screen {tool:12} {key:13} " + " ".join(f"{v:.0f}" for v in values) + " ms")
    return "\n".join(out)


# -- the run --------------------------------------------------------------------------------------

def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--wrap":  # before argparse: the tool's own options follow
        return wrap(sys.argv[2], sys.argv[4:] if sys.argv[3] == "--" else sys.argv[3:])
    if len(sys.argv) == 4 and sys.argv[1] == "--pga-data-layer":
        return pga_data_layer(json.loads(sys.argv[2]), int(sys.argv[3]))

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ns", default=None, help="idle session counts (default 50,500,1000; --quick: 10; '': none)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per tool and N (default 3; --quick: 1)")
    parser.add_argument("--keys-n", type=int, default=None,
                        help="sessions for key -> screen (default 2000; --quick: the largest N; 0: skip)")
    parser.add_argument("--key-repeats", type=int, default=None, help="rounds of keys (default 3; --quick: 1)")
    parser.add_argument("--statements", type=int, default=None, help="distinct statements (default 2000; --quick: 200)")
    parser.add_argument("--interval", type=float, default=None, help="refresh interval, s (default 2; --quick: 1)")
    parser.add_argument("--window", type=float, default=None, help="CPU window, s (default 20; --quick: 3)")
    parser.add_argument("--paused-window", type=float, default=None, help="paused CPU window, s (default 10; --quick: 1.5)")
    parser.add_argument("--snapshots", type=int, default=None, help="snapshots timed for collection (default 10)")
    parser.add_argument("--size", default="120x40", help="terminal size (default 120x40)")
    parser.add_argument("--tools", default="pg_activity,dbtop", help="which tools (default both)")
    parser.add_argument("--pg-activity", metavar="PATH", help="the pg_activity command (default: beside python, PATH)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=10, one short run of each")
    args = parser.parse_args()

    quick = args.quick
    ns = args.ns if args.ns is not None else ("10" if quick else "50,500,1000")  # "": key -> screen alone
    args.ns = sorted({int(x) for x in ns.split(",") if x.strip()})
    args.repeats = args.repeats or (1 if quick else 3)
    args.key_repeats = args.key_repeats or (1 if quick else 3)
    args.keys_n = args.keys_n if args.keys_n is not None else (args.ns[-1] if quick else 2000)
    args.statements = args.statements or (200 if quick else 2000)
    args.interval = args.interval or (1.0 if quick else 2.0)
    args.window = args.window or (3.0 if quick else 20.0)
    args.paused_window = args.paused_window or (1.5 if quick else 10.0)
    args.snapshots = args.snapshots or (3 if quick else 10)
    args.warmup = args.interval * (1 if quick else 2) + 0.5
    args.size = tuple(int(x) for x in args.size.lower().split("x"))
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    if shutil.which("tmux") is None:
        raise SystemExit("bench/app.py runs the tools in tmux: apt-get install tmux")

    exe = os.path.join(os.path.dirname(sys.executable), "dbtop")
    if not os.path.exists(exe):
        raise SystemExit(f"no installed dbtop beside {sys.executable}: pip install -e .")
    compile_bytecode(sys.executable)
    res = Results(ns=args.ns, tools=[])
    pga_exe = pga_python = None
    if "pg_activity" in wanted:
        pga_exe, pga_python, why = find_pg_activity(args.pg_activity)
        if pga_exe is None:
            res.skipped["pg_activity"] = why
    else:
        res.skipped["pg_activity"] = "not asked for (--tools)"
    if "pg_activity" in res.skipped:
        print(f"pg_activity skipped: {res.skipped['pg_activity']}", file=sys.stderr)

    sys.path.insert(0, str(HERE))
    import asyncio

    import snapshot as workload  # bench/snapshot.py: the cluster, the statements, the sessions

    levels = sorted(set(args.ns) | ({args.keys_n} if args.keys_n else set()))
    began, load_start = time.perf_counter(), os.getloadavg()[0]
    print(f"starting a cluster with {args.statements} distinct statements ...", file=sys.stderr)
    cluster, tables = workload.setup_cluster(args.statements, max_connections=max(levels) + 100)
    cluster.psql(f"CREATE ROLE {PGA_ROLE} LOGIN SUPERUSER")
    print(f"  ready ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    dsn = cluster.dsn(user=workload.ROLE, database=workload.DATABASE)
    tools: list[Tool] = []
    if pga_exe:
        tools.append(Tool("pg_activity", [pga_exe, "--refresh", f"{args.interval:g}", "-h", str(cluster.socket_dir),
                                          "-p", str(cluster.port), "-U", PGA_ROLE, "-d", workload.DATABASE],
                          PGA_ROLE, "Space", "PAUSE", [pga_exe, "--version"]))
    if "dbtop" in wanted:
        tools.append(Tool("dbtop", [exe, dsn, "--interval", f"{args.interval:g}"], workload.ROLE, "p", "paused",
                          [exe, "--version"]))
    res.tools = [t.name for t in tools]
    pga_connect = {"host": str(cluster.socket_dir), "port": cluster.port, "user": PGA_ROLE,
                   "database": workload.DATABASE}
    loop = asyncio.new_event_loop()
    holder = None
    workdir = Path(tempfile.mkdtemp(prefix="dbtop-bench-app-"))
    try:
        holder = loop.run_until_complete(workload.SessionHolder.start(cluster, tables))
        pids = loop.run_until_complete(holder.ask(cmd="chain"))["pids"]
        work = Workload(cluster, *pids)
        for t in tools:
            res.version_s[t.name] = version_s(t, 1 if quick else 5)
            if not quick:  # once, unmeasured: no measured start pays for reading the code from disk
                run_tool(t, work, args, workdir, figures=False)
        for n in levels:
            loop.run_until_complete(holder.ask(cmd="grow", n=n))
            work.sessions = n
            print(f"  {n} idle sessions open ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
            if n in args.ns:
                res.collection[n] = {}
                if "dbtop" in res.tools:
                    res.collection[n]["dbtop"] = dbtop_collection_ms(exe, dsn, args.snapshots)
                if pga_python:
                    res.collection[n]["pg_activity"] = pga_collection_ms(pga_python, pga_connect, args.snapshots)
                for r in range(args.repeats):
                    # --quick types its keys in the last run, not in a launch of their own
                    keys = quick and n == args.keys_n and r == args.repeats - 1
                    for t in tools:  # alternately, so that a change in the machine's load hits both
                        run, timings = run_tool(t, work, args, workdir, keys=keys)
                        res.runs.append(run)
                        if keys:
                            res.keys_n, res.keys[t.name] = n, timings
                        print(f"    {t.name} run {r + 1}: {run.cpu_ms_per_refresh:.1f} ms/refresh, "
                              f"start {run.start_s:.2f} s ({time.perf_counter() - began:.0f} s)", file=sys.stderr)
            if n == args.keys_n and not res.keys_n:
                res.keys_n = n
                for t in tools:
                    res.keys[t.name] = run_tool(t, work, args, workdir, figures=False, keys=True)[1]
        res.load = [load_start, os.getloadavg()[0]]
        print(render(res, args))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "runs": [r.__dict__ for r in res.runs], "keys": res.keys, "keys_n": res.keys_n,
                "version_s": res.version_s, "collection_ms": res.collection, "skipped": res.skipped}, indent=1))
        print(f"(total run time {time.perf_counter() - began:.0f} s)", file=sys.stderr)
    finally:
        if holder is not None:
            loop.run_until_complete(holder.stop())
        loop.close()
        cluster.destroy()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
