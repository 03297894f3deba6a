"""`dbtop snapshot [TARGET]`: take snapshots and print them, one line each (JSON with --json)."""

from __future__ import annotations

import argparse
import asyncio

from ...engines.snapshot import ENGINE_TITLES
from ...findings.wording import clean
from ...profiles.target import TargetError
from .common import TARGET_HELP, add_read_only, add_timeouts, collector_options, connected, fail, make_collector, positive_float, \
    positive_int


def snapshot_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop snapshot",
        description="Take snapshots of TARGET and print them. With --json each snapshot is one line of JSON "
                    "(the same typed model the panels use); rates and per-interval deltas appear from the "
                    "second snapshot on. Without --json each snapshot is one line of text: the time, the target, "
                    "the server's version and role, connections used/max, sessions, blocked sessions, "
                    "transactions per second, statements tracked, and the parts that could not be read.",
        epilog="exit status: 0 every snapshot was taken; 1 the server failed during the run (the snapshots "
               "taken are printed first); 2 bad input or a target that cannot be reached.")
    parser.add_argument("target", nargs="?", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON, one snapshot per line")
    parser.add_argument("--interval", type=positive_float, default=1.0, metavar="S",
                        help="seconds between snapshots (default 1)")
    parser.add_argument("--count", type=positive_int, default=1, metavar="N",
                        help="how many snapshots to take (default 1)")
    add_read_only(parser, "accepted for symmetry: snapshot never changes the server")
    add_timeouts(parser)
    return parser


def run(argv: list[str]) -> int:
    return run_snapshot(snapshot_parser().parse_args(argv))


def run_snapshot(args: argparse.Namespace) -> int:
    from ...engines.errors import ConnectError

    # A one-off snapshot is complete: the catalog is read at once, not after the dashboard's delay.
    options = {**collector_options(args), "catalog_first_after_s": 0}
    try:
        collector, _ = make_collector(args.target, options)
    except (TargetError, ConnectError) as exc:
        return fail(str(exc))

    async def take() -> int:
        nonlocal collector
        try:
            collector = await connected(collector, options)
        except (TargetError, ConnectError) as exc:
            return fail(str(exc))
        try:
            for n in range(args.count):
                if n:
                    await asyncio.sleep(args.interval)
                snap = await collector.snapshot()
                if not snap.reachable:
                    return fail(f"snapshot {n + 1} of {args.count} failed: {snap.error}", status=1)
                if args.json:
                    print(snap.model_dump_json(), flush=True)
                else:
                    print(summary_line(snap), flush=True)
            return 0
        finally:
            await collector.close()

    return asyncio.run(take())


def summary_line(snap) -> str:
    server = snap.server
    role = "standby" if server and server.is_standby else "primary"
    rates = snap.postgres.activity if snap.postgres else None
    tps = f"{rates.transactions_per_s:.1f}" if rates and rates.transactions_per_s is not None else "-"
    unavailable = [f"{name}: {clean(part.reason, 300)}" for name, part in snap.parts.items() if not part.available]
    used = f"≈{snap.connections_used}" if snap.connections_hidden else f"{snap.connections_used}"
    text = (f"{snap.taken_at:%H:%M:%S} {clean(snap.target, 200)} {ENGINE_TITLES.get(snap.engine, snap.engine)} "
            f"{clean(server.version, 40) if server else '?'} {role} "
            f"connections {used}/{server.max_connections if server else '?'} "
            f"sessions {len(snap.sessions)} blocked {snap.blocking.blocked_count} tps {tps} "
            f"statements {len(snap.statements.entries)}")
    manager = snap.postgres.manager if snap.postgres else None
    if manager is not None:
        text += f" managed by {manager.title}"
        if manager.patroni_cluster is not None and manager.patroni_cluster.paused:
            text += " (paused)"
    return text + ("" if not unavailable else "  [" + "; ".join(unavailable) + "]")
