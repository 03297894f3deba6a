"""`dbtop demo`: build a throwaway PostgreSQL with the demo database, start its workload, open
the dashboard on it, and remove everything on the way out.

Cleanup covers a normal exit, Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal), and a crash, by a
try/finally around everything. A SIGKILL leaves no chance to clean up; for that the workload
subprocess is also the guardian: started first, it sees its parent disappear and removes the
cluster itself.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from .common import add_read_only, add_theme, positive_float, positive_int

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class DemoStopped(Exception):
    """A signal asked the demo to stop."""


def progress(message: str) -> None:
    # The terminal may be gone (SIGHUP): cleanup goes on without it.
    with suppress(OSError, ValueError):
        print(f"dbtop demo: {message}", file=sys.stderr, flush=True)


class StopRequests:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP end the demo. While the app runs, the first one asks it
    to exit (so it restores the terminal); otherwise, or on a second signal, DemoStopped unwinds
    whatever is running into the cleanup. SIGINT is handled explicitly because a process started
    in the background by a shell inherits it ignored, and Python then never raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.app = None
        self.requested = False

    def __call__(self, signum: int, frame) -> None:
        if self.app is not None and not self.requested:
            self.requested = True
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_soon_threadsafe(self.app.exit)
                return
        raise DemoStopped(signal.Signals(signum).name)


@contextmanager
def signals_handled_by(handler) -> Iterator[None]:
    previous = {sig: signal.signal(sig, handler) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_ignored() -> Iterator[None]:
    """Cleanup must finish even when an impatient operator presses Ctrl-C again."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def demo_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbtop demo",
        description="Start a throwaway PostgreSQL in a temporary directory, load an analytics schema with "
                    "a million-row table, run a background workload (active and idle-in-transaction sessions, "
                    "a lock chain, slow statements), plant the problems an audit finds, and open the dashboard "
                    "on it. Everything is removed on exit.")
    parser.add_argument("--rows", type=positive_int, default=1_000_000, metavar="N",
                        help="rows in post_metrics (default 1000000)")
    parser.add_argument("--no-app", action="store_true",
                        help="build the demo, print its connection string, and keep it running until Ctrl-C")
    parser.add_argument("--interval", type=positive_float, default=2.0, metavar="S",
                        help="seconds between refreshes (default 2)")
    add_read_only(parser, "no action can be started from the dashboard")
    add_theme(parser)
    return parser


def run(argv: list[str]) -> int:
    args = demo_parser().parse_args(argv)
    if not args.no_app:
        from ..terminal import limit_colours, missing_terminal

        problem = missing_terminal()
        if problem is not None:
            print(f"dbtop: {problem}; or 'dbtop demo --no-app'", file=sys.stderr)
            return 2
        limit_colours()
    return run_demo(args)


def run_demo(args: argparse.Namespace) -> int:
    # The demo is the one command that imports its engine directly (DESIGN.md).
    from ...engines.postgres.cluster import ClusterError, LocalCluster, ServerBinariesMissing
    from ...engines.postgres.demo.build import DEMO_DATABASE, build_demo, wait_for_lock_chain
    from ...engines.postgres.demo.workload import WorkloadProcess

    try:
        cluster = LocalCluster()
    except ServerBinariesMissing as exc:
        print(f"dbtop: {exc}", file=sys.stderr)
        return 2
    stop_requests = StopRequests()
    dsn = cluster.dsn(database=DEMO_DATABASE)
    workload = WorkloadProcess(dsn, cluster.base_dir, log_path=cluster.base_dir / "workload.log")
    started = time.monotonic()
    try:
        with signals_handled_by(stop_requests):
            # The guardian first: from here on a SIGKILL of this process still removes the cluster.
            workload.spawn()
            build_demo(args.rows, progress, cluster=cluster)
            progress("starting the workload (api, worker, reporting and scheduler sessions)…")
            workload.start()
            progress("waiting for the workload's lock chain to form…")
            if not wait_for_lock_chain(cluster):
                progress("the lock chain has not formed yet; it will appear shortly")
            progress(f"ready in {time.monotonic() - started:.1f} s")
            if args.no_app:
                return serve_until_stopped(dsn)
            return run_app(dsn, args, stop_requests)
    except (KeyboardInterrupt, DemoStopped):
        return 0
    except ClusterError as exc:
        print(f"dbtop: the demo cluster failed: {exc}", file=sys.stderr)
        return 1
    finally:
        with signals_ignored():
            progress("stopping the workload…")
            workload.stop()
            progress(f"removing the cluster and {cluster.base_dir}…")
            cluster.destroy()
            progress("done")


def serve_until_stopped(dsn: str) -> int:
    print(dsn, flush=True)
    progress(f'connect with: dbtop "{dsn}"  (or psql "{dsn}"); Ctrl-C stops the demo and removes it')
    while True:
        time.sleep(3600)


def run_app(dsn: str, args: argparse.Namespace, stop_requests: StopRequests) -> int:
    """The dashboard on the demo database, held by `stop_requests` so that SIGTERM and SIGHUP can
    ask it to exit and restore the terminal."""
    from ...engines.errors import ConnectError
    from ...engines.registry import collector_for
    from ...profiles.target import resolve_target
    from ..app import run_dashboard
    from ..terminal import watch_input

    def started(app) -> None:
        stop_requests.app = app
        watch_input(app)

    try:
        run_dashboard(collector_for(resolve_target(dsn)), args.interval, theme_name=getattr(args, "theme", None), read_only=args.read_only,
                      on_start=started)
    except ConnectError as exc:
        print(f"dbtop: {exc}", file=sys.stderr)
        return 2
    finally:
        stop_requests.app = None
    return 0
