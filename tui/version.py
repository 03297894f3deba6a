"""dbtop's version, as its installed package says: read only when asked. Reading it scans the
installed distributions (~20 ms), which no start of the dashboard should pay for."""

from __future__ import annotations

import argparse


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("dbtop")
    except PackageNotFoundError:
        return "unknown"


class PrintVersion(argparse.Action):
    """`--version`: argparse's own version action, with the version looked up when it is given."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"dbtop {package_version()}")
        parser.exit()
