"""What one full PostgreSQL snapshot costs, against the floor of one bare pg_stat_activity read.

Starts a throwaway cluster, fills pg_stat_statements with distinct statements, holds a three-deep
lock chain and N idle client sessions (in a helper process, so their memory and CPU stay out of
this process's figures), then times `PostgresCollector.snapshot()` and, over the collector's own
connection, `SELECT * FROM pg_stat_activity`, alternately, at each session count.

    .venv/bin/python bench/snapshot.py [--sessions 50,500,1000] [--snapshots 30] [--profile 20]

Per row: wall time (median, p95) of a snapshot and of the floor, the queries and round trips a
snapshot takes (its own `cost`), the server-side time of the collector's queries (the growth of
pg_stat_statements' exec + plan time for the collector's role, read from another connection,
per snapshot), the client CPU time (process time around the call) and the process's peak RSS.
The first snapshots after each step (--warmup) are not measured: they read the slow facts and
the texts of statements not seen before.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field

import asyncpg

from dbtop.engines.postgres.cluster import LocalCluster
from dbtop.engines.postgres.collector import PostgresCollector
from dbtop.profiles.target import resolve_target

DATABASE = "bench"
ROLE = "dbtop_bench"
FLOOR_SQL = "SELECT * FROM pg_stat_activity"
SHAPES_PER_TABLE = 10
# Ten structurally different statements per table: pg_stat_statements normalizes constants away,
# and the table's oid is part of the query id, so tables x shapes gives that many entries.
SHAPES = [
    "SELECT * FROM {t} WHERE id = 1",
    "SELECT a, b FROM {t} WHERE a > 5 ORDER BY a LIMIT 10",
    "SELECT count(*) FROM {t}",
    "SELECT sum(a) FROM {t} WHERE b LIKE 'x%'",
    "UPDATE {t} SET a = a + 1 WHERE id = 1",
    "INSERT INTO {t} (a, b) VALUES (1, 'x')",
    "DELETE FROM {t} WHERE id < 0",
    "SELECT b, count(*) FROM {t} GROUP BY b ORDER BY 2 DESC LIMIT 3",
    "SELECT t1.id FROM {t} t1 JOIN {t} t2 ON t1.id = t2.a WHERE t1.id < 10",
    "SELECT max(c) FROM {t} WHERE c > now() - interval '1 day'",
]
assert len(SHAPES) == SHAPES_PER_TABLE

TARGET_RATIO = 3.0
TARGET_CPU_MS = 10.0
TARGET_RSS_MB = 150.0


def table_name(i: int) -> str:
    return f"bench_t{i:04d}"


# -- the helper process that holds the sessions ---------------------------------------------------

async def hold_sessions(connect_kwargs: dict, tables: int) -> None:
    """Runs in the helper process: answers one JSON line per command read from stdin.
    {"cmd": "chain"} opens the lock chain; {"cmd": "grow", "n": N} opens idle sessions up to N.
    End of input closes everything."""
    # One descriptor per session: the default soft limit (1024) stops short of 2,000 sessions.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    idle: list[asyncpg.Connection] = []
    chain: list[asyncpg.Connection] = []
    waits: list[asyncio.Future] = []
    gate = asyncio.Semaphore(16)

    async def open_idle(i: int) -> asyncpg.Connection:
        async with gate:
            conn = await asyncpg.connect(**connect_kwargs, server_settings={"application_name": "bench-idle"})
            # Leave a realistic last query in pg_stat_activity.query (an entry that already exists).
            await conn.execute(SHAPES[0].format(t=table_name(i % tables)).replace("= 1", f"= {i}"))
            return conn

    async def wait_for_lock(ctl: asyncpg.Connection, pid: int) -> None:
        for _ in range(500):
            if await ctl.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid) == "Lock":
                return
            await asyncio.sleep(0.01)
        raise RuntimeError(f"session {pid} never waited for its lock")

    async def open_chain() -> list[int]:
        # A holds row 1 and sits idle in transaction; B holds row 2 and waits for row 1; C waits for row 2.
        a, b, c = [await asyncpg.connect(**connect_kwargs, server_settings={"application_name": f"bench-chain-{x}"})
                   for x in "abc"]
        chain.extend((a, b, c))
        ctl = await asyncpg.connect(**connect_kwargs)
        try:
            await a.execute("BEGIN; UPDATE bench_chain SET v = 1 WHERE id = 1")
            await b.execute("BEGIN; UPDATE bench_chain SET v = 2 WHERE id = 2")
            waits.append(asyncio.ensure_future(b.execute("UPDATE bench_chain SET v = 2 WHERE id = 1")))
            await wait_for_lock(ctl, b.get_server_pid())
            waits.append(asyncio.ensure_future(c.execute("UPDATE bench_chain SET v = 3 WHERE id = 2")))
            await wait_for_lock(ctl, c.get_server_pid())
        finally:
            await ctl.close()
        return [x.get_server_pid() for x in (a, b, c)]

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            try:
                if command["cmd"] == "chain":
                    reply({"ok": True, "pids": await open_chain()})
                elif command["cmd"] == "grow":
                    start = len(idle)
                    idle.extend(await asyncio.gather(*(open_idle(i) for i in range(start, command["n"]))))
                    reply({"ok": True, "n": len(idle)})
                else:
                    reply({"ok": False, "error": f"unknown command {command!r}"})
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        for conn in idle + chain:
            conn.terminate()
        for w in waits:
            w.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


class SessionHolder:
    """The parent's handle on the helper process."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @classmethod
    async def start(cls, cluster: LocalCluster, tables: int) -> SessionHolder:
        kwargs = json.dumps(cluster.connect_kwargs(database=DATABASE))
        process = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "--hold-sessions", kwargs, str(tables),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return cls(process)

    async def ask(self, **command) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the session helper died")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise RuntimeError(f"session helper: {answer.get('error')}")
        return answer

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


# -- setting up the server ------------------------------------------------------------------------

def setup_cluster(statements: int, max_connections: int = 1200) -> tuple[LocalCluster, int]:
    tables = -(-statements // SHAPES_PER_TABLE)
    cluster = LocalCluster()
    cluster.initdb(settings={
        "max_connections": str(max_connections),
        "pg_stat_statements.max": "5000",
        "pg_stat_statements.track_planning": "on",  # so "server-side time" includes planning
        "shared_buffers": "'128MB'",
    })
    cluster.start()
    cluster.psql(f"CREATE DATABASE {DATABASE}")
    # A monitoring role, not a superuser: what an operator would give dbtop.
    cluster.psql(f"CREATE ROLE {ROLE} LOGIN; GRANT pg_monitor TO {ROLE}; "
                 f"GRANT CONNECT ON DATABASE {DATABASE} TO {ROLE}")
    script = ["CREATE EXTENSION pg_stat_statements;",
              "CREATE TABLE bench_chain (id int PRIMARY KEY, v int);",
              "INSERT INTO bench_chain VALUES (1, 0), (2, 0);"]
    for i in range(tables):
        t = table_name(i)
        script.append(f"CREATE TABLE {t} (id serial PRIMARY KEY, a int, b text, c timestamptz DEFAULT now());")
        script.append(f"INSERT INTO {t} (a, b) SELECT g, 'x' || g FROM generate_series(1, 20) g;")
    for i in range(tables):
        for shape in SHAPES:
            script.append(shape.format(t=table_name(i)) + ";")
    cluster.psql("\n".join(script), database=DATABASE)
    return cluster, tables


# -- measuring ------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


@dataclass
class Level:
    sessions: int
    activity_rows: int = 0
    statements: int = 0
    blocked: int | None = None  # the fewest blocked sessions any measured snapshot saw
    roots: int | None = None
    snapshot_ms: list[float] = field(default_factory=list)
    snapshot_cpu_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    floor_cpu_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    round_trips: list[int] = field(default_factory=list)
    wire_round_trips: list[int] = field(default_factory=list)
    server_ms: float = 0.0
    floor_server_ms: float = 0.0
    per_query: list[tuple[str, float, float]] = field(default_factory=list)  # text, calls/snap, ms/call
    peak_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)


class WriteCounter:
    """Counts the messages batches asyncpg writes to the collector's socket. asyncpg writes once per
    exchange (Parse/Describe/Sync to prepare, Bind/Execute/Sync to run) and then waits for the
    answer, so the count is the round trips, measured rather than taken from the collector."""

    def __init__(self) -> None:
        self.writes = 0

    def install(self, conn: asyncpg.Connection | None) -> None:
        transport = getattr(conn, "_transport", None)
        if transport is None or getattr(transport, "_bench_counter", None) is self:
            return
        write, writelines = transport.write, transport.writelines

        def counted_write(data):
            self.writes += 1
            return write(data)

        def counted_writelines(buffers):
            self.writes += 1
            return writelines(buffers)

        transport.write = counted_write
        transport.writelines = counted_writelines
        transport._bench_counter = self


async def server_times(monitor: asyncpg.Connection) -> dict[tuple, tuple[str, int, float]]:
    rows = await monitor.fetch(
        "SELECT queryid, toplevel, query, calls, total_exec_time + total_plan_time AS ms "
        "FROM pg_stat_statements WHERE userid = $1::regrole", ROLE)
    return {(r["queryid"], r["toplevel"]): (r["query"], r["calls"], r["ms"]) for r in rows}


def first_sql_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("--", "/*")):
            return line
    return text.strip()


async def measure(collector: PostgresCollector, monitor: asyncpg.Connection, level: Level,
                  snapshots: int, warmup: int, gap_s: float) -> None:
    await server_times(monitor)  # so that this statement is not new (a text fetch) in the measured snapshots
    for _ in range(warmup):
        snap = await collector.snapshot()
        if not snap.reachable or collector._conn is None:
            raise RuntimeError(f"warm-up snapshot failed: {snap.error}")
        await collector._conn.fetch(FLOOR_SQL)
    conn = collector._conn  # the floor runs over the collector's own connection
    wire = WriteCounter()
    wire.install(conn)
    before = await server_times(monitor)
    for _ in range(snapshots):
        await asyncio.sleep(gap_s)
        writes = wire.writes
        t0, c0 = time.perf_counter(), time.process_time()
        snap = await collector.snapshot()
        t1, c1 = time.perf_counter(), time.process_time()
        level.wire_round_trips.append(wire.writes - writes)
        if collector._conn is not conn:
            raise RuntimeError(f"the collector reconnected during the measurement ({snap.error or 'no error'})")
        level.snapshot_ms.append((t1 - t0) * 1000)
        level.snapshot_cpu_ms.append((c1 - c0) * 1000)
        if not snap.reachable:
            raise RuntimeError(f"snapshot failed: {snap.error}")
        if snap.cost is not None:
            level.queries.append(snap.cost.queries)
            level.round_trips.append(snap.cost.round_trips)
        for name, part in snap.parts.items():
            if not part.available:
                level.problems.append(f"part {name} unavailable: {part.reason}")
        level.statements = len(snap.statements.entries)
        blocked, roots = snap.blocking.blocked_count, len(snap.blocking.roots)
        level.blocked = blocked if level.blocked is None else min(level.blocked, blocked)
        level.roots = roots if level.roots is None else min(level.roots, roots)
        del snap

        await asyncio.sleep(gap_s)
        t0, c0 = time.perf_counter(), time.process_time()
        rows = await conn.fetch(FLOOR_SQL)
        t1, c1 = time.perf_counter(), time.process_time()
        level.floor_ms.append((t1 - t0) * 1000)
        level.floor_cpu_ms.append((c1 - c0) * 1000)
        level.activity_rows = len(rows)
        del rows
    after = await server_times(monitor)

    per_query: list[tuple[str, float, float]] = []
    for key, (text, calls, ms) in after.items():
        calls_before, ms_before = before.get(key, (text, 0, 0.0))[1:]
        d_calls, d_ms = calls - calls_before, ms - ms_before
        if d_calls <= 0:
            continue
        if text.strip() == FLOOR_SQL:
            level.floor_server_ms = d_ms / snapshots
            continue
        level.server_ms += d_ms / snapshots
        per_query.append((first_sql_line(text), d_calls / snapshots, d_ms / d_calls))
    level.per_query = sorted(per_query, key=lambda p: -p[1] * p[2])
    level.problems = sorted(set(level.problems))
    level.peak_rss_mb = peak_rss_mb()


def profile_snapshots(collector: PostgresCollector, count: int, loop: asyncio.AbstractEventLoop) -> str:
    async def run() -> None:
        for _ in range(count):
            await collector.snapshot()

    profiler = cProfile.Profile()
    profiler.enable()
    loop.run_until_complete(run())
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    stats.sort_stats("cumulative").print_stats(r"engines/|dbtop|asyncpg|pydantic", 20)
    return out.getvalue()


# -- the report -----------------------------------------------------------------------------------

def spread(values: list[int]) -> str:
    """The median, and the range when it varies: `6 (6-7)`."""
    text = f"{statistics.median(values):g}"
    return text if min(values) == max(values) else f"{text} ({min(values)}-{max(values)})"


def render(levels: list[Level], args: argparse.Namespace, baseline_rss: float) -> str:
    header = ["sessions", "activity rows", "stmts", "snapshot ms", "floor ms", "ratio",
              "queries", "round trips", "server ms", "floor server ms", "client CPU ms", "floor CPU ms",
              "peak RSS MB"]
    sub = ["idle", "", "entries", "med / p95", "med / p95", "med (p95)", "", "", "/snapshot", "/read",
           "med / p95", "med", "process"]
    rows = []
    for lv in levels:
        s_med, s_p95 = statistics.median(lv.snapshot_ms), pct(lv.snapshot_ms, 0.95)
        f_med, f_p95 = statistics.median(lv.floor_ms), pct(lv.floor_ms, 0.95)
        q = spread(lv.queries)
        rt = spread(lv.wire_round_trips)
        rows.append([
            str(lv.sessions), str(lv.activity_rows), str(lv.statements),
            f"{s_med:.2f} / {s_p95:.2f}", f"{f_med:.2f} / {f_p95:.2f}",
            f"{s_med / f_med:.1f}x ({s_p95 / f_p95:.1f}x)", q, rt,
            f"{lv.server_ms:.2f}", f"{lv.floor_server_ms:.2f}",
            f"{statistics.median(lv.snapshot_cpu_ms):.1f} / {pct(lv.snapshot_cpu_ms, 0.95):.1f}",
            f"{statistics.median(lv.floor_cpu_ms):.2f}",
            f"{lv.peak_rss_mb:.0f}",
        ])
    widths = [max(len(r[i]) for r in [header, sub, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(header), line(sub), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    out.append("")
    out.append(f"{args.snapshots} measured snapshots per row, each followed by one floor read "
               f"({FLOOR_SQL!r} over the collector's connection), {args.gap_ms:g} ms apart; the first "
               f"{args.warmup} snapshot(s) after each step are warm-up (slow facts, new statement texts) "
               "and not measured.")
    out.append("activity rows: rows the floor returns (idle sessions + lock chain + background processes + "
               "dbtop). queries: the snapshot's own cost.queries; round trips: exchanges seen on the socket. "
               "server ms: pg_stat_statements exec+plan time of the collector's role per snapshot.")
    out.append(f"client CPU: process time around one snapshot() call. peak RSS: ru_maxrss of this process "
               f"(the sessions live in a helper process); {baseline_rss:.0f} MB before the first connection.")
    problems = sorted({p for lv in levels for p in lv.problems})
    for p in problems:
        out.append(f"WARNING: {p}")
    for lv in levels:
        if lv.round_trips != lv.wire_round_trips:
            out.append(f"NOTE: at {lv.sessions} sessions the collector counted {spread(lv.round_trips)} round trips "
                       f"in its cost, the socket saw {spread(lv.wire_round_trips)}")
        if lv.blocked != 2 or lv.roots != 1:
            out.append(f"WARNING: at {lv.sessions} sessions a snapshot saw {lv.blocked} blocked sessions under "
                       f"{lv.roots} root blockers, not the chain's 2 under 1")
    if all(lv.blocked == 2 and lv.roots == 1 for lv in levels):
        out.append("Every measured snapshot showed the lock chain (1 root blocker, 2 blocked) and ran the locks query.")

    top = max(levels, key=lambda lv: lv.sessions)
    s_med, f_med = statistics.median(top.snapshot_ms), statistics.median(top.floor_ms)
    cpu = statistics.median(top.snapshot_cpu_ms)
    out.append("")
    note = "" if top.sessions == 1000 else " (the issue sets them for 1000)"
    out.append(f"Targets at {top.sessions} sessions{note}:")
    checks = [
        (f"full snapshot within {TARGET_RATIO:g}x the floor (median)",
         f"{s_med:.2f} ms vs floor {f_med:.2f} ms = {s_med / f_med:.1f}x", s_med <= TARGET_RATIO * f_med),
        (f"client CPU under {TARGET_CPU_MS:g} ms per snapshot (median)", f"{cpu:.1f} ms", cpu < TARGET_CPU_MS),
        (f"peak RSS under {TARGET_RSS_MB:g} MB", f"{top.peak_rss_mb:.0f} MB", top.peak_rss_mb < TARGET_RSS_MB),
    ]
    for what, value, ok in checks:
        out.append(f"  [{'met' if ok else 'MISSED'}] {what}: {value}")

    out.append("")
    out.append(f"Collector queries at {top.sessions} sessions (server side, from pg_stat_statements):")
    out.append(f"  {'calls/snap':>10}  {'ms/call':>8}  {'ms/snap':>8}  query")
    for text, calls, ms in top.per_query:
        out.append(f"  {calls:>10.2f}  {ms:>8.3f}  {calls * ms:>8.3f}  {text[:70]}")
    return "\n".join(out)


# -- the run --------------------------------------------------------------------------------------

def load_collector(spec: str | None) -> type[PostgresCollector]:
    """PostgresCollector, or a variant to compare: `path/to/file.py:Class` or `module:Class`."""
    if not spec:
        return PostgresCollector
    where, _, name = spec.rpartition(":")
    if where.endswith(".py"):
        import importlib.util
        module_spec = importlib.util.spec_from_file_location("bench_collector_variant", where)
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        import importlib
        module = importlib.import_module(where)
    return getattr(module, name)


async def run_levels(args: argparse.Namespace, cluster: LocalCluster, tables: int, counts: list[int],
                     opened: dict) -> list[Level]:
    opened["holder"] = holder = await SessionHolder.start(cluster, tables)
    opened["monitor"] = monitor = await asyncpg.connect(**cluster.connect_kwargs(database=DATABASE),
                                                        server_settings={"application_name": "bench-monitor"})
    collector_class = load_collector(args.collector)
    opened["collector"] = collector = collector_class(resolve_target(cluster.dsn(user=ROLE, database=DATABASE)))
    await collector.connect()
    await holder.ask(cmd="chain")
    levels = []
    for n in counts:
        t0 = time.perf_counter()
        await holder.ask(cmd="grow", n=n)
        print(f"  {n} idle sessions open ({time.perf_counter() - t0:.1f} s); measuring", file=sys.stderr)
        level = Level(sessions=n)
        await measure(collector, monitor, level, args.snapshots, args.warmup, args.gap_ms / 1000)
        levels.append(level)
    return levels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="50,500,1000",
                        help="idle session counts, ascending (default 50,500,1000)")
    parser.add_argument("--snapshots", type=int, default=30, help="measured snapshots per row (default 30)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured snapshots after each step (default 2)")
    parser.add_argument("--statements", type=int, default=2000, help="distinct statements to create (default 2000)")
    parser.add_argument("--gap-ms", type=float, default=20, help="pause before each timed call (default 20)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile N snapshots with cProfile at the largest session count")
    parser.add_argument("--collector", metavar="FILE.py:CLASS",
                        help="benchmark a variant of PostgresCollector instead (a subclass, for comparisons)")
    parser.add_argument("--hold-sessions", nargs=2, metavar=("KWARGS", "TABLES"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.hold_sessions:
        asyncio.run(hold_sessions(json.loads(args.hold_sessions[0]), int(args.hold_sessions[1])))
        return 0

    counts = sorted(int(x) for x in args.sessions.split(",") if x.strip())
    if counts[-1] + 20 > 1200:
        parser.error("at most 1180 sessions (max_connections is 1200)")
    baseline_rss = peak_rss_mb()
    started = time.perf_counter()
    print(f"starting a cluster with {args.statements} distinct statements ...", file=sys.stderr)
    cluster, tables = setup_cluster(args.statements)
    loop = asyncio.new_event_loop()
    opened: dict = {}
    try:
        print(f"  ready ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
        levels = loop.run_until_complete(run_levels(args, cluster, tables, counts, opened))
        print(render(levels, args, baseline_rss))
        if args.profile:
            gc.collect()
            print(f"\ncProfile of {args.profile} snapshots at {counts[-1]} sessions:")
            print(profile_snapshots(opened["collector"], args.profile, loop))
        print(f"\n(total run time {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        async def cleanup() -> None:
            if "collector" in opened:
                await opened["collector"].close()
            if "monitor" in opened:
                await opened["monitor"].close()
            if "holder" in opened:
                await opened["holder"].stop()
        try:
            loop.run_until_complete(cleanup())
        finally:
            loop.close()
            cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
